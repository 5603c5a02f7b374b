"""Streaming session streams: CreateStreamingSessionStream, GetStreamingSessionStream, and the
URL they hand out.

A stream is created for a READY session: CREATE_IN_PROGRESS -> READY (STREAM_READY), with a
``url`` and ``expiresAt`` = creation + ``expirationInSeconds`` (60-3600, default 120
[inferred]). The URL points at greenroom (``ctx.public_url``, how the caller reached it):
``GET {base}/_greenroom/nimble/streams/{region}/{account}/{streamId}?token=...`` answers the
stream's connection details while the stream is READY, unexpired and its session READY, and
403 (expired or wrong token), 404 or 409 (session not READY) otherwise. At ``expiresAt`` the
stream becomes DELETED (STREAM_DELETED), as it does when its session is stopped or deleted
[inferred].
"""
from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from ...core import public_url
from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.lifecycle import Step
from ...core.operations import operation
from ...core.routes import HttpError, http_route
from .common import (MISSING, SESSION_STREAM, SESSION_STREAM_RECORD, STREAMING_SESSION, TOKEN_REUSED, caller,
    errors, failed, find_studio, insert, key, new_id, require_state, status, take_fault)
from .streaming_sessions import find_session

DEFAULT_EXPIRATION_SECONDS = 120
URL_PATH = "/_greenroom/nimble/streams/{region}/{account}/{streamId}"

# A stream's lifecycle (core.lifecycle.Step); it expires at its expiresAt.
READY = Step("CREATE_IN_PROGRESS", {"state": "READY", **status("STREAM_READY")},
             delay="nimble.streaming_session_stream.create")
EXPIRED = Step("READY", {"state": "DELETED", **status("STREAM_DELETED", "The stream has expired")})


@operation("nimble", "CreateStreamingSessionStream")
@idempotent("clientToken", TOKEN_REUSED)
def create_streaming_session_stream(ctx: RequestContext, req: dict) -> dict:
    studio_id, session_id = req["studioId"], req["sessionId"]
    session = find_session(ctx, studio_id, session_id)
    require_state(session, "streaming session", session_id, {"READY"}, "stream")
    stream_id = new_id(ctx)
    lifetime = req.get("expirationInSeconds") or DEFAULT_EXPIRATION_SECONDS
    secret = ctx.ids.alphanumeric(32)
    path = URL_PATH.format(region=ctx.region, account=ctx.account, streamId=stream_id)
    stream = {
        "streamId": stream_id, "createdAt": ctx.now, "createdBy": caller(ctx),
        "ownedBy": session["ownedBy"], "expiresAt": ctx.now + lifetime,
        "state": "CREATE_IN_PROGRESS", **status("STREAM_CREATE_IN_PROGRESS"),
        "_secret": secret, "_studioId": studio_id, "_sessionId": session_id, "_rev": 1,
    }
    stream_key = key(studio_id, session_id, stream_id)
    insert(ctx, SESSION_STREAM, stream_key, stream, parent=key(studio_id, session_id))
    failure = take_fault(ctx, "CreateStreamingSessionStream")
    ready_at = READY.schedule(ctx, SESSION_STREAM, stream_key, stream, set=failed(failure, "CREATE_FAILED") or {
        "url": ctx.public_url(f"{path}?token={secret}")})
    if not failure:
        EXPIRED.schedule(ctx, SESSION_STREAM, stream_key, stream, at=max(ready_at, stream["expiresAt"]))
    return {"stream": SESSION_STREAM_RECORD.view(stream)}


@operation("nimble", "GetStreamingSessionStream", read_only=True)
def get_streaming_session_stream(ctx: RequestContext, req: dict) -> dict:
    studio_id, session_id, stream_id = req["studioId"], req["sessionId"], req["streamId"]
    find_studio(ctx, studio_id)
    find_session(ctx, studio_id, session_id)
    stream = ctx.resources.get(SESSION_STREAM, key(studio_id, session_id, stream_id))
    if stream is None:
        raise errors.ResourceNotFound(MISSING.format("streaming session stream", stream_id), resourceId=stream_id, sessionId=session_id)
    return {"stream": SESSION_STREAM_RECORD.view(stream)}


@http_route("GET", URL_PATH)
def connect(emulator, request, region: str, account: str, streamId: str):
    """What a streaming client gets from a stream URL: the stream's connection details."""
    token = (parse_qs(request.query_string).get("token") or [""])[-1]
    with emulator.context("nimble", "ConnectStream", account, region, public_url.base_url(request)) as ctx:
        found = ctx.resources.list(SESSION_STREAM, where={"streamId": streamId}, limit=1)
        if not found:
            raise HttpError(404, f"Stream {streamId} does not exist.")
        stream = found[0][1]
        if not hmac.compare_digest(token, stream["_secret"]):
            raise HttpError(403, "The stream URL's token is not valid.")
        if ctx.now >= stream["expiresAt"] or stream["state"] == "DELETED":
            raise HttpError(403, f"The stream URL expired at {stream['expiresAt']:.0f} (epoch seconds).")
        if stream["state"] != "READY":
            raise HttpError(409, f"Stream {streamId} is {stream['state']}.")
        session = ctx.resources.get(STREAMING_SESSION, key(stream["_studioId"], stream["_sessionId"]))
        if session is None or session["state"] != "READY":
            raise HttpError(409, f"Streaming session {stream['_sessionId']} is not READY.")
        return {
            "streamId": streamId, "sessionId": session["sessionId"], "studioId": stream["_studioId"],
            "ownedBy": session["ownedBy"], "ec2InstanceType": session["ec2InstanceType"],
            "streamingImageId": session["streamingImageId"], "expiresAt": stream["expiresAt"],
            "connected": True,
        }
