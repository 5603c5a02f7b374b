"""GameLift Streams fixtures: ``gls`` runs a test against the HTTP server and in process (a
manual clock in both; client-side actions are ``session_action``); ``webrtc``
makes real WebRTC offers with aiortc and checks answers the way a client peer would."""
from __future__ import annotations

import asyncio
import json

import pytest

from support import both_modes


@pytest.fixture(params=["server", "mock"])
def gls(request):
    """A ``support.Driver`` whose clients default to GameLift Streams."""
    yield from both_modes(request, service="gameliftstreams")


class WebRtc:
    """Client peers made with aiortc on an event loop of the test's own."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.peers = []

    def offer(self, *, video: bool = True, data: bool = True) -> tuple[str, object]:
        """A signal request as the Web SDK's generateSignalRequest makes it, and its peer."""
        from aiortc import RTCPeerConnection

        async def make():
            peer = RTCPeerConnection()
            if data:
                peer.createDataChannel("input")
            if video:
                peer.addTransceiver("video", direction="recvonly")
                peer.addTransceiver("audio", direction="recvonly")
            await peer.setLocalDescription(await peer.createOffer())
            return peer

        peer = self.loop.run_until_complete(make())
        self.peers.append(peer)
        return json.dumps({"type": "offer", "sdp": peer.localDescription.sdp}), peer

    def accept(self, peer, signal_response: str) -> str:
        """The client peer takes the answer as its remote description; its signaling state."""
        from aiortc import RTCSessionDescription

        answer = json.loads(signal_response)
        assert answer["type"] == "answer"
        assert answer["sdp"].startswith("v=0\r\n")
        self.loop.run_until_complete(peer.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])))
        return peer.signalingState

    def close(self):
        for peer in self.peers:
            self.loop.run_until_complete(peer.close())
        leftover = asyncio.all_tasks(self.loop)  # ICE checks towards answers' candidates
        for task in leftover:
            task.cancel()
        if leftover:
            self.loop.run_until_complete(asyncio.wait(leftover))
        self.loop.close()


@pytest.fixture
def webrtc():
    rtc = WebRtc()
    yield rtc
    rtc.close()
