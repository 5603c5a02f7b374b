"""Stream URLs: CreateStreamUrl (201), GetStreamUrl, ListStreamUrls, RevokeStreamUrl (204),
and the URL itself, served by greenroom.

A stream URL starts stream sessions of one application in one stream group, up to UsageLimit
times (default 1) until UrlExpiresAfterMinutes after creation. Statuses (the model's):
ACTIVE; EXPIRED when the expiry passes (a transition on the clock); LIMIT_REACHED when the
last use starts a session; REVOKED by RevokeStreamUrl (StatusReason userRevoked, or with
REVOKE_AND_TERMINATE_SESSIONS revokedAndTerminatingSessions, then
revokedAndSessionsTerminated once its sessions have ended) or when its stream group or
application is deleted (streamGroupDeleted / applicationDeleted, seen by Get and List as the
documentation says).

The URL points at greenroom (``ctx.public_url``, how the caller reached it):
``<base>/_greenroom/gameliftstreams/streamurls/<region>/<account>/<stream URL id>?key=<secret>``.
A GET uses it: it starts a stream session with the URL's settings (SignalRequest
NO_CLIENT_CONNECTION, so a browser peer connects with CreateStreamSessionConnection, as the Web
SDK's flow after a backend started the session [inferred]) and answers the session's ARN. A URL
that is not ACTIVE answers 403 with its status; a wrong key 404 [inferred].

[inferred] rules: the stream group must be ACTIVE and the application READY and associated
with it (as for StartStreamSession); the same ClientToken with the same parameters answers the
same URL; revoking a URL that is no longer ACTIVE makes it REVOKED too (revocation is
permanent); a revoked URL is revoked again without change.
"""
from __future__ import annotations

import secrets
from urllib.parse import quote

from ...core import public_url
from ...core.context import RequestContext
from ...core.idempotency import current, idempotent
from ...core.operations import operation
from ...core.records import Record
from ...core.routes import HttpError, http_route
from .common import (APPLICATION, DEFAULT_PAGE_SIZE, SERVICE, SESSION, STREAM_GROUP, errors,
    find_application, find_in_group, find_stream_group, resource_id)
from .session_lifecycle import FINAL, TERMINATE, end_session, set_status
from .stream_sessions import describe as describe_session, start_stream_session

STREAM_URL = "gameliftstreams:streamurl"
DEFAULT_USAGE_LIMIT = 1
DEFAULT_SESSION_LENGTH_SECONDS = 43200
SETTINGS = ("Description", "AdditionalLaunchArgs", "AdditionalEnvironmentVariables", "RoleArn",
            "DisplayConfiguration")
STREAM_URL_RECORD = Record(STREAM_URL, private=("_id", "_group_id", "_app_id", "_secret", "_sessions"), summary=(
    "Arn", "StreamUrlId", "StreamUrl", "Status", "StatusReason", "ExpiresAt", "CreatedAt", "UsageLimit",
    "RemainingUses", "StreamGroupArn", "ApplicationArn", "Description"), tags_shown=False)


def url_for(ctx: RequestContext, url_id: str, secret: str) -> str:
    return ctx.public_url(f"/_greenroom/gameliftstreams/streamurls/{ctx.region}/{ctx.account}/{url_id}"
                          f"?key={quote(secret)}")


@operation(SERVICE, "CreateStreamUrl")
@idempotent("ClientToken", errors.Conflict,
            replay=current(STREAM_URL, lambda first: first["StreamUrlId"], lambda ctx, document: describe(ctx, document)))
def create_stream_url(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    if group["Status"] != "ACTIVE":
        raise errors.Validation(f"Stream group {group['Id']} is {group['Status']}; it must be ACTIVE.")
    app = find_application(ctx, req["ApplicationIdentifier"])
    if app["Arn"] not in group["AssociatedApplications"]:
        raise errors.Validation(f"Application {app['Id']} is not associated with stream group {group['Id']}.")
    if app["Status"] != "READY":
        raise errors.Validation(f"Application {app['Id']} is {app['Status']}; it must be READY.")
    group_locations = [location["LocationName"] for location in group["_locations"]]
    for name in req["Locations"]:
        if name not in group_locations:
            raise errors.Validation(f"Location {name} is not a location of stream group {group['Id']}.")
    url_id = "su-" + ctx.ids.alphanumeric(9)
    secret = secrets.token_urlsafe(24)
    usage_limit = req.get("UsageLimit", DEFAULT_USAGE_LIMIT)
    expires_at = ctx.now + req["UrlExpiresAfterMinutes"] * 60
    document = {
        "Arn": ctx.arn(SERVICE, f"streamurl/{group['Id']}/{url_id}"),
        "StreamUrlId": url_id,
        "StreamUrl": url_for(ctx, url_id, secret),
        "Status": "ACTIVE",
        "ExpiresAt": expires_at,
        "CreatedAt": ctx.now,
        "UsageLimit": usage_limit,
        "RemainingUses": usage_limit,
        "StreamGroupArn": group["Arn"],
        "ApplicationArn": app["Arn"],
        "Protocol": req["Protocol"],
        "Locations": list(dict.fromkeys(req["Locations"])),
        "SessionLengthSeconds": req.get("SessionLengthSeconds", DEFAULT_SESSION_LENGTH_SECONDS),
        "_secret": secret,
        "_group_id": group["Id"],
        "_app_id": app["Id"],
        "_sessions": [],
    }
    for name in SETTINGS:
        if name in req:
            document[name] = req[name]
    ctx.resources.insert(STREAM_URL, url_id, document, parent=group["Id"])
    ctx.schedule_at(expires_at, STREAM_URL, url_id, action="update",
                    expect={"Status": "ACTIVE"}, set={"Status": "EXPIRED"})
    return describe(ctx, document)


def refresh(ctx: RequestContext, document: dict) -> dict:
    """Revoked once its stream group or application is gone; revokedAndSessionsTerminated once
    the sessions a REVOKE_AND_TERMINATE_SESSIONS revocation ended are over."""
    reason = None
    if ctx.resources.get(STREAM_GROUP, document["_group_id"]) is None:
        reason = "streamGroupDeleted"
    elif ctx.resources.get(APPLICATION, document["_app_id"]) is None:
        reason = "applicationDeleted"
    if reason and document["Status"] != "REVOKED":
        document.update(Status="REVOKED", StatusReason=reason)
        ctx.resources.update(STREAM_URL, document["StreamUrlId"], document)
    elif document.get("StatusReason") == "revokedAndTerminatingSessions" and all(
            session is None or session["Status"] in FINAL for session in _sessions(ctx, document)):
        document["StatusReason"] = "revokedAndSessionsTerminated"
        ctx.resources.update(STREAM_URL, document["StreamUrlId"], document)
    return document


def _sessions(ctx: RequestContext, document: dict) -> list[dict | None]:
    return [ctx.resources.get(SESSION, session_id) for session_id in document["_sessions"]]


def describe(ctx: RequestContext, document: dict) -> dict:
    return STREAM_URL_RECORD.view(document)


def summary(document: dict) -> dict:
    return STREAM_URL_RECORD.brief(document)


def find_stream_url(ctx: RequestContext, group: dict, identifier: str) -> dict:
    """By id (su-...) or ARN (.../streamurl/<group id>/<id>), in this stream group."""
    return find_in_group(ctx, group, identifier, STREAM_URL, "streamurl", "_group_id", "Stream URL")


@operation(SERVICE, "GetStreamUrl")
def get_stream_url(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    document = refresh(ctx, find_stream_url(ctx, group, req["StreamUrlIdentifier"]))
    return {**describe(ctx, document),
            "StreamSessions": [describe_session(s) for s in _sessions(ctx, document) if s is not None]}


@operation(SERVICE, "ListStreamUrls")
def list_stream_urls(ctx: RequestContext, req: dict) -> dict:
    where, parent = {}, None
    if req.get("Status"):
        where["Status"] = req["Status"]
    if req.get("StreamGroupIdentifier"):
        parent = resource_id(ctx, req["StreamGroupIdentifier"], "streamgroup") or "-"
    for _, document in ctx.resources.list(STREAM_URL, parent=parent):
        refresh(ctx, document)  # statuses a deletion changed, before filtering by status
    return ctx.list_answer(STREAM_URL, req, default_size=DEFAULT_PAGE_SIZE, view=summary, parent=parent,
                           where=where, filters={"group": parent, **where})


@operation(SERVICE, "RevokeStreamUrl")
def revoke_stream_url(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    document = refresh(ctx, find_stream_url(ctx, group, req["StreamUrlIdentifier"]))
    if document["Status"] == "REVOKED":
        return {}
    document["Status"] = "REVOKED"
    if req.get("RevocationMode") == "REVOKE_AND_TERMINATE_SESSIONS":
        document["StatusReason"] = "revokedAndTerminatingSessions"
        for session in _sessions(ctx, document):
            if session is None or session["Status"] in FINAL + ("TERMINATING",):
                continue
            if session["Status"] == "ACTIVATING":
                # Not placed yet (or placing): it ends at once [inferred].
                end_session(ctx, session, "TERMINATED", "apiTerminated")
                continue
            set_status(session, "TERMINATING", ctx.now)
            ctx.resources.update(SESSION, session["_id"], session)
            TERMINATE.schedule(ctx, SESSION, session["_id"], session)
    else:
        document["StatusReason"] = "userRevoked"
    ctx.resources.update(STREAM_URL, document["StreamUrlId"], document)
    return {}


# --------------------------------------------------------------------------- using the URL

def use_stream_url(emulator, region: str, account: str, url_id: str, key: str, base_url: str = "") -> dict:
    """What opening the URL does: one use, one stream session (see the module docstring)."""
    with emulator.context(SERVICE, "StreamUrlUse", account, region, base_url) as ctx:
        document = ctx.resources.get(STREAM_URL, url_id)
        if document is None or not secrets.compare_digest(document["_secret"], key):
            raise HttpError(404, "This stream URL does not exist.")
        document = refresh(ctx, document)
        if document["Status"] != "ACTIVE":
            raise HttpError(403, f"This stream URL is {document['Status']}"
                                 + (f" ({document['StatusReason']})" if document.get("StatusReason") else "")
                                 + " and can no longer start stream sessions.")
        request = {"Identifier": document["_group_id"], "ApplicationIdentifier": document["_app_id"],
                   "Protocol": document["Protocol"], "SignalRequest": "NO_CLIENT_CONNECTION",
                   "Locations": document["Locations"], "SessionLengthSeconds": document["SessionLengthSeconds"]}
        for name in ("AdditionalLaunchArgs", "AdditionalEnvironmentVariables", "RoleArn", "DisplayConfiguration"):
            if name in document:
                request[name] = document[name]
        try:
            session = start_stream_session(ctx, request)
        except Exception as error:  # ServiceError: the group or application is not usable now
            raise HttpError(409, getattr(error, "message", str(error))) from None
        document["_sessions"].append(session["Arn"].rsplit("/", 1)[1])
        document["RemainingUses"] -= 1
        if document["RemainingUses"] == 0:
            document["Status"] = "LIMIT_REACHED"
        ctx.resources.update(STREAM_URL, url_id, document)
        return {"StreamSessionArn": session["Arn"], "Status": session["Status"],
                "RemainingUses": document["RemainingUses"], "StreamUrlStatus": document["Status"]}


@http_route("GET", "/_greenroom/gameliftstreams/streamurls/{region}/{account}/{url_id}")
def stream_url_route(emulator, request, region: str, account: str, url_id: str):
    key = request.query().get("key", [""])[0]
    return use_stream_url(emulator, region, account, url_id, key, public_url.base_url(request))
