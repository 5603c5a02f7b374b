"""A session streams to a real WebRTC client (aiortc, in this test's process, on its own event
loop): ICE and DTLS connect, the generated application's video and sound arrive and decode,
data-channel input is drawn and restarts the idle timer, and the session's status follows the
connection (CONNECTED, PENDING_CLIENT_RECONNECTION when the client goes, CONNECTED again after
CreateStreamSessionConnection, the peer closed when the session ends)."""
from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import zipfile

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import RTCRtpSender

import greenroom
from greenroom.services.gameliftstreams import streaming
from support import Driver, wait_until

SMALL = {"Resolution": {"Width": 640, "Height": 360}}  # the test's picture: cheap to encode


class Client:
    """A client peer: recvonly video and audio, an "input" data channel; keeps what arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, codec: str):
        self.loop = loop
        self.codec = codec
        self.pc: RTCPeerConnection | None = None
        self.channel = None
        self.video: list[np.ndarray] = []      # the newest decoded pictures (luma)
        self.video_count = 0
        self.audio_peak = 0
        self.audio_count = 0
        self.video_codec = None

    def call(self, coroutine, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def offer(self) -> str:
        async def make():
            self.pc = RTCPeerConnection()
            self.channel = self.pc.createDataChannel("input")
            video = self.pc.addTransceiver("video", direction="recvonly")
            video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                       if c.mimeType in (f"video/{self.codec}", "video/rtx")])
            self.pc.addTransceiver("audio", direction="recvonly")
            self.pc.on("track", self._track)
            await self.pc.setLocalDescription(await self.pc.createOffer())
            return json.dumps({"type": "offer", "sdp": self.pc.localDescription.sdp})
        return self.call(make())

    def _track(self, track):
        async def read():
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:      # the connection closed
                    return
                if track.kind == "video":
                    self.video_count += 1
                    self.video = (self.video + [frame.to_ndarray(format="gray")])[-3:]
                else:
                    self.audio_count += 1
                    self.audio_peak = max(self.audio_peak, int(np.abs(frame.to_ndarray()).max()))
        asyncio.ensure_future(read())

    def accept(self, signal_response: str) -> None:
        answer = json.loads(signal_response)
        self.video_codec = next(line.split()[1] for line in answer["sdp"].splitlines()
                                if line.startswith("a=rtpmap:") and "/90000" in line)
        self.call(self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer")))

    def send(self, text: str) -> None:
        self.loop.call_soon_threadsafe(self.channel.send, text)

    def close(self) -> None:
        self.call(self.pc.close())


@pytest.fixture
def clients():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    made: list[Client] = []

    def make(codec: str = "H264") -> Client:
        made.append(Client(loop, codec))
        return made[-1]

    yield make
    for client in made:
        if client.pc is not None:
            client.call(client.pc.close())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def bright_pixels_in_lower_half(picture: np.ndarray) -> int:
    """The lower half of the picture holds the input lines only."""
    return int((picture[picture.shape[0] // 2:] > 150).sum())


def started(gls, client, **extra):
    app = gls.ready_application("Space Race")
    group = gls.active_group(app)
    session = gls.start_session(group, app, client.offer(), DisplayConfiguration=SMALL, **extra)
    gls.advance(1)
    active = gls.stream_session(group, session)
    assert active["Status"] == "ACTIVE"
    client.accept(active["SignalResponse"])
    return group, session


def status(gls, group, session) -> str:
    return gls.stream_session(group, session)["Status"]


def test_a_client_sees_hears_and_drives_the_application_then_reconnects(gls, clients):
    gls.set_delays({"gameliftstreams.session.idle_timeout": 100})
    client = clients("H264")
    group, session = started(gls, client)
    assert client.video_codec == "H264/90000"

    # ICE + DTLS connect: the session is CONNECTED; video and sound arrive and decode.
    wait_until(lambda: status(gls, group, session) == "CONNECTED", "CONNECTED")
    wait_until(lambda: client.video_count >= 20 and client.audio_count >= 20, "video and audio")
    first = client.video[-1]
    assert first.shape == (360, 640)
    assert first.max() > 200 and first.mean() > 20            # text on a grey background, not black
    wait_until(lambda: client.video_count >= 35, "more video")
    assert np.abs(client.video[-1].astype(int) - first.astype(int)).max() > 100  # the clock and bar move
    assert client.audio_peak > 3000                           # the tone, not silence

    # Input on the data channel is drawn, and restarts the 100 s idle timer.
    before = bright_pixels_in_lower_half(client.video[-1])
    gls.advance(60)
    for event in ({"type": "keydown", "key": "a", "code": "KeyA"}, {"type": "mousemove", "x": 10, "y": 20}):
        client.send(json.dumps(event))
    client.send("plain text")
    wait_until(lambda: bright_pixels_in_lower_half(client.video[-1]) > before + 500, "the input drawn")
    time.sleep(1.5)                                           # the watch step restarts the idle timer
    gls.advance(60)                                           # 120 s after connecting, 60 s after input
    assert status(gls, group, session) == "CONNECTED"

    # The client goes: PENDING_CLIENT_RECONNECTION.
    client.close()
    wait_until(lambda: status(gls, group, session) == "PENDING_CLIENT_RECONNECTION", "PENDING_CLIENT_RECONNECTION")

    # A new offer through CreateStreamSessionConnection: RECONNECTING, then CONNECTED on the new peer.
    again = clients("H264")
    answer = gls.client().create_stream_session_connection(
        Identifier=group["Id"], StreamSessionIdentifier=session["Arn"], SignalRequest=again.offer())
    assert status(gls, group, session) == "RECONNECTING"
    again.accept(answer["SignalResponse"])
    wait_until(lambda: status(gls, group, session) == "CONNECTED", "CONNECTED again")
    wait_until(lambda: again.video_count >= 10, "video on the new peer")
    # The same application: the inputs drawn before are still on screen.
    assert bright_pixels_in_lower_half(again.video[-1]) > before + 500

    # TerminateStreamSession closes the peer.
    gls.client().export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                             OutputUri="s3://exports/run.zip")
    gls.client().terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    wait_until(lambda: again.pc.connectionState in ("closed", "failed"), "the peer closed")

    # The exported application log tells the story.
    gls.advance(2)
    assert gls.stream_session(group, session)["ExportFilesMetadata"]["Status"] == "SUCCEEDED"
    with zipfile.ZipFile(io.BytesIO(gls.s3_object("exports", "run.zip"))) as archive:
        log = [line.split(" ", 1)[1] for line in
               archive.read("application/greenroom-application.log").decode().splitlines()]
    assert log[:2] == ["application started: bin/game", "client connected"]
    inputs = [line for line in log if line.startswith("input (")]   # one line per idle-timer restart
    assert sum(int(line.split("(")[1].split()[0]) for line in inputs) == 3
    assert inputs[-1].endswith("the last: text 'plain text')")
    assert "client disconnected; waiting 120 s for it to reconnect" in log
    assert log[-4:] == ["a client connects with a new offer", "client connected",
                        "files to export to s3://exports/run.zip when the session ends",
                        "application stopped: apiTerminated"]


def test_vp8_is_streamed_when_the_client_offers_only_vp8(gls, clients):
    client = clients("VP8")
    group, session = started(gls, client)
    assert client.video_codec == "VP8/90000"
    wait_until(lambda: client.video_count >= 10, "VP8 video")
    assert client.video[-1].max() > 200
    wait_until(lambda: status(gls, group, session) == "CONNECTED", "CONNECTED")


def test_the_application_exiting_ends_the_stream(gls, clients):
    client = clients("H264")
    group, session = started(gls, client)
    wait_until(lambda: status(gls, group, session) == "CONNECTED", "CONNECTED")
    gls.session_action("exit", session["Arn"])
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "applicationExit")
    wait_until(lambda: client.pc.connectionState in ("closed", "failed"), "the peer closed")



def test_answering_an_offer_again_reuses_its_peer(clients):
    """A request run again (Store.run after a conflict) answers the same offer a second time:
    one peer, one answer, bound to the session of the last attempt."""
    client = clients("H264")
    offer = client.offer()
    with greenroom.mock() as mock:
        with mock.emulator.context("gameliftstreams", "StartStreamSession", "123456789012", "us-east-1") as ctx:
            title = ["game", "session", "gen4n_high"]
            first = streaming.answer(ctx, {"_id": "AAAAAAAAAAAAA"}, title, offer)
            second = streaming.answer(ctx, {"_id": "BBBBBBBBBBBBB"}, title, offer)
        streams = streaming.live_streams(mock.emulator.store.engine)
        assert first == second
        assert list(streams.peers) == [first[0]]
        assert streams.peers[first[0]].session_id == "BBBBBBBBBBBBB"


def test_two_servers_on_one_store_a_peer_follows_its_session_from_either(launch, postgres_url, clients):
    """The peer lives on the server that answered (A); the session is in the shared store, so
    its connection shows on B, and B ending the session closes A's peer."""
    a, b = launch.many([["--db-url", postgres_url, "--log-level", "warning"]] * 2)
    on_a, on_b = Driver.over_http(a, service="gameliftstreams"), Driver.over_http(b, service="gameliftstreams")
    on_b.set_delays({"gameliftstreams.session.terminate": 0})
    client = clients("H264")
    app = on_a.ready_application("Shared")
    group = on_a.active_group(app)
    session = on_a.start_session(group, app, client.offer(), DisplayConfiguration=SMALL)
    on_a.advance(1)
    on_b.advance(1)
    client.accept(on_b.stream_session(group, session)["SignalResponse"])
    wait_until(lambda: on_b.stream_session(group, session)["Status"] == "CONNECTED", "CONNECTED, seen on B")
    wait_until(lambda: client.video_count >= 5, "video from A")
    on_b.client().terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    on_b.advance(0.1)
    assert on_b.stream_session(group, session)["Status"] == "TERMINATED"
    wait_until(lambda: client.pc.connectionState in ("closed", "failed"), "A's peer closed")
