"""Long-lived WebRTC peers (aiortc) that answer a client's offer and stay up: the holder, and
the event loop they run on.

Request handlers are synchronous (inside the server's event loop, or in the in-process mock
with no loop at all), so peers live on one event loop of their own in a daemon thread
(``media_loop``), reached with ``run``; media encoding is aiortc's, on its executor threads.

``AnsweringPeer.open`` takes an offer, adds the tracks to send, gathers host candidates on the
machine's interfaces *and loopback* (aioice leaves 127.0.0.1 out; a client on the same machine
with no other route, or a container without a network, still connects), and answers with every
candidate in the SDP (no trickle: the answer travels through an API response). The peer then
completes ICE/DTLS with the client on its own; ``on_state`` is told each connection state
change, ``on_message`` each data-channel message (text or bytes) from any channel the client
opens.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Awaitable, Callable, TypeVar

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from .rtc import OfferRefused

log = logging.getLogger("greenroom")
T = TypeVar("T")

_loop_lock = threading.Lock()
_event_loop: asyncio.AbstractEventLoop | None = None


def media_loop() -> asyncio.AbstractEventLoop:
    """The event loop live peers run on, in a daemon thread (started on first use)."""
    global _event_loop
    with _loop_lock:
        if _event_loop is None or _event_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="greenroom-webrtc", daemon=True).start()
            _event_loop = loop
        return _event_loop


def run(coroutine: Awaitable[T], timeout: float) -> T:
    """Run a coroutine on the media loop from any other thread and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, media_loop()).result(timeout=timeout)


class AnsweringPeer:
    """An aiortc peer that answered one offer, with the tracks it sends."""

    def __init__(self, tracks: list, on_state: Callable[[str], None] | None = None,
                 on_message: Callable[[object], None] | None = None):
        self.connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tracks = tracks
        self.on_state = on_state or (lambda state: None)
        self.on_message = on_message or (lambda message: None)
        self.answer_sdp = ""
        connection = self.connection

        @connection.on("connectionstatechange")
        def state_changed():
            self.on_state(connection.connectionState)

        @connection.on("datachannel")
        def channel_opened(channel):
            channel.on("message", self.on_message)

    @property
    def state(self) -> str:
        return self.connection.connectionState

    async def open(self, offer_sdp: str) -> str:
        """Answer the offer (media the offer receives gets our tracks); the answer's SDP."""
        connection = self.connection
        try:
            await connection.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            by_kind = {track.kind: track for track in self.tracks}
            for transceiver in connection.getTransceivers():
                track = by_kind.pop(transceiver.kind, None)
                if track is not None and transceiver.direction in ("recvonly", "sendrecv", "sendonly"):
                    transceiver.sender.replaceTrack(track)
                    transceiver.direction = "sendonly"
            await self._gather_with_loopback()
            await connection.setLocalDescription(await connection.createAnswer())
        except Exception as error:  # aiortc raises ValueError, InvalidStateError, ...
            await connection.close()
            raise OfferRefused(f"The offer cannot be answered: {error}") from None
        self.answer_sdp = connection.localDescription.sdp
        return self.answer_sdp

    async def _gather_with_loopback(self) -> None:
        """Gather every ICE transport's candidates now, adding one on 127.0.0.1 (aioice's own
        gathering skips loopback); setLocalDescription then finds gathering complete and puts
        them all in the answer."""
        gatherers = {id(transport.iceGatherer): transport.iceGatherer for transport in self._ice_transports()}
        for gatherer in gatherers.values():
            await gatherer.gather()
            ice = gatherer._connection   # aioice.Connection: no public way to add a host candidate
            if not any(candidate.host == "127.0.0.1" for candidate in ice.local_candidates):
                for component in ice._components:
                    ice._local_candidates += await ice.get_component_candidates(component, ["127.0.0.1"])

    def _ice_transports(self) -> list:
        transports = [t.sender.transport.transport for t in self.connection.getTransceivers()
                      if t.sender.transport is not None]
        if self.connection.sctp is not None:
            transports.append(self.connection.sctp.transport.transport)
        return transports

    async def close(self) -> None:
        for track in self.tracks:
            track.stop()
        await self.connection.close()
