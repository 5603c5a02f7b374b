"""EULAs (a built-in catalogue) and their acceptance by studios: GetEula, ListEulas,
AcceptEulas, ListEulaAcceptances.

The catalogue is greenroom's: the nine EULAs Nimble Studio listed for the software on its own
streaming images (ids, names, license URLs and dates as the service reported them). EULAs are
global, not per account. A studio must accept every EULA an image lists in ``eulaIds`` before
sessions can be launched from it (see ``streaming_sessions``).
"""
from __future__ import annotations

import datetime as dt

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.operations import operation
from .common import (EULA_ACCEPTANCE, EULA_ACCEPTANCE_RECORD, MISSING, TOKEN_REUSED, caller, errors,
    find_studio, insert, key, new_id, usable_studio)


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()


# (eulaId, name, content, created/updated) — the content of a Nimble EULA is its license URL.
CATALOGUE = [
    {"eulaId": eula_id, "name": name, "content": content, "createdAt": _at(when), "updatedAt": _at(when)}
    for eula_id, name, content, when in (
        ("gJZLygd-Srq_5NNbSfiaLg", "Mozilla-FireFox", "https://www.mozilla.org/en-US/MPL/2.0/", "2021-04-20T16:45:23"),
        ("RvoNmVXiSrS4LhLTb6ybkw", "Thinkbox-Deadline", "https://www.awsthinkbox.com/end-user-license-agreement", "2021-04-20T16:45:24"),
        ("Rl-J0fM5Sl2hyIiwWIV6hw", "Videolan-VLC", "https://www.videolan.org/legal.html", "2021-04-20T16:45:24"),
        ("ggK2eIw6RQyt8PIeeOlD3g", "Microsoft-VSCode", "https://code.visualstudio.com/license", "2021-04-20T16:45:23"),
        ("wtp85BcSTa2NZeNRnMKdjw", "DJV-DJV", "https://darbyjohnston.github.io/DJV/legal.html#License", "2021-04-20T16:45:23"),
        ("uu2VDLo-QJeIGWWLBae_UA", "SideFX-Houdini", "https://www.sidefx.com/legal/license-agreement/", "2021-04-20T16:45:24"),
        ("L0HS4P3CRYKVXc2J2LO7Vw", "ChaosGroup-Vray", "https://www.chaosgroup.com/eula", "2021-04-20T16:45:23"),
        ("SAuhfHmmSAeUuq3wsMiMlw", "Foundry-Nuke", "https://www.foundry.com/eula", "2021-04-20T16:45:23"),
        ("a-D9Wc0VQCKUfxAinCDxaw", "BlenderFoundation-Blender", "https://download.blender.org/release/GPL3-license.txt", "2021-04-20T16:45:23"),
    )
]
EULAS_BY_ID = {eula["eulaId"]: eula for eula in CATALOGUE}

# The EULAs of the software on Nimble's own Windows and Linux streaming images.
BUILT_IN_IMAGE_EULA_IDS = [
    "gJZLygd-Srq_5NNbSfiaLg", "ggK2eIw6RQyt8PIeeOlD3g", "a-D9Wc0VQCKUfxAinCDxaw",
    "RvoNmVXiSrS4LhLTb6ybkw", "wtp85BcSTa2NZeNRnMKdjw", "Rl-J0fM5Sl2hyIiwWIV6hw",
]

LIST_PAGE_SIZE = 10  # ListEulas / ListEulaAcceptances have no maxResults [inferred]


def accepted_eula_ids(ctx: RequestContext, studio_id: str) -> set[str]:
    return {a["eulaId"] for _, a in ctx.resources.list(EULA_ACCEPTANCE, parent=studio_id)}


@operation("nimble", "GetEula", read_only=True)
def get_eula(ctx: RequestContext, req: dict) -> dict:
    eula = EULAS_BY_ID.get(req["eulaId"])
    if eula is None:
        raise errors.ResourceNotFound(MISSING.format("EULA", req["eulaId"]), resourceId=req["eulaId"])
    return {"eula": eula}


@operation("nimble", "ListEulas", read_only=True)
def list_eulas(ctx: RequestContext, req: dict) -> dict:
    """All EULAs, or those named in ``eulaIds`` (unknown ids are simply not listed)."""
    wanted = req.get("eulaIds") or None
    chosen = [(index, eula) for index, eula in enumerate(CATALOGUE)
              if wanted is None or eula["eulaId"] in wanted]
    page = ctx.page(
        filters={"eulaIds": sorted(wanted) if wanted else None},
        token=req.get("nextToken"), page_size=LIST_PAGE_SIZE,
        fetch=lambda after, limit: [row for row in chosen if after is None or row[0] > after][:limit],
    )
    return {"eulas": page.items, "nextToken": page.next_token}


@operation("nimble", "AcceptEulas")
@idempotent("clientToken", TOKEN_REUSED)
def accept_eulas(ctx: RequestContext, req: dict) -> dict:
    """Accept EULAs for a studio. Accepting one already accepted answers the existing
    acceptance instead of recording a second one [inferred]."""
    studio_id = req["studioId"]
    usable_studio(ctx, studio_id)
    eula_ids = req.get("eulaIds") or []
    if not eula_ids:
        raise errors.Validation("eulaIds must name at least one EULA to accept.", code="MISSING_EULA_IDS")
    unknown = [eula_id for eula_id in eula_ids if eula_id not in EULAS_BY_ID]
    if unknown:
        raise errors.ResourceNotFound(MISSING.format("EULA", unknown[0]), resourceId=unknown[0])
    existing = {a["eulaId"]: a for _, a in ctx.resources.list(EULA_ACCEPTANCE, parent=studio_id)}
    acceptances = []
    for eula_id in dict.fromkeys(eula_ids):  # keep order, drop repeats
        acceptance = existing.get(eula_id)
        if acceptance is None:
            acceptance = {
                "eulaAcceptanceId": new_id(ctx), "eulaId": eula_id, "accepteeId": studio_id,
                "acceptedBy": caller(ctx), "acceptedAt": ctx.now,
            }
            insert(ctx, EULA_ACCEPTANCE, key(studio_id, acceptance["eulaAcceptanceId"]), acceptance,
                   parent=studio_id)
        acceptances.append(acceptance)
    return {"eulaAcceptances": [EULA_ACCEPTANCE_RECORD.view(acceptance) for acceptance in acceptances]}


@operation("nimble", "ListEulaAcceptances", read_only=True)
def list_eula_acceptances(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    wanted = set(req.get("eulaIds") or [])
    return ctx.list_answer(EULA_ACCEPTANCE, req, view=EULA_ACCEPTANCE_RECORD.view, page_size=LIST_PAGE_SIZE,
                           parent=studio_id, keep=lambda a: not wanted or a["eulaId"] in wanted,
                           filters={"studioId": studio_id, "eulaIds": sorted(wanted) or None})
