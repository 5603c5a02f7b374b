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

What greenroom does differently: the received video is decoded and encoded again (libx264, one
fragment per second) rather than repackaged; audio is received but not stored (the stream gets
its video track only). JoinStorageSessionAsViewer answers 501-like ``InvalidArgumentException``
when no storage session runs, and otherwise is not implemented (see the report in the README).

[inferred] No master connected to the channel on this greenroom process →
ResourceNotFoundException; a newer JoinStorageSession replaces the running storage session.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time

from ...core.context import RequestContext
from ...core.errors import ServiceError
from ...core.operations import operation
from ...protocol.http import HttpRequest
from .common import channel_by_arn, stream_by_arn
from .signaling import Peer, hub, status_response

log = logging.getLogger("greenroom")

ANSWER_TIMEOUT_SECONDS = 20.0
SESSIONS: dict[str, "StorageSession"] = {}    # by channel ARN, in this process


def _storage_channel(ctx: RequestContext, channel_arn: str) -> tuple[dict, dict]:
    channel = channel_by_arn(ctx, channel_arn)
    if channel is None:
        raise ServiceError("ResourceNotFoundException", f"The signaling channel {channel_arn} does not exist.")
    storage = channel.get("MediaStorage") or {}
    if storage.get("Status") != "ENABLED" or not storage.get("StreamARN"):
        raise ServiceError("InvalidArgumentException",
                           "The signaling channel is not mapped to a stream (media storage is not ENABLED).")
    stream = stream_by_arn(ctx, storage["StreamARN"])
    if stream is None:
        raise ServiceError("ResourceNotFoundException", f"The stream {storage['StreamARN']} does not exist.")
    return channel, stream


@operation("kinesis-video-webrtc-storage", "JoinStorageSession")
def join_storage_session(ctx: RequestContext, req: dict) -> dict:
    channel_arn = req["channelArn"]
    channel, stream = _storage_channel(ctx, channel_arn)
    channels = hub(ctx.emulator)
    if not channels.master_connected(channel_arn):
        raise ServiceError("ResourceNotFoundException",
                           "No master is connected to the signaling channel: connect as master, then join.")
    previous = SESSIONS.pop(channel_arn, None)
    if previous is not None:
        previous.stop()
    session = StorageSession(ctx.emulator, channel_arn, stream, ctx.account, ctx.region)
    SESSIONS[channel_arn] = session
    session.start()
    return {}


@operation("kinesis-video-webrtc-storage", "JoinStorageSessionAsViewer")
def join_storage_session_as_viewer(ctx: RequestContext, req: dict) -> dict:
    _storage_channel(ctx, req["channelArn"])
    if req["channelArn"] not in SESSIONS:
        raise ServiceError("ResourceNotFoundException",
                           "No storage session runs on the channel: the master must JoinStorageSession first.")
    raise ServiceError("NotImplemented", "greenroom does not relay a storage session to viewers yet "
                       "(JoinStorageSessionAsViewer)", status=501)


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

    def start(self) -> None:
        hub(self.emulator).peers(self.channel_arn).storage = self.peer
        self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _send_to_master(self, message_type: str, document: dict) -> None:
        hub(self.emulator).deliver(self.channel_arn, None, {
            "messageType": message_type, "messagePayload": _encode_payload(document)})

    async def _run(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
        from aiortc.rtcrtpsender import RTCRtpSender
        from aiortc.sdp import candidate_from_sdp

        connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        media: list[asyncio.Task] = []
        try:
            video = connection.addTransceiver("video", direction="recvonly")
            video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                       if c.mimeType in ("video/H264", "video/rtx")])
            audio = connection.addTransceiver("audio", direction="recvonly")
            audio.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("audio").codecs
                                       if c.mimeType == "audio/opus"])

            @connection.on("track")
            def on_track(track):
                if track.kind == "video":
                    media.append(asyncio.ensure_future(self._ingest_video(track)))
                else:
                    media.append(asyncio.ensure_future(_drain(track)))

            await connection.setLocalDescription(await connection.createOffer())
            self._send_to_master("SDP_OFFER", {"type": "offer", "sdp": connection.localDescription.sdp})
            deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
            answered = False
            while True:
                timeout = None if answered else max(0.0, deadline - time.monotonic())
                try:
                    message = await asyncio.wait_for(self.inbox.get(), timeout)
                except asyncio.TimeoutError:
                    log.info("storage session %s: the master did not answer", self.channel_arn)
                    return
                kind = message.get("messageType")
                if kind == "GO_AWAY" or "close" in message:
                    return
                try:
                    document = _decode_payload(message["messagePayload"])
                except (KeyError, ValueError):
                    self._refuse(message, "The messagePayload is not base64 JSON.")
                    continue
                if kind == "SDP_ANSWER" and not answered:
                    sdp = document.get("sdp", "")
                    if "H264/90000" not in sdp:
                        self._refuse(message, "The answer must accept H.264 video.")
                        continue
                    await connection.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
                    answered = True
                elif kind == "ICE_CANDIDATE":
                    text = (document.get("candidate") or "").removeprefix("candidate:")
                    if text:
                        candidate = candidate_from_sdp(text)
                        candidate.sdpMid = document.get("sdpMid")
                        candidate.sdpMLineIndex = document.get("sdpMLineIndex")
                        await connection.addIceCandidate(candidate)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("storage session %s failed", self.channel_arn)
        finally:
            for task in media:
                task.cancel()
            await asyncio.gather(*media, return_exceptions=True)
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
        from .put_media import Session

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
        encoder = None
        first_pts_ms, origin_ms = None, None
        try:
            from ...media.live import LiveH264Fragments
            while True:
                frame = await track.recv()
                if encoder is None:
                    encoder = LiveH264Fragments(frame.width, frame.height)
                pts_ms = int(frame.pts * frame.time_base * 1000) if frame.pts is not None else 0
                if first_pts_ms is None:
                    first_pts_ms, origin_ms = pts_ms, int(time.time() * 1000)
                for piece in await asyncio.to_thread(encoder.push, frame, origin_ms + pts_ms - first_pts_ms):
                    await pieces.put(piece)
        except Exception as error:   # MediaStreamError when the track ends
            log.info("storage session %s: video ended (%r)", self.channel_arn, error)
        finally:
            if encoder is not None:
                for piece in encoder.finish():
                    pieces.put_nowait(piece)
            pieces.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(acknowledgements), 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                acknowledgements.cancel()

    async def _read_acknowledgements(self, acknowledgements) -> None:
        async for chunk in acknowledgements:
            for line in chunk.splitlines():
                ack = json.loads(line)
                if ack.get("EventType") == "ERROR":
                    log.warning("storage session %s: ingest error %s", self.channel_arn, ack)
                elif ack.get("EventType") == "PERSISTED":
                    self.fragments_written += 1


async def _drain(track) -> None:
    """Audio is received (the peer expects it to flow) but not stored."""
    try:
        while True:
            await track.recv()
    except Exception:
        return
