"""The stage events WebSocket the IVS client SDKs connect to (the token's ``events_url``):
``GET {events_url}?error_over_ws=1&topic=...&traceid=...`` with the participant token as the
only subprotocol (echoed in the handshake).

Opening it joins the token's participant (``client_actions.join``: the same checks and JOINED
event as the admin join route); closing it leaves (LEFT). A token the join refuses is answered,
after the handshake, with ``aws:ivs:JOIN_ERROR`` and the socket closed:

    TOKEN_MISSING             no token among the subprotocols
    TOKEN_INVALID             not a JWT, bad claims, another algorithm than ES384
    TOKEN_INVALID_SIGNATURE   signed by another key than ``kid`` names, or an unknown key
    TOKEN_EXPIRED             ``exp`` passed
    STAGE_DELETED             the token's stage does not exist (any more)
    PARTICIPANT_DISCONNECTED  DisconnectParticipant/RevokeConnectionToken revoked this participant
    BAD_REQUEST               a token allowing nothing, a full stage (JOIN_ERROR event recorded)

Server -> client (as ``amazon-ivs-web-broadcast`` 1.41 reads them):
- ``STAGE_STATE`` first, then on every change, with growing ``sequenceNumber``:
  ``{participants: [{id, userId, attributes, isPublishing, audioMuted, videoStopped}],
  disconnected: [{..., status: "KICKED"|"LEFT"}], serverFeatures: []}`` -- every connected
  participant of the session, the client itself included ([inferred]).
- ``PONG`` for each ``PING``; ``aws:ivs:SET_STATE`` acknowledging a ``SET_STATE``
  (audioMuted/videoStopped, stored and shown to everyone); ``aws:ivs:EXCHANGE_TOKEN``
  answering an ``aws:ivs:EXCHANGE_TOKEN`` request (``payload: {requestId, traceId[, error]}``;
  the swap is ``client_actions.exchange_token``: TOKEN_EXCHANGED).
- ``aws:ivs:SUBSCRIBER_COUNT`` ``{sequenceNumber, count}``: how many participants subscribe to
  this one, when it changes ([inferred] payload from the SDK's reader).
- ``aws:ivs:DISCONNECT`` ``{code, reason}`` then close, when the server ends the connection:
  PARTICIPANT_DISCONNECTED, STAGE_DELETED, TOKEN_REUSED (the same participant connected
  again), TOKEN_EXPIRED ([inferred] for a token that expired while connected).

greenroom offers no ``xdp`` server feature: the SDK then exchanges SDP over WHIP (``whip``).
"""
from __future__ import annotations

import asyncio
import json
import logging

from ...core.routes import websocket_route
from ...protocol.websocket import WebSocketClosed
from . import client_actions, live as live_connections
from .common import ROUTE_PREFIX, SERVICE
from .tokens import TokenRefused, read_unverified, verify

log = logging.getLogger("greenroom.ivs_realtime")

# client_actions refusal codes -> the JOIN_ERROR codes the SDK knows.
JOIN_ERRORS = {
    "INVALID_TOKEN": "TOKEN_INVALID",
    "INVALID_SIGNATURE": "TOKEN_INVALID_SIGNATURE",
    "UNKNOWN_KEY": "TOKEN_INVALID_SIGNATURE",
    "TOKEN_EXPIRED": "TOKEN_EXPIRED",
    "STAGE_NOT_FOUND": "STAGE_DELETED",
    "TOKEN_REVOKED": "PARTICIPANT_DISCONNECTED",
}
DISCONNECT_REASONS = {
    "PARTICIPANT_DISCONNECTED": "The participant was disconnected from the stage",
    "STAGE_DELETED": "The stage was deleted",
    "TOKEN_REUSED": "The participant connected again with the same token",
    "TOKEN_EXPIRED": "The participant token expired",
}
# [inferred] the SDK reads none of these; what a close code says to a person reading it.
CLOSE_KICKED = 4000


def claims_of(emulator, token: str):
    """The token's verified claims (TokenRefused otherwise): a worker-thread read of the store."""
    header, _, parts = read_unverified(token)
    with emulator.context(SERVICE, "VerifyToken", parts["account"], parts["region"]) as ctx:
        return verify(ctx, token, header, parts)


def client_of(request) -> dict:
    """Participant client members from the browser's User-Agent ([inferred] what AWS shows)."""
    agent = request.headers.get("user-agent", "")
    found = {}
    for name in ("Chrome", "Firefox", "Safari"):
        if f"{name}/" in agent:
            found["browserName"] = name
            found["browserVersion"] = agent.split(f"{name}/", 1)[1].split(" ", 1)[0]
            break
    for system in ("Linux", "Windows", "Mac OS X", "Android", "iPhone OS"):
        if system in agent:
            found["osName"] = system
            break
    return found


@websocket_route(f"{ROUTE_PREFIX}/events")
async def stage_events(emulator, socket):
    token = socket.subprotocols[0] if socket.subprotocols else None
    await socket.accept(token)
    if not token:
        await _join_error(socket, "TOKEN_MISSING", "The participant token is the WebSocket subprotocol")
        return
    try:
        claims = await asyncio.to_thread(claims_of, emulator, token)
        live = await live_connections.join(emulator, token, claims, client=client_of(socket.request), has_socket=True)
    except TokenRefused as error:
        await _join_error(socket, JOIN_ERRORS.get(error.code, "TOKEN_INVALID"), error.message)
        return
    except client_actions.ClientActionError as error:
        await _join_error(socket, JOIN_ERRORS.get(error.code, "BAD_REQUEST"), error.message)
        return
    await _Session(socket, live).run()


async def _join_error(socket, code: str, message: str) -> None:
    await socket.send_json({"type": "aws:ivs:JOIN_ERROR", "payload": {"code": code, "message": message}})
    await socket.close(CLOSE_KICKED, code)


class _Session:
    def __init__(self, socket, live):
        self.socket, self.live = socket, live
        self.sequence = 0
        self.subscriber_sequence = 0
        self.last_state = None
        self.last_subscribers = None

    async def run(self) -> None:
        reader = asyncio.ensure_future(self._read())
        try:
            await live_connections.watch(self.live, self._send_state, until=reader)
        finally:
            reader.cancel()
            if self.live.kicked:
                await self._disconnect(self.live.kicked)
            await live_connections.end(self.live)

    async def _send_state(self, state) -> None:
        document = {"participants": state.participants, "disconnected": state.disconnected}
        if document != self.last_state:
            self.last_state = document
            self.sequence += 1
            await self.socket.send_json({"type": "STAGE_STATE", "payload": {
                "sequenceNumber": self.sequence, **document, "serverFeatures": []}})
        if state.subscribers != self.last_subscribers:
            self.last_subscribers = state.subscribers
            self.subscriber_sequence += 1
            await self.socket.send_json({"type": "aws:ivs:SUBSCRIBER_COUNT", "payload": {
                "sequenceNumber": self.subscriber_sequence, "count": state.subscribers}})

    async def _disconnect(self, code: str) -> None:
        try:
            await self.socket.send_json({"type": "aws:ivs:DISCONNECT", "payload": {
                "code": code, "reason": DISCONNECT_REASONS.get(code, code)}})
            await self.socket.close(CLOSE_KICKED, code)
        except WebSocketClosed:
            pass

    async def _read(self) -> None:
        async for text in self.socket:
            try:
                message = json.loads(text)
            except (TypeError, ValueError):
                continue  # [inferred] not JSON: ignored, as unknown message types are
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == "PING":
                await self.socket.send_json({"type": "PONG"})
            elif kind == "SET_STATE":
                await asyncio.to_thread(live_connections.set_media_state, self.live,
                                        message.get("audioMuted") is True, message.get("videoStopped") is True)
                request_id = message.get("requestId") or (message.get("payload") or {}).get("requestId")
                answer = {"type": "aws:ivs:SET_STATE", "payload": {}}
                if request_id:
                    answer["requestId"] = answer["payload"]["requestId"] = request_id
                await self.socket.send_json(answer)
            elif kind == "aws:ivs:EXCHANGE_TOKEN":
                await self._exchange(message.get("payload") or {})

    async def _exchange(self, payload: dict) -> None:
        answer = {"requestId": payload.get("requestId"), "traceId": payload.get("traceId")}
        new_token = payload.get("newToken")
        try:
            claims = await asyncio.to_thread(claims_of, self.live.emulator, new_token)
            await asyncio.to_thread(client_actions.exchange_token, self.live.emulator, self.live.participant_id,
                                    new_token, stage_arn=self.live.stage_arn)
            self.live.token, self.live.expires_at = new_token, claims.expires_at
            self.live.emulator.store.notifier.publish_now(self.live.topic)  # attributes may have changed
        except (TokenRefused, client_actions.ClientActionError) as error:
            answer["error"] = {"code": error.code, "message": error.message, "fatal": False}
        await self.socket.send_json({"type": "aws:ivs:EXCHANGE_TOKEN", "payload": answer})
