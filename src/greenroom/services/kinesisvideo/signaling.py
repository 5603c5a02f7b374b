"""Kinesis Video WebRTC signaling: the WebSocket at the WSS endpoint GetSignalingChannelEndpoint
returns (ConnectAsMaster / ConnectAsViewer), GetIceServerConfig and SendAlexaOfferToMaster
(model ``kinesis-video-signaling``).

Wire (KVS WebRTC developer guide, the JS SDK's SignalingClient):
- Upgrade: ``GET /?X-Amz-ChannelARN=…[&X-Amz-ClientId=…]`` SigV4-presigned (``X-Amz-Date``,
  ``X-Amz-Expires``). A viewer names itself with ``X-Amz-ClientId``; without it the caller is
  the master. Refusals are HTTP answers in the service's error shape (no handshake).
- Client → server: ``{"action": SDP_OFFER|SDP_ANSWER|ICE_CANDIDATE, "recipientClientId",
  "messagePayload": base64(JSON), "correlationId"}``.
- Server → client: ``{"senderClientId", "messageType", "messagePayload"}``, and
  ``{"messageType": "STATUS_RESPONSE", "statusResponse": {"correlationId", "success": false,
  "errorType", "statusCode", "description"}}`` for a message that could not be delivered,
  ``GO_AWAY`` before the service closes a connection.
- Routing: a viewer's messages go to the master (its recipientClientId is ignored) or, once it
  joined the storage session (JoinStorageSessionAsViewer), to greenroom's peer for it; the master
  addresses a viewer by recipientClientId (or, without one, the storage session it joined);
  the newest master connection replaces an older one (GO_AWAY, then close) and ends the storage
  session of the older one, as its disconnection does. Messages for a master
  that is not connected are kept for the channel's MessageTtlSeconds and delivered when one
  connects; a newer SDP_OFFER from a viewer replaces its undelivered messages.

[inferred] What the guide leaves open: error types of bad messages (``InvalidArgumentException``
400 for unreadable JSON, an unknown action, a payload over 10 KB or a bad correlationId;
``ResourceNotFoundException`` 404 for a recipient that is not connected), a STATUS_RESPONSE for
a bad message even without a correlationId (with none in it), messages from the master to a
viewer carry no senderClientId, a replaced master is closed with 1000 after GO_AWAY, channel
deletion closes every connection with GO_AWAY then 1001, an expired presigned URL is refused 403.

Routing is in-process (one ``ChannelHub`` per emulator): peers of one channel must reach the
same greenroom process. ``ChannelHub.deliver`` is the one function to change for routing
between processes.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import calendar
import json
import logging
import re
import time
import uuid
import weakref
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from ...core.context import RequestContext
from ...core.errors import ServiceError
from ...core.operations import operation
from ...core.routes import http_route, websocket_route
from ...protocol import models, restjson
from ...protocol.http import HttpResponse
from ...protocol.validation import validate, validation_message
from ...protocol.websocket import GOING_AWAY, NORMAL_CLOSURE, WebSocket, WebSocketClosed
from .common import channel_by_arn, errors

log = logging.getLogger("greenroom")

ACTIONS = ("SDP_OFFER", "SDP_ANSWER", "ICE_CANDIDATE")
MAX_PAYLOAD_CHARS = 10 * 1024          # messagePayload: "Maximum length of 10K"
MAX_MESSAGE_CHARS = 16 * 1024          # a whole client message (payload plus the other members)
CLIENT_ID = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
CORRELATION_ID = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
MAX_PENDING_PER_CHANNEL = 100          # undelivered messages kept for an absent master
ICE_SERVER_TTL_SECONDS = 300           # GetIceServerConfig's Ttl (the real service: 300)
CHANNEL_WATCH_SECONDS = 1.0            # how often live connections check their channel still exists
PEERS_TOPIC = "kinesisvideo.signaling.peers"  # delivered in this process when a peer comes or goes (console)


# ---------------------------------------------------------------------------- the hub

@dataclass
class Peer:
    """One live signaling connection (or greenroom's own storage peer, with ``socket`` None)."""
    channel_arn: str
    client_id: str | None                  # None: the master
    socket: WebSocket | None = None
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    on_message: object = None              # a storage peer's callback instead of a socket

    def push(self, message: dict) -> None:
        if self.on_message is not None:
            self.on_message(message)
        else:
            self.outbox.put_nowait(message)


@dataclass
class Pending:
    expires_at: float
    sender: str | None
    message: dict


@dataclass
class ChannelPeers:
    master: Peer | None = None
    viewers: dict[str, Peer] = field(default_factory=dict)
    storage: Peer | None = None            # greenroom's storage session, talking to the master
    storage_viewers: dict[str, Peer] = field(default_factory=dict)   # its peers of joined viewers
    pending: list[Pending] = field(default_factory=list)
    alexa: dict[str, asyncio.Future] = field(default_factory=dict)   # SendAlexaOfferToMaster waits
    watcher: asyncio.Task | None = None


class ChannelHub:
    """Who is connected to which channel, in this process."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.channels: dict[str, ChannelPeers] = {}

    def peers(self, channel_arn: str) -> ChannelPeers:
        return self.channels.setdefault(channel_arn, ChannelPeers())

    def master_connected(self, channel_arn: str) -> bool:
        peers = self.channels.get(channel_arn)
        return peers is not None and peers.master is not None

    def deliver(self, channel_arn: str, recipient: str | None, message: dict, *, ttl: float = 0,
                sender: str | None = None) -> bool:
        """Hand ``message`` to the master (``recipient`` None) or the viewer ``recipient``; a
        message for an absent master is kept ``ttl`` seconds. False if nobody can take it."""
        peers = self.peers(channel_arn)
        if recipient is None:
            if peers.master is not None:
                peers.master.push(message)
                return True
            if ttl <= 0:
                return False
            if message["messageType"] == "SDP_OFFER":
                # A newer offer supersedes what the same viewer left undelivered.
                peers.pending = [p for p in peers.pending if p.sender != sender]
            peers.pending.append(Pending(self.emulator.clock.now() + ttl, sender, message))
            del peers.pending[:-MAX_PENDING_PER_CHANNEL]
            return True
        viewer = peers.viewers.get(recipient)
        if viewer is not None:
            viewer.push(message)
            return True
        waiter = peers.alexa.get(recipient)
        if waiter is not None and message["messageType"] == "SDP_ANSWER":
            if not waiter.done():
                waiter.set_result(message)
            return True
        return False

    def to_storage(self, channel_arn: str, message: dict) -> bool:
        peers = self.channels.get(channel_arn)
        if peers is None or peers.storage is None:
            return False
        peers.storage.push(message)
        return True

    def attach(self, peer: Peer) -> None:
        peers = self.peers(peer.channel_arn)
        if peer.client_id is None:
            previous, peers.master = peers.master, peer
            if previous is not None:
                previous.push({"messageType": "GO_AWAY"})
                previous.push(_CLOSE_REPLACED)
                if peers.storage is not None:   # it belonged to the replaced master
                    peers.storage.push({"messageType": "GO_AWAY"})
            now = self.emulator.clock.now()
            for pending in peers.pending:
                if pending.expires_at >= now:
                    peer.push(pending.message)
            peers.pending.clear()
        else:
            previous = peers.viewers.get(peer.client_id)
            peers.viewers[peer.client_id] = peer
            if previous is not None:
                previous.push({"messageType": "GO_AWAY"})
                previous.push(_CLOSE_REPLACED)
        if peers.watcher is None or peers.watcher.done():
            peers.watcher = asyncio.get_running_loop().create_task(self._watch(peer.channel_arn))
        self.emulator.store.notifier.deliver(PEERS_TOPIC)

    def detach(self, peer: Peer) -> None:
        peers = self.channels.get(peer.channel_arn)
        if peers is None:
            return
        if peer.client_id is None and peers.master is peer:
            peers.master = None
            if peers.storage is not None:   # the storage session ends with its master
                peers.storage.push({"messageType": "GO_AWAY"})
        elif peer.client_id is not None and peers.viewers.get(peer.client_id) is peer:
            del peers.viewers[peer.client_id]
            relay = peers.storage_viewers.get(peer.client_id)
            if relay is not None:           # greenroom's peer for that viewer ends with it
                relay.push({"messageType": "GO_AWAY"})
        self._forget_if_idle(peer.channel_arn)
        self.emulator.store.notifier.deliver(PEERS_TOPIC)

    def _forget_if_idle(self, channel_arn: str) -> None:
        peers = self.channels.get(channel_arn)
        if peers and peers.master is None and not peers.viewers and peers.storage is None \
                and not peers.storage_viewers and not peers.pending and not peers.alexa:
            if peers.watcher is not None:
                peers.watcher.cancel()
            del self.channels[channel_arn]

    async def _watch(self, channel_arn: str) -> None:
        """Channel deletion acts on live connections: GO_AWAY, then close."""
        while channel_arn in self.channels:
            await asyncio.sleep(CHANNEL_WATCH_SECONDS)
            channel = load_channel(self.emulator, channel_arn)
            if channel is not None and channel["ChannelStatus"] != "DELETING":
                continue
            peers = self.channels.pop(channel_arn, None)
            if peers is None:
                return
            for peer in [peers.master, peers.storage, *peers.viewers.values(), *peers.storage_viewers.values()]:
                if peer is not None:
                    peer.push({"messageType": "GO_AWAY"})
                    peer.push(_CLOSE_DELETED)
            for waiter in peers.alexa.values():
                if not waiter.done():
                    waiter.cancel()
            return


# Markers in a peer's outbox: close the socket after what came before was sent.
_CLOSE_REPLACED = {"close": NORMAL_CLOSURE, "reason": "A newer connection took this client's place."}
_CLOSE_DELETED = {"close": GOING_AWAY, "reason": "The signaling channel was deleted."}

_HUBS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def hub(emulator) -> ChannelHub:
    found = _HUBS.get(emulator)
    if found is None:
        found = _HUBS[emulator] = ChannelHub(emulator)
    return found


def load_channel(emulator, channel_arn: str, account: str | None = None, region: str | None = None) -> dict | None:
    """The channel document for an ARN (account and region come from the ARN)."""
    parts = channel_arn.split(":")
    if len(parts) < 6:
        return None
    with emulator.context("kinesisvideo", "ConnectAsMaster", account or parts[4], region or parts[3]) as ctx:
        return channel_by_arn(ctx, channel_arn)


# ---------------------------------------------------------------------------- messages

def status_response(correlation_id: str | None, error_type: str, status_code: int, description: str) -> dict:
    status = {"success": False, "errorType": error_type, "statusCode": str(status_code),
              "description": description}
    if correlation_id:
        status = {"correlationId": correlation_id, **status}
    return {"messageType": "STATUS_RESPONSE", "statusResponse": status}


class BadMessage(Exception):
    def __init__(self, correlation_id: str | None, error_type: str, status: int, description: str):
        super().__init__(description)
        self.answer = status_response(correlation_id, error_type, status, description)


def read_message(raw) -> dict:
    """A client message, checked; ``BadMessage`` carries the STATUS_RESPONSE for a bad one."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            raise BadMessage(None, "InvalidArgumentException", 400, "Messages must be UTF-8 JSON text.") from None
    if len(raw) > MAX_MESSAGE_CHARS:
        raise BadMessage(None, "InvalidArgumentException", 400,
                         f"The message is {len(raw)} characters; at most {MAX_MESSAGE_CHARS} are accepted.")
    try:
        message = json.loads(raw)
    except ValueError:
        raise BadMessage(None, "InvalidArgumentException", 400, "The message is not JSON.") from None
    if not isinstance(message, dict):
        raise BadMessage(None, "InvalidArgumentException", 400, "The message must be a JSON object.")
    correlation_id = message.get("correlationId")
    if correlation_id is not None and not (isinstance(correlation_id, str) and CORRELATION_ID.fullmatch(correlation_id)):
        raise BadMessage(None, "InvalidArgumentException", 400,
                         "correlationId must be 1 to 256 characters of [a-zA-Z0-9_.-].")
    action = message.get("action")
    if action not in ACTIONS:
        raise BadMessage(correlation_id, "InvalidArgumentException", 400,
                         f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}.")
    payload = message.get("messagePayload")
    if not isinstance(payload, str) or not payload:
        raise BadMessage(correlation_id, "InvalidArgumentException", 400, "messagePayload is required.")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise BadMessage(correlation_id, "InvalidArgumentException", 400,
                         f"messagePayload is {len(payload)} characters; the limit is {MAX_PAYLOAD_CHARS}.")
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadMessage(correlation_id, "InvalidArgumentException", 400, "messagePayload must be base64.") from None
    recipient = message.get("recipientClientId")
    if recipient is not None and not (isinstance(recipient, str) and CLIENT_ID.fullmatch(recipient)):
        raise BadMessage(correlation_id, "InvalidArgumentException", 400,
                         "recipientClientId must be 1 to 256 characters of [a-zA-Z0-9_.-].")
    return message


# ---------------------------------------------------------------------------- the WebSocket

def _query(request) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(request.query_string, keep_blank_values=True).items()}


def check_presigned(query: dict[str, str], now: float) -> None:
    """The presigned URL's validity window (greenroom checks no signature)."""
    if "X-Amz-Signature" not in query or "X-Amz-Credential" not in query:
        raise errors.AccessDenied("The request is not signed (SigV4 presigned URL expected).",
                                  status=403)
    try:
        signed_at = calendar.timegm(time.strptime(query.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ"))
        expires = int(query.get("X-Amz-Expires", "300"))
    except ValueError:
        raise errors.AccessDenied("X-Amz-Date or X-Amz-Expires is malformed.", status=403) from None
    if now > signed_at + expires:
        raise errors.AccessDenied(f"The presigned URL expired at {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(signed_at + expires))}.",
                                  status=403)


@websocket_route("/")
async def connect(emulator, socket: WebSocket):
    """ConnectAsMaster / ConnectAsViewer."""
    query = _query(socket.request)
    check_presigned(query, emulator.clock.now())
    channel_arn = query.get("X-Amz-ChannelARN", "")
    client_id = query.get("X-Amz-ClientId")
    if not channel_arn:
        raise errors.InvalidArgument("X-Amz-ChannelARN is required.", status=400)
    if client_id is not None and not CLIENT_ID.fullmatch(client_id):
        raise errors.InvalidArgument("X-Amz-ClientId must be 1 to 256 characters of [a-zA-Z0-9_.-].", status=400)
    caller = emulator.identify(socket.request)
    channel = load_channel(emulator, channel_arn, caller.account, caller.region)
    if channel is None:
        raise errors.ResourceNotFound(f"The signaling channel {channel_arn} does not exist.",
                                      status=404)
    if channel["ChannelStatus"] != "ACTIVE":
        raise errors.ResourceInUse(f"The signaling channel is {channel['ChannelStatus']}; it must be ACTIVE.", status=400)
    await socket.accept()
    peer = Peer(channel_arn, client_id, socket)
    channels = hub(emulator)
    channels.attach(peer)
    writer = asyncio.get_running_loop().create_task(_write(peer))
    try:
        async for raw in socket:
            try:
                message = read_message(raw)
            except BadMessage as bad:
                peer.push(bad.answer)
                continue
            try:
                _route(emulator, channels, peer, message)
            except Exception:
                # A greenroom bug is this message's failure, not the connection's.
                log.exception("signaling: routing a %s failed", message.get("action"))
                peer.push(status_response(message.get("correlationId"), "InternalFailure", 500,
                                          "greenroom failed to route this message."))
            if writer.done():
                break
    finally:
        channels.detach(peer)
        if not writer.done():
            peer.outbox.put_nowait(None)
            try:
                await asyncio.wait_for(writer, 2)
            except (asyncio.TimeoutError, WebSocketClosed):
                writer.cancel()


async def _write(peer: Peer) -> None:
    """One writer per connection: messages from other connections never interleave frames."""
    while True:
        message = await peer.outbox.get()
        if message is None:
            return
        if "close" in message:
            await peer.socket.close(message["close"], message["reason"])
            return
        try:
            await peer.socket.send_json(message)
        except WebSocketClosed:
            return


def _route(emulator, channels: ChannelHub, peer: Peer, message: dict) -> None:
    action, correlation_id = message["action"], message.get("correlationId")
    out = {"messageType": action, "messagePayload": message["messagePayload"]}
    storage_viewer = channels.peers(peer.channel_arn).storage_viewers.get(peer.client_id or "")
    if storage_viewer is not None:       # a viewer that joined the storage session talks to it
        storage_viewer.push({**out, "correlationId": correlation_id})
        return
    if peer.client_id is not None:       # a viewer: always to the master
        out = {"senderClientId": peer.client_id, **out}
        channel = load_channel(emulator, peer.channel_arn) or {}
        ttl = (channel.get("SingleMasterConfiguration") or {}).get("MessageTtlSeconds", 60)
        delivered = channels.deliver(peer.channel_arn, None, out, ttl=ttl, sender=peer.client_id)
        what = "the master"
    else:
        recipient = message.get("recipientClientId")
        if recipient is None:
            delivered = channels.to_storage(peer.channel_arn, {**out, "correlationId": correlation_id})
            what = "the storage session (no recipientClientId given)"
        else:
            delivered = channels.deliver(peer.channel_arn, recipient, out)
            what = f"the client {recipient}"
    if not delivered:
        peer.push(status_response(correlation_id, "ResourceNotFoundException", 404,
                                  f"The {action} could not be delivered: {what} is not connected."))


# ---------------------------------------------------------------------------- HTTPS operations

def _stun_host(ctx: RequestContext) -> str:
    host = urlsplit(ctx.base_url).hostname or "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@operation("kinesis-video-signaling", "GetIceServerConfig")
def get_ice_server_config(ctx: RequestContext, req: dict) -> dict:
    """The ICE servers a peer of this channel may use: greenroom's STUN server (UDP). No TURN
    server is offered (see core.stun); Username/Password are what a TURN entry would carry.

    [inferred] Service must be TURN (the only value the model has); a ClientId is optional."""
    channel = channel_by_arn(ctx, req["ChannelARN"])
    if channel is None:
        raise errors.ResourceNotFound(f"The signaling channel {req['ChannelARN']} does not exist.")
    if req.get("Service", "TURN") != "TURN":
        raise errors.InvalidArgument("Service must be TURN.")
    stun = ctx.emulator.stun_server()
    expires = int(ctx.now) + ICE_SERVER_TTL_SECONDS
    username = f"{expires}:{req.get('ClientId') or req.get('Username') or 'MASTER'}"
    return {"IceServerList": [{
        "Uris": [f"stun:{_stun_host(ctx)}:{stun.port}"],
        "Username": username,
        "Password": ctx.ids.alphanumeric(32),
        "Ttl": ICE_SERVER_TTL_SECONDS,
    }]}


ALEXA_ANSWER_TIMEOUT_SECONDS = 5.0


@operation("kinesis-video-signaling", "SendAlexaOfferToMaster")
def send_alexa_offer_to_master(ctx: RequestContext, req: dict) -> dict:
    """In process there are no signaling connections, so no master can answer; the HTTP server
    answers this operation in ``send_alexa_offer_route`` (it waits for the master)."""
    channel = channel_by_arn(ctx, req["ChannelARN"])
    if channel is None:
        raise errors.ResourceNotFound(f"The signaling channel {req['ChannelARN']} does not exist.")
    raise errors.ResourceNotFound("No master is connected to the signaling channel.")


@http_route("POST", "/v1/send-alexa-offer-to-master", streaming=True)
async def send_alexa_offer_route(emulator, request, body):
    """SendAlexaOfferToMaster over HTTP: the offer goes to the connected master as an SDP_OFFER
    from SenderClientId; the answer is the SDP_ANSWER the master addresses to that client
    (waited for up to ALEXA_ANSWER_TIMEOUT_SECONDS). Parsed and answered through the model like
    every operation; a streaming route only because it waits without blocking the server."""
    model = models.service_model("kinesis-video-signaling")
    operation_model = model.operation_model("SendAlexaOfferToMaster")
    chunks = [chunk async for chunk in body]
    request.body = b"".join(chunks)
    request_id = str(uuid.uuid4())

    def answer(status, headers, payload) -> HttpResponse:
        headers["x-amzn-RequestId"] = request_id
        return HttpResponse(status, headers, payload, "kinesis-video-signaling SendAlexaOfferToMaster")

    try:
        params, unreadable = restjson.parse_request(operation_model, {}, request.query(), request.headers,
                                                    request.body)
        problems = [f"Value '{text}' at '{member}' failed to satisfy constraint: Member must be of type {kind}"
                    for member, text, kind in unreadable] + validate(operation_model.input_shape, params)
        if problems:
            raise errors.InvalidArgument(validation_message(problems))
        caller = emulator.identify(request)
        channel_arn, sender = params["ChannelARN"], params["SenderClientId"]
        channel = load_channel(emulator, channel_arn, caller.account, caller.region)
        if channel is None:
            raise errors.ResourceNotFound(f"The signaling channel {channel_arn} does not exist.")
        channels = hub(emulator)
        if not channels.master_connected(channel_arn):
            raise errors.ResourceNotFound("No master is connected to the signaling channel.")
        peers = channels.peers(channel_arn)
        waiter = asyncio.get_running_loop().create_future()
        peers.alexa[sender] = waiter
        try:
            channels.deliver(channel_arn, None, {"senderClientId": sender, "messageType": "SDP_OFFER",
                                                 "messagePayload": params["MessagePayload"]})
            try:
                message = await asyncio.wait_for(waiter, ALEXA_ANSWER_TIMEOUT_SECONDS)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                raise errors.ClientLimitExceeded("The master did not answer the offer in time.") from None
        finally:
            if peers.alexa.get(sender) is waiter:
                del peers.alexa[sender]
            channels._forget_if_idle(channel_arn)
        return answer(*restjson.serialize_output(operation_model, {"Answer": message["messagePayload"]}))
    except ServiceError as error:
        return answer(*restjson.serialize_error(model, error))
