"""WHIP (draft-ietf-wish-whip-04) as the IVS client SDKs speak it, on the token's ``whip_url``:

    POST   {whip_url}/publish/{participantId}          offer -> 201 answer: publish
    POST   {whip_url}/subscribe/{remoteParticipantId}  offer -> 201 answer: subscribe
    DELETE {whip_url}/sessions/{resourceId}            (the Location) -> 200: stop
    POST   {whip_url}/sessions/{resourceId}            the session-delete Link (``sendBeacon``
                                                       on unload, body ``{"authorization": jwt}``)

Requests carry ``Authorization: Bearer <participant token>`` and ``Content-Type:
application/sdp``; ``X-Stages-*`` headers are accepted and ignored. The offer needs no
candidates: the answer carries greenroom's (host candidates, no trickle). Success is 201 with
the SDP answer, ``Location`` and ``Link: <...>; rel="urn:ietf:params:whip:ivs-stages:session-delete"``.

Publishing and subscribing go through ``client_actions`` (PUBLISH_STARTED, SUBSCRIBE_STARTED,
PUBLISH_ERROR/SUBSCRIBE_ERROR with their codes); a participant not connected over the events
WebSocket joins with its first WHIP request and leaves when its last WHIP session ends ([inferred]
as for WHIP-only encoders such as OBS). Media: ``greenroom.media.sfu`` (relayed as published);
recorded by ``recording_media`` when the stage records participants.

Errors are JSON ``{"code": N, "message": ...}`` with the codes the SDK maps:

    400 2001  not an SDP offer; a malformed request
    400 2014  no codec in common (a subscriber that cannot take what the publisher sends)
    401 2001  the token is invalid (not a JWT, bad signature, unknown key) [inferred status]
    401 2002  the token expired
    403 2003  the token does not allow it, or the participant was revoked
    403 2005  the stage is at capacity (publishers_per_stage, participants) [inferred status]
    404 2004  the remote participant publishes nothing here
    404 2001  no such stage, session or resource
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets

from ...core.routes import http_route
from ...media import rtc
from ...media.rtc import NegotiationError, NoMatchingCodec
from ...protocol.http import HttpResponse
from . import client_actions, live as live_connections, recording_media
from .common import ROUTE_PREFIX, STAGE, SERVICE
from .stage_socket import claims_of, client_of
from .tokens import TokenRefused

log = logging.getLogger("greenroom.ivs_realtime")

WHIP_PREFIX = f"{ROUTE_PREFIX}/whip/{{whipId}}"
SESSION_DELETE_REL = "urn:ietf:params:whip:ivs-stages:session-delete"
MAX_OFFER_BYTES = 64 * 1024

# client_actions / token refusal codes -> (HTTP status, WHIP error code).
REFUSALS = {
    "TOKEN_EXPIRED": (401, 2002),
    "INVALID_TOKEN": (401, 2001),
    "INVALID_SIGNATURE": (401, 2001),
    "UNKNOWN_KEY": (401, 2001),
    "TOKEN_REVOKED": (403, 2003),
    "INSUFFICIENT_CAPABILITIES": (403, 2003),
    "QUOTA_EXCEEDED": (403, 2005),
    "PUBLISHER_NOT_FOUND": (404, 2004),
    "STAGE_NOT_FOUND": (404, 2001),
    "STAGE_MISMATCH": (403, 2003),
    "INVALID_INPUT": (400, 2001),
}


class WhipError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: int, message: str) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json"},
                        json.dumps({"code": code, "message": message}).encode())


def _refused(error) -> WhipError:
    status, code = REFUSALS.get(error.code, (400, 2001))
    return WhipError(status, code, error.message)


async def _read(body) -> bytes:
    data = bytearray()
    async for chunk in body:
        data += chunk
        if len(data) > MAX_OFFER_BYTES:
            raise WhipError(400, 2001, f"The offer is larger than {MAX_OFFER_BYTES} bytes")
    return bytes(data)


def _bearer(request, body: bytes = b"") -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    try:  # the session-delete beacon carries the token in its body
        found = json.loads(body or b"{}").get("authorization")
    except (ValueError, AttributeError):
        found = None
    if isinstance(found, str) and found:
        return found.removeprefix("Bearer ").strip()
    raise WhipError(401, 2001, "WHIP requests need Authorization: Bearer <participant token>")


async def _participant(emulator, request, whip_id: str, token: str):
    """The token's live participant (joined now if it is not connected here yet)."""
    try:
        claims = await asyncio.to_thread(claims_of, emulator, token)
    except TokenRefused as error:
        raise _refused(error) from None
    if not await asyncio.to_thread(_stage_has_whip_id, emulator, claims, whip_id):
        raise WhipError(404, 2001, f"The token is not for the stage of this WHIP endpoint ({whip_id})")
    live = live_connections.find(claims.account, claims.region, claims.stage_id, claims.participant_id)
    if live is None:
        try:
            live = await live_connections.join(emulator, token, claims, client=client_of(request), has_socket=False)
        except client_actions.ClientActionError as error:
            raise _refused(error) from None
    return live, claims


async def _offer_of(emulator, request, body, whip_id: str):
    """(offer, live participant, token claims) of a publish or subscribe request."""
    offer = (await _read(body)).decode("utf-8", "replace")
    live, claims = await _participant(emulator, request, whip_id, _bearer(request))
    return offer, live, claims


def _stage_has_whip_id(emulator, claims, whip_id: str) -> bool:
    with emulator.context(SERVICE, "WhipEndpoint", claims.account, claims.region) as ctx:
        stage = ctx.resources.get(STAGE, claims.stage_id)
        return stage is not None and stage["_"].get("whipId") == whip_id


def _created(request, whip_id: str, resource: str, answer: str) -> HttpResponse:
    location = f"{ROUTE_PREFIX}/whip/{whip_id}/sessions/{resource}"
    return HttpResponse(201, {
        "Content-Type": "application/sdp",
        "Location": location,
        "Link": f'<{location}>; rel="{SESSION_DELETE_REL}"',
    }, answer.encode())


async def _answering(call) -> HttpResponse:
    try:
        return await call()
    except WhipError as error:
        return _error(error.status, error.code, error.message)


async def _release_if_idle(live) -> None:
    """A participant that joined through WHIP alone leaves with its last WHIP session."""
    if not live.has_socket and live.publication is None and not live.subscriptions:
        await live_connections.end(live)


# ------------------------------------------------------------------------- publish

@http_route("POST", f"{WHIP_PREFIX}/publish/{{participantId}}", streaming=True)
async def whip_publish(emulator, request, body, whipId: str, participantId: str):
    async def publish():
        offer, live, claims = await _offer_of(emulator, request, body, whipId)
        if claims.participant_id != participantId:
            raise WhipError(403, 2003, f"The token is participant {claims.participant_id}'s, not {participantId}'s")
        if live.publication is not None:
            await _stop_publishing(live, record=True)
        try:
            publication, answer = await rtc.sfu().Publication.accept(offer)
        except NoMatchingCodec as error:
            await _release_if_idle(live)
            raise WhipError(400, 2014, str(error)) from None
        except NegotiationError as error:
            await _release_if_idle(live)
            raise WhipError(400, 2001, str(error)) from None
        try:
            await asyncio.to_thread(client_actions.publish, emulator, live.participant_id, stage_arn=live.stage_arn)
        except client_actions.ClientActionError as error:
            await publication.close()
            await _release_if_idle(live)
            raise _refused(error) from None
        resource = secrets.token_hex(12)
        live.publication, live.publication_resource = publication, resource
        live_connections.RESOURCES[resource] = live
        publication.on_closed = lambda: asyncio.ensure_future(_publication_closed(live, publication))
        asyncio.ensure_future(recording_media.keep_recordings(live, publication))
        return _created(request, whipId, resource, answer)

    return await _answering(publish)


async def _publication_closed(live, publication) -> None:
    if live.publication is publication:
        await _stop_publishing(live, record=True)
        await _release_if_idle(live)


async def _stop_publishing(live, *, record: bool) -> None:
    publication, resource = live.publication, live.publication_resource
    live.publication, live.publication_resource = None, None
    live_connections.RESOURCES.pop(resource, None)
    if publication is not None:
        publication.on_closed = lambda: None
        await publication.close()
    if record:
        try:
            await asyncio.to_thread(client_actions.unpublish, live.emulator, live.participant_id,
                                    stage_arn=live.stage_arn)
        except client_actions.ClientActionError:
            pass  # not publishing any more (disconnected meanwhile)


# ------------------------------------------------------------------------- subscribe

@http_route("POST", f"{WHIP_PREFIX}/subscribe/{{remoteParticipantId}}", streaming=True)
async def whip_subscribe(emulator, request, body, whipId: str, remoteParticipantId: str):
    async def subscribe():
        offer, live, claims = await _offer_of(emulator, request, body, whipId)
        for resource, (remote, _) in list(live.subscriptions.items()):
            if remote == remoteParticipantId:  # the SDK subscribes again after a failure
                await _stop_subscription(live, resource, record=True)
        try:
            await asyncio.to_thread(client_actions.subscribe, emulator, live.participant_id, remoteParticipantId,
                                    stage_arn=live.stage_arn)
        except client_actions.ClientActionError as error:
            await _release_if_idle(live)
            raise _refused(error) from None
        publication = await live_connections.media_of(live, remoteParticipantId)
        try:
            if publication is None:
                raise WhipError(404, 2004, f"Participant {remoteParticipantId} publishes no media in this "
                                           "greenroom process")
            try:
                subscription, answer = await rtc.sfu().Subscription.accept(publication, offer)
            except NoMatchingCodec as error:
                raise WhipError(400, 2014, str(error)) from None
            except NegotiationError as error:
                raise WhipError(400, 2001, str(error)) from None
        except WhipError:
            await _unsubscribe(live, remoteParticipantId)
            await _release_if_idle(live)
            raise
        resource = secrets.token_hex(12)
        live.subscriptions[resource] = (remoteParticipantId, subscription)
        live_connections.RESOURCES[resource] = live
        subscription.on_closed = lambda: asyncio.ensure_future(_subscription_closed(live, resource))
        return _created(request, whipId, resource, answer)

    return await _answering(subscribe)


async def _subscription_closed(live, resource: str) -> None:
    if resource in live.subscriptions:
        await _stop_subscription(live, resource, record=True)
        await _release_if_idle(live)


async def _stop_subscription(live, resource: str, *, record: bool) -> None:
    remote, subscription = live.subscriptions.pop(resource)
    live_connections.RESOURCES.pop(resource, None)
    subscription.on_closed = lambda: None
    await subscription.close()
    if record:
        await _unsubscribe(live, remote)


async def _unsubscribe(live, remote: str) -> None:
    try:
        await asyncio.to_thread(client_actions.unsubscribe, live.emulator, live.participant_id, remote,
                                stage_arn=live.stage_arn)
    except client_actions.ClientActionError:
        pass  # the subscription ended already (the publisher stopped, the participant left)


# ------------------------------------------------------------------------- ending a WHIP session

async def _end_session(emulator, request, body, whip_id: str, resource: str) -> HttpResponse:
    async def delete():
        token = _bearer(request, await _read(body))
        live = live_connections.RESOURCES.get(resource)
        if live is None:
            raise WhipError(404, 2001, f"No WHIP session {resource}")
        try:
            claims = await asyncio.to_thread(claims_of, emulator, token)
        except TokenRefused as error:
            if error.code != "TOKEN_EXPIRED":  # an expired token may still end its own session
                raise _refused(error) from None
            claims = None
        if claims is not None and claims.participant_id != live.participant_id:
            raise WhipError(403, 2003, "The token is another participant's")
        if resource == live.publication_resource:
            await _stop_publishing(live, record=True)
        elif resource in live.subscriptions:
            await _stop_subscription(live, resource, record=True)
        await _release_if_idle(live)
        return HttpResponse(200, {"Content-Type": "application/json"}, b"{}")

    return await _answering(delete)


@http_route("DELETE", f"{WHIP_PREFIX}/sessions/{{resourceId}}", streaming=True)
async def whip_delete(emulator, request, body, whipId: str, resourceId: str):
    return await _end_session(emulator, request, body, whipId, resourceId)


@http_route("POST", f"{WHIP_PREFIX}/sessions/{{resourceId}}", streaming=True)
async def whip_session_delete_beacon(emulator, request, body, whipId: str, resourceId: str):
    return await _end_session(emulator, request, body, whipId, resourceId)
