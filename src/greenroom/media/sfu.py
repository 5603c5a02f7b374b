"""A selective forwarding unit on aiortc: publishers' encoded media relayed to subscribers
without decoding or encoding it again.

- ``Publication.accept(offer)``: a publisher's WebRTC offer (WHIP) answered by a receive-only
  peer. Each of its receivers is *tapped*: the frames aiortc's jitter buffer reassembles
  (depacketized VP8/H.264 pictures, Opus packets) go to the publication's ``Source`` of that
  kind instead of aiortc's decoder thread.
- ``Subscription.accept(publication, offer)``: a subscriber's offer answered by a send-only
  peer whose tracks hand those encoded frames as ``av.Packet`` to aiortc's senders, which only
  packetize them (RTP, SRTP) -- the cost per subscriber is packetizing and encrypting.
- A video subscriber starts at a keyframe: its track drops pictures until one comes, and the
  publisher is asked for one (RTCP PLI) when a subscriber joins or asks (PLI/FIR).
- Taps (``Source.taps``) see every encoded frame too: recorders use them.

Every peer's answer carries greenroom's host candidates (aiortc gathers before answering; no
trickle). ``connection_closed`` fires once the peer's connection failed or closed.
"""
from __future__ import annotations

import asyncio
import fractions
import logging
import queue
from typing import Callable

import av
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from .rtc import NegotiationError, NoMatchingCodec

log = logging.getLogger("greenroom.sfu")

VIDEO_CLOCK = fractions.Fraction(1, 90000)
QUEUE_LIMIT = 120  # encoded frames a slow subscriber may lag behind before it loses the oldest


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded picture can be decoded on its own."""
    if not data:
        return False
    name = codec_name.lower()
    if name == "vp8":
        return not data[0] & 0x01              # frame tag: P bit 0 = key frame (RFC 6386 9.1)
    if name == "h264":
        return any(nal & 0x1F in (5, 7) for nal in _h264_nal_headers(data))  # IDR or SPS
    return True


def _h264_nal_headers(data: bytes):
    start = 0
    while True:
        found = data.find(b"\x00\x00\x01", start)
        if found < 0 or found + 3 >= len(data):
            return
        yield data[found + 3]
        start = found + 3


class EncodedFrame:
    __slots__ = ("data", "timestamp", "keyframe")

    def __init__(self, data: bytes, timestamp: int, keyframe: bool):
        self.data, self.timestamp, self.keyframe = data, timestamp, keyframe


class Source:
    """One published track's encoded frames, fanned out to its subscribers' tracks and taps."""

    def __init__(self, kind: str, codec, request_keyframe: Callable[[], None]):
        self.kind = kind
        self.codec = codec                      # aiortc RTCRtpCodecParameters the publisher sends
        self.clock = fractions.Fraction(1, codec.clockRate)
        self.request_keyframe = request_keyframe
        self.tracks: set[ForwardedTrack] = set()
        self.taps: list[Callable[[EncodedFrame], None]] = []
        self.frames = 0
        self.ended = False

    def deliver(self, data: bytes, timestamp: int) -> None:
        frame = EncodedFrame(data, timestamp, is_keyframe(self.codec.name, data) if self.kind == "video" else True)
        self.frames += 1
        for track in self.tracks:
            track.push(frame)
        for tap in self.taps:
            try:
                tap(frame)
            except Exception:
                log.exception("a tap of a %s source failed", self.kind)

    def end(self) -> None:
        self.ended = True
        for track in list(self.tracks):
            track.push(None)

    def forwarded_track(self) -> "ForwardedTrack":
        track = ForwardedTrack(self)
        self.tracks.add(track)
        if self.kind == "video":
            self.request_keyframe()
        return track


class ForwardedTrack(MediaStreamTrack):
    """A subscriber's copy of a source: encoded frames as ``av.Packet`` for aiortc's sender."""

    def __init__(self, source: Source):
        super().__init__()
        self.kind = source.kind
        self.source = source
        self._queue: asyncio.Queue = asyncio.Queue()
        self._waiting_for_keyframe = source.kind == "video"

    def push(self, frame: EncodedFrame | None) -> None:
        if frame is not None and self._waiting_for_keyframe:
            if not frame.keyframe:
                return
            self._waiting_for_keyframe = False
        if self._queue.qsize() >= QUEUE_LIMIT:
            self._queue.get_nowait()            # too slow: lose the oldest, ask for a fresh start
            if self.kind == "video":
                self._waiting_for_keyframe = True
                self.source.request_keyframe()
        self._queue.put_nowait(frame)

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = self.source.clock
        return packet

    def stop(self) -> None:
        self.source.tracks.discard(self)
        super().stop()


class _FrameTap(queue.Queue):
    """Stands in for an aiortc receiver's decoder queue: reassembled frames go to a callback
    (on the event loop, where aiortc puts them) instead of the decoder thread, which only ever
    sees the end marker."""

    def __init__(self, on_frame: Callable[[object, object], None]):
        super().__init__()
        self.on_frame = on_frame

    def put(self, item, block=True, timeout=None):
        if item is None:
            super().put(None)
        else:
            codec, encoded = item
            self.on_frame(codec, encoded)


def _tap(receiver: RTCRtpReceiver, on_frame: Callable[[object, object], None]) -> None:
    # aiortc keeps the queue in a private attribute; it starts its decoder thread with the
    # queue found there when the receiver starts (after the answer), so replacing it before
    # is enough. Checked against aiortc 1.9-1.16.
    if not hasattr(receiver, "_RTCRtpReceiver__decoder_queue"):
        raise RuntimeError("this aiortc has no receiver decoder queue to tap (greenroom.media.sfu)")
    receiver._RTCRtpReceiver__decoder_queue = _FrameTap(on_frame)


def _peer() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def _watch(connection: RTCPeerConnection, on_closed: Callable[[], None]) -> None:
    fired = []

    @connection.on("connectionstatechange")
    def changed():
        if connection.connectionState in ("failed", "closed") and not fired:
            fired.append(True)
            on_closed()


async def _offer_to(connection: RTCPeerConnection, offer: str) -> None:
    if not isinstance(offer, str) or "v=0" not in offer or "m=" not in offer:
        raise NegotiationError("The body is not an SDP offer")
    try:
        await connection.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    except Exception as error:  # aiortc raises ValueError, InvalidStateError, ...
        raise NegotiationError(f"The SDP offer cannot be used: {error}") from None


class Publication:
    """A publisher's peer: its sources by kind ("audio", "video")."""

    def __init__(self):
        self.connection = _peer()
        self.sources: dict[str, Source] = {}
        self.on_closed: Callable[[], None] = lambda: None
        self.closed = False

    @classmethod
    async def accept(cls, offer: str) -> tuple["Publication", str]:
        publication = cls()
        connection = publication.connection
        try:
            await _offer_to(connection, offer)
            receiving = [t for t in connection.getTransceivers()
                         if getattr(t, "_offerDirection", None) in ("recvonly", "sendrecv")]
            if not receiving:
                raise NegotiationError("The offer sends no media")
            for transceiver in connection.getTransceivers():
                transceiver.direction = "recvonly"
                # One codec per kind (the first the publisher offered that aiortc knows, with its
                # retransmission codec): what it sends is then what subscribers must take.
                chosen = next(c for c in transceiver._codecs if c.name.lower() != "rtx")
                transceiver._codecs = _with_rtx([chosen], transceiver._codecs)
            answer = await connection.createAnswer()
            await connection.setLocalDescription(answer)
        except NegotiationError:
            await connection.close()
            raise
        except Exception as error:
            await connection.close()
            raise NoMatchingCodec(f"No codec in common with the offer: {error}") from None
        for transceiver in connection.getTransceivers():
            publication._listen(transceiver)
        _watch(connection, publication._closed)
        return publication, connection.localDescription.sdp

    def _listen(self, transceiver) -> None:
        receiver, kind = transceiver.receiver, transceiver.kind
        if getattr(transceiver, "_offerDirection", None) not in ("recvonly", "sendrecv"):
            return
        codec = transceiver._codecs[0]

        def request_keyframe():
            ssrcs = [found.source for found in receiver.getSynchronizationSources()]
            for ssrc in ssrcs:
                asyncio.ensure_future(receiver._send_rtcp_pli(ssrc))

        source = Source(kind, codec, request_keyframe)
        self.sources[kind] = source

        def on_frame(used_codec, encoded):
            source.deliver(encoded.data, encoded.timestamp)

        _tap(receiver, on_frame)

    def _closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        for source in self.sources.values():
            source.end()
        self.on_closed()

    async def close(self) -> None:
        self._closed()
        await self.connection.close()


class Subscription:
    """A subscriber's peer, sending one publication's sources."""

    def __init__(self, publication: Publication):
        self.publication = publication
        self.connection = _peer()
        self.tracks: list[ForwardedTrack] = []
        self.on_closed: Callable[[], None] = lambda: None
        self.closed = False

    @classmethod
    async def accept(cls, publication: Publication, offer: str) -> tuple["Subscription", str]:
        subscription = cls(publication)
        connection = subscription.connection
        try:
            await _offer_to(connection, offer)
            used = False
            for transceiver in connection.getTransceivers():
                source = publication.sources.get(transceiver.kind)
                if source is None or source.ended:
                    transceiver.direction = "inactive"
                    continue
                wanted = [codec for codec in transceiver._codecs if _same_codec(codec, source.codec)]
                if not wanted:
                    raise NoMatchingCodec(f"The offer cannot receive {source.codec.mimeType}, which the "
                                          "publisher sends (greenroom forwards media as published)")
                # The publisher's codec only, with its retransmission codec (rtx) if offered.
                transceiver._codecs = _with_rtx(wanted[:1], transceiver._codecs)
                track = source.forwarded_track()
                subscription.tracks.append(track)
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendonly"
                _forward_keyframe_requests(transceiver.sender, source)
                used = True
            if not used:
                raise NegotiationError("The offer receives none of the publisher's media")
            answer = await connection.createAnswer()
            await connection.setLocalDescription(answer)
        except NegotiationError:
            await subscription.close()
            raise
        _watch(connection, subscription._closed)
        return subscription, connection.localDescription.sdp

    def _closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        for track in self.tracks:
            track.stop()
        self.on_closed()

    async def close(self) -> None:
        self._closed()
        await self.connection.close()


def _with_rtx(chosen: list, negotiated: list) -> list:
    """``chosen`` codecs and the retransmission codecs (rtx) that repair them."""
    types = {codec.payloadType for codec in chosen}
    return chosen + [c for c in negotiated if c.name.lower() == "rtx" and c.parameters.get("apt") in types]


def _same_codec(offered, published) -> bool:
    if offered.mimeType.lower() != published.mimeType.lower():
        return False
    if published.name.lower() == "h264":
        mode = lambda codec: str(codec.parameters.get("packetization-mode", "0"))  # noqa: E731
        profile = lambda codec: str(codec.parameters.get("profile-level-id", ""))[:4].lower()  # noqa: E731
        return mode(offered) == mode(published) and profile(offered) == profile(published)
    return True


def _forward_keyframe_requests(sender, source: Source) -> None:
    """A subscriber's PLI/FIR reaches the publisher (the sender cannot make keyframes itself)."""
    sender._send_keyframe = source.request_keyframe
