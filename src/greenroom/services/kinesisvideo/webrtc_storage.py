"""Kinesis Video WebRTC ingestion (model ``kinesis-video-webrtc-storage``): JoinStorageSession
makes greenroom join the channel as the storage session, a WebRTC peer (aiortc) that sends the
connected master an SDP offer through signaling, receives its media and writes the video into
the channel's linked stream through PutMedia's own ingest path (so ListFragments, GetMedia,
HLS/DASH and GetClip serve it like any PutMedia).

Wire facts (KVS WebRTC developer guide): the storage session is the controlling peer; it offers,
the master answers and both exchange ICE candidates through the signaling channel; messages from
the storage session carry no senderClientId, and the master's messages to it carry no
recipientClientId. Media: H.264 video and Opus audio are required; the stream gets H.264 (and
AAC). A channel without media storage ENABLED is refused with InvalidArgumentException.

JoinStorageSessionAsViewer: greenroom's storage session offers to the viewer (which then is the
controlled peer), and relays the master's video to it once it answers; the viewer's signaling
messages go to that peer instead of the master.

What greenroom does differently: the received media is decoded and encoded again (libx264, one
fragment per second; AAC for the sound, as KVS stores it) rather than repackaged, and viewers
that join get the video only.

[inferred] No master connected to the channel on this greenroom process →
ResourceNotFoundException; a newer JoinStorageSession replaces the running storage session; a
viewer joining needs a running storage session and its own signaling connection
(ResourceNotFoundException otherwise).
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import time

from ...core.context import RequestContext
from ...core.operations import operation
from ...media import rtc
from ...protocol.http import HttpRequest
from .common import channel_by_arn, errors, stream_by_arn
from .put_media import Session
from .signaling import Peer, hub, status_response

log = logging.getLogger("greenroom")

ANSWER_TIMEOUT_SECONDS = 20.0
SESSIONS: dict[str, "StorageSession"] = {}    # by channel ARN, in this process


def _storage_channel(ctx: RequestContext, channel_arn: str) -> tuple[dict, dict]:
    channel = channel_by_arn(ctx, channel_arn)
    if channel is None:
        raise errors.ResourceNotFound(f"The signaling channel {channel_arn} does not exist.")
    storage = channel.get("MediaStorage") or {}
    if storage.get("Status") != "ENABLED" or not storage.get("StreamARN"):
        raise errors.InvalidArgument("The signaling channel is not mapped to a stream (media storage is not ENABLED).")
    stream = stream_by_arn(ctx, storage["StreamARN"])
    if stream is None:
        raise errors.ResourceNotFound(f"The stream {storage['StreamARN']} does not exist.")
    return channel, stream


@operation("kinesis-video-webrtc-storage", "JoinStorageSession")
def join_storage_session(ctx: RequestContext, req: dict) -> dict:
    channel_arn = req["channelArn"]
    channel, stream = _storage_channel(ctx, channel_arn)
    channels = hub(ctx.emulator)
    if not channels.master_connected(channel_arn):
        raise errors.ResourceNotFound("No master is connected to the signaling channel: connect as master, then join.")
    previous = SESSIONS.pop(channel_arn, None)
    if previous is not None:
        previous.stop()
    session = StorageSession(ctx.emulator, channel_arn, stream, ctx.account, ctx.region)
    SESSIONS[channel_arn] = session
    session.start()
    return {}


@operation("kinesis-video-webrtc-storage", "JoinStorageSessionAsViewer")
def join_storage_session_as_viewer(ctx: RequestContext, req: dict) -> dict:
    """The viewer ``clientId`` (connected to the channel's signaling) gets an offer from
    greenroom's storage session and, once it answers, the master's media relayed through it."""
    channel_arn, client_id = req["channelArn"], req["clientId"]
    _storage_channel(ctx, channel_arn)
    session = SESSIONS.get(channel_arn)
    if session is None:
        raise errors.ResourceNotFound("No storage session runs on the channel: the master must JoinStorageSession first.")
    peers = hub(ctx.emulator).channels.get(channel_arn)
    if peers is None or client_id not in peers.viewers:
        raise errors.ResourceNotFound(f"The viewer {client_id} is not connected to the signaling channel.")
    previous = peers.storage_viewers.get(client_id)
    if previous is not None:
        previous.on_message({"messageType": "GO_AWAY"})
    StorageViewer(session, client_id).start()
    return {}


def _encode_payload(document: dict) -> str:
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def _decode_payload(text: str) -> dict:
    return json.loads(base64.b64decode(text))


class StorageSession:
    """greenroom's peer in one channel's storage session."""

    def __init__(self, emulator, channel_arn: str, stream: dict, account: str, region: str):
        self.emulator = emulator
        self.channel_arn = channel_arn
        self.stream_name = stream["StreamName"]
        self.account, self.region = account, region
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.peer = Peer(channel_arn, None, on_message=self.inbox.put_nowait)
        self.task: asyncio.Task | None = None
        self.fragments_written = 0
        self.tracks: dict = {}                  # kind -> the master's track
        self.relay = None                       # aiortc MediaRelay, made with the connection
        self.has_video = asyncio.Event()
        self.encoder = None                     # media.live.LiveH264Fragments, from the first picture
        # The encoders run off the event loop, one call at a time.
        self.encoding = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="greenroom-webrtc-encode")

    def start(self) -> None:
        hub(self.emulator).peers(self.channel_arn).storage = self.peer
        self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _send_to_master(self, message_type: str, document: dict) -> None:
        hub(self.emulator).deliver(self.channel_arn, None, {
            "messageType": message_type, "messagePayload": _encode_payload(document)})

    async def video_track(self, timeout: float):
        """The master's video as a new reader (a relay: every reader gets every frame)."""
        await asyncio.wait_for(self.has_video.wait(), timeout)
        return self.relay.subscribe(self.tracks["video"], buffered=False)

    async def _run(self) -> None:
        connection = rtc.peer_connection(ice_servers=[])
        self.relay = rtc.media_relay()
        media: list[asyncio.Task] = []
        try:
            video = connection.addTransceiver("video", direction="recvonly")
            rtc.prefer_codecs(video, "video", rtc.VIDEO_CODECS)
            audio = connection.addTransceiver("audio", direction="recvonly")
            rtc.prefer_codecs(audio, "audio", rtc.AUDIO_CODECS)

            @connection.on("track")
            def on_track(track):
                self.tracks[track.kind] = track
                reader = self.relay.subscribe(track)
                if track.kind == "video":
                    self.has_video.set()
                    media.append(asyncio.ensure_future(self._ingest_video(reader)))
                else:
                    media.append(asyncio.ensure_future(self._ingest_audio(reader)))

            await connection.setLocalDescription(await connection.createOffer())
            self._send_to_master("SDP_OFFER", {"type": "offer", "sdp": connection.localDescription.sdp})
            await negotiate(connection, self.inbox, self._refuse, f"storage session {self.channel_arn}")
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("storage session %s failed", self.channel_arn)
        finally:
            for task in media:
                task.cancel()
            await asyncio.gather(*media, return_exceptions=True)
            self.encoding.shutdown(wait=False)
            await connection.close()
            peers = hub(self.emulator).channels.get(self.channel_arn)
            if peers is not None and peers.storage is self.peer:
                peers.storage = None
            if SESSIONS.get(self.channel_arn) is self:
                del SESSIONS[self.channel_arn]

    def _refuse(self, message: dict, description: str) -> None:
        hub(self.emulator).deliver(self.channel_arn, None, status_response(
            message.get("correlationId"), "InvalidArgumentException", 400, description))

    async def _ingest_video(self, track) -> None:
        """The track's frames, encoded to H.264 fragments, into PutMedia's ingest path."""

        pieces: asyncio.Queue = asyncio.Queue()

        async def body():
            while True:
                piece = await pieces.get()
                if piece is None:
                    return
                yield piece

        request = HttpRequest("POST", "/putMedia", headers={
            "x-amzn-stream-name": self.stream_name,
            "x-amzn-fragment-timecode-type": "ABSOLUTE",
            "x-amzn-fragment-acknowledgment-required": "1",
            "authorization": f"AWS4-HMAC-SHA256 Credential={self.account}/20240101/{self.region}/kinesisvideo/aws4_request",
        }, host="greenroom.local")
        session = Session.open(self.emulator, request)
        acknowledgements = asyncio.ensure_future(self._read_acknowledgements(session.acknowledgements(body())))
        loop = asyncio.get_running_loop()
        first_pts_ms, origin_ms = None, None
        try:
            while True:
                frame = await track.recv()
                if self.encoder is None:
                    self.encoder = rtc.live_h264_fragments(frame.width, frame.height, audio="audio" in self.tracks)
                pts_ms = int(frame.pts * frame.time_base * 1000) if frame.pts is not None else 0
                if first_pts_ms is None:
                    first_pts_ms, origin_ms = pts_ms, int(time.time() * 1000)
                for piece in await loop.run_in_executor(self.encoding, self.encoder.push, frame,
                                                        origin_ms + pts_ms - first_pts_ms):
                    await pieces.put(piece)
        except Exception as error:   # MediaStreamError when the track ends
            log.info("storage session %s: video ended (%r)", self.channel_arn, error)
        finally:
            if self.encoder is not None:
                for piece in await loop.run_in_executor(self.encoding, self.encoder.finish):
                    pieces.put_nowait(piece)
            pieces.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(acknowledgements), 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                acknowledgements.cancel()

    async def _ingest_audio(self, track) -> None:
        """The master's sound (Opus, decoded by aiortc) encoded to AAC beside the video; sound
        before the first picture is dropped."""
        loop = asyncio.get_running_loop()
        origin_ms = None
        try:
            while True:
                frame = await track.recv()
                if self.encoder is None:
                    continue
                if origin_ms is None:
                    origin_ms = int(time.time() * 1000)
                await loop.run_in_executor(self.encoding, self.encoder.push_audio, frame, origin_ms)
        except Exception as error:   # MediaStreamError when the track ends
            log.info("storage session %s: audio ended (%r)", self.channel_arn, error)

    async def _read_acknowledgements(self, acknowledgements) -> None:
        async for chunk in acknowledgements:
            for line in chunk.splitlines():
                ack = json.loads(line)
                if ack.get("EventType") == "ERROR":
                    log.warning("storage session %s: ingest error %s", self.channel_arn, ack)
                elif ack.get("EventType") == "PERSISTED":
                    self.fragments_written += 1


async def negotiate(connection, inbox: asyncio.Queue, refuse, what: str) -> None:
    """As the offering side: take the answer (it must accept H.264) and the peer's ICE
    candidates from ``inbox`` until GO_AWAY or the peer's signaling goes away."""
    deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
    answered = False
    while True:
        timeout = None if answered else max(0.0, deadline - time.monotonic())
        try:
            message = await asyncio.wait_for(inbox.get(), timeout)
        except asyncio.TimeoutError:
            log.info("%s: no answer to the offer", what)
            return
        kind = message.get("messageType")
        if kind == "GO_AWAY" or "close" in message:
            return
        try:
            document = _decode_payload(message["messagePayload"])
        except (KeyError, ValueError):
            refuse(message, "The messagePayload is not base64 JSON.")
            continue
        if kind == "SDP_ANSWER" and not answered:
            sdp = document.get("sdp", "")
            if "H264/90000" not in sdp:
                refuse(message, "The answer must accept H.264 video.")
                continue
            await connection.setRemoteDescription(rtc.session_description(sdp, "answer"))
            answered = True
        elif kind == "ICE_CANDIDATE":
            text = (document.get("candidate") or "").removeprefix("candidate:")
            if text:
                await connection.addIceCandidate(
                    rtc.ice_candidate(text, document.get("sdpMid"), document.get("sdpMLineIndex")))


class StorageViewer:
    """greenroom's peer for one viewer that joined the storage session: the master's video,
    relayed (aiortc encodes it again for this viewer)."""

    def __init__(self, session: StorageSession, client_id: str):
        self.session = session
        self.client_id = client_id
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.peer = Peer(session.channel_arn, client_id, on_message=self.inbox.put_nowait)

    def start(self) -> None:
        hub(self.session.emulator).peers(self.session.channel_arn).storage_viewers[self.client_id] = self.peer
        asyncio.get_running_loop().create_task(self._run())

    def _send(self, message: dict) -> None:
        hub(self.session.emulator).deliver(self.session.channel_arn, self.client_id, message)

    def _refuse(self, message: dict, description: str) -> None:
        self._send(status_response(message.get("correlationId"), "InvalidArgumentException", 400, description))

    async def _run(self) -> None:
        channels = hub(self.session.emulator)
        connection = rtc.peer_connection(ice_servers=[])
        what = f"storage viewer {self.client_id} of {self.session.channel_arn}"
        try:
            sender = connection.addTrack(await self.session.video_track(ANSWER_TIMEOUT_SECONDS))
            transceiver = next(t for t in connection.getTransceivers() if t.sender is sender)
            rtc.prefer_codecs(transceiver, "video", rtc.VIDEO_CODECS)
            await connection.setLocalDescription(await connection.createOffer())
            self._send({"messageType": "SDP_OFFER", "messagePayload": _encode_payload(
                {"type": "offer", "sdp": connection.localDescription.sdp})})
            await negotiate(connection, self.inbox, self._refuse, what)
        except (asyncio.CancelledError, asyncio.TimeoutError):
            pass
        except Exception:
            log.exception("%s failed", what)
        finally:
            await connection.close()
            peers = channels.channels.get(self.session.channel_arn)
            if peers is not None and peers.storage_viewers.get(self.client_id) is self.peer:
                del peers.storage_viewers[self.client_id]


