"""Studio members: PutStudioMembers, GetStudioMember, ListStudioMembers, DeleteStudioMember.

A member is an IAM Identity Center principal (user or group id) of an identity store with a
persona; the only studio persona is ADMINISTRATOR (model enum). Putting a member that exists
replaces its persona and identity store. ``sid`` (the principal's Active Directory security
identifier) is not known to greenroom and never answered [inferred].
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.operations import operation
from .common import (MISSING, STUDIO_MEMBER, STUDIO_MEMBER_RECORD, TOKEN_REUSED, errors, find_studio, insert,
    key, page_size, save, usable_studio)

PAGE_SIZE_LIMIT = 20  # the most a StudioMembershipList holds


def unique_principals(members: list[dict]) -> None:
    principals = [member["principalId"] for member in members]
    repeated = sorted({p for p in principals if principals.count(p) > 1})
    if repeated:
        raise errors.Validation(f"members names principal {repeated[0]} more than once.", code="DUPLICATE_MEMBER")


@operation("nimble", "PutStudioMembers")
@idempotent("clientToken", TOKEN_REUSED)
def put_studio_members(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    usable_studio(ctx, studio_id)
    unique_principals(req["members"])
    for member in req["members"]:
        member_key = key(studio_id, member["principalId"])
        document = {"principalId": member["principalId"], "persona": member["persona"],
                    "identityStoreId": req["identityStoreId"]}
        existing = ctx.resources.get(STUDIO_MEMBER, member_key)
        if existing is None:
            insert(ctx, STUDIO_MEMBER, member_key, document, parent=studio_id)
        else:
            save(ctx, STUDIO_MEMBER, member_key, {**existing, **document})
    return {}


def find_member(ctx: RequestContext, studio_id: str, principal_id: str) -> dict:
    find_studio(ctx, studio_id)
    member = ctx.resources.get(STUDIO_MEMBER, key(studio_id, principal_id))
    if member is None:
        raise errors.ResourceNotFound(MISSING.format("studio member", principal_id), resourceId=principal_id, studioId=studio_id)
    return member


STUDIO_MEMBER_RECORD.get_operation("nimble", "GetStudioMember", "member",
                                   lambda ctx, req: find_member(ctx, req["studioId"], req["principalId"]))


@operation("nimble", "ListStudioMembers", read_only=True)
def list_studio_members(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    return ctx.list_answer(STUDIO_MEMBER, req, view=STUDIO_MEMBER_RECORD.view,
                           page_size=page_size(req, PAGE_SIZE_LIMIT, PAGE_SIZE_LIMIT), parent=studio_id,
                           filters={"studioId": studio_id})


@operation("nimble", "DeleteStudioMember")
@idempotent("clientToken", TOKEN_REUSED)
def delete_studio_member(ctx: RequestContext, req: dict) -> dict:
    studio_id, principal_id = req["studioId"], req["principalId"]
    usable_studio(ctx, studio_id)
    find_member(ctx, studio_id, principal_id)
    ctx.resources.delete(STUDIO_MEMBER, key(studio_id, principal_id))
    return {}
