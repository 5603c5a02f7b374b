"""GameLift Streams fixtures: ``gls`` runs a test against the HTTP server and in process (a
manual clock in both), with the client-side actions and lifecycle delays of each; ``webrtc``
makes real WebRTC offers with aiortc and checks answers the way a client peer would."""
from __future__ import annotations

import asyncio
import json
import pathlib
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote

import boto3
import botocore.config
import botocore.session
import pytest
import requests

from greenroom.protocol.models import MODELS_DIR

CREDENTIALS = {"aws_access_key_id": "AKIDGREENROOMTEST", "aws_secret_access_key": "secret"}
UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}


class ActionRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass
class Driver:
    mode: str
    client_factory: Callable
    advance: Callable[[float], None]
    set_delays: Callable[[dict], None]
    _act: Callable[[str, str], dict]
    emulator: object = None
    read_object: Callable[[str, str], bytes] = None   # (bucket, key) -> what the S3 stand-in holds
    _clients: dict = field(default_factory=dict)
    Refused = ActionRefused  # what act() raises when the emulator refuses the action

    def client(self, region: str = "us-east-1"):
        if region not in self._clients:
            self._clients[region] = self.client_factory(region)
        return self._clients[region]

    def act(self, action: str, session: str) -> dict:
        """A client-side action (connect, disconnect, input, exit) on a session ARN or id."""
        return self._act(action, session)

    # ------------------------------------------------------------------ building blocks
    def ready_application(self, description: str = "game", **overrides) -> dict:
        gls = self.client()
        request = {"Description": description, "RuntimeEnvironment": UBUNTU,
                   "ExecutablePath": "bin/game", "ApplicationSourceUri": "s3://game-bucket/builds/1/",
                   **overrides}
        app = gls.create_application(**request)
        self.advance(2)
        assert gls.get_application(Identifier=app["Id"])["Status"] == "READY"
        return app

    def active_group(self, app: dict | None = None, stream_class: str = "gen4n_high", **overrides) -> dict:
        gls = self.client()
        request = {"Description": "group", "StreamClass": stream_class, **overrides}
        if app is not None:
            request["DefaultApplicationIdentifier"] = app["Arn"]
        group = gls.create_stream_group(**request)
        self.advance(0.001)
        assert gls.get_stream_group(Identifier=group["Id"])["Status"] == "ACTIVE"
        return group

    def start(self, group: dict, app: dict, signal: str = "NO_CLIENT_CONNECTION", **extra) -> dict:
        return self.client().start_stream_session(
            Identifier=group["Arn"], ApplicationIdentifier=app["Arn"], Protocol="WebRTC",
            SignalRequest=signal, **extra)

    def session(self, group: dict, session: dict) -> dict:
        return self.client().get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])


def make_client(region: str, endpoint_url: str | None = None):
    core = botocore.session.Session()
    # The shipped model first, as support.make_client does: any botocore release has every operation.
    core.get_component("data_loader").search_paths.insert(0, str(MODELS_DIR))
    return boto3.session.Session(botocore_session=core).client(
        "gameliftstreams", endpoint_url=endpoint_url, region_name=region,
        config=botocore.config.Config(parameter_validation=False), **CREDENTIALS)


@pytest.fixture(params=["server", "mock"])
def gls(request):
    if request.param == "server":
        server = request.getfixturevalue("server")
        server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()

        def act(action, session):
            response = requests.post(
                f"{server.base_url}/_greenroom/gameliftstreams/sessions/{quote(session, safe='')}/{action}",
                timeout=10)
            if response.status_code != 200:
                raise ActionRefused(response.status_code, response.json()["message"])
            return response.json()

        # The server's S3 stand-in is a directory; its health answer says which.
        objects = pathlib.Path(server.admin("GET", "health").json()["s3"])
        yield Driver(
            "server", lambda region: make_client(region, server.base_url),
            lambda seconds: server.admin("POST", "clock", {"advance": seconds}).raise_for_status(),
            lambda delays: server.admin("POST", "delays", delays).raise_for_status(),
            act, read_object=lambda bucket, key: (objects / bucket / key).read_bytes(),
        )
    else:
        import greenroom
        from greenroom.core.routes import HttpError
        from greenroom.services.gameliftstreams import client_actions

        with greenroom.mock() as mock:
            mock.clock.freeze()

            def act(action, session):
                try:
                    return client_actions.ACTIONS[action](mock.emulator, session)
                except HttpError as error:
                    raise ActionRefused(error.status, error.message) from None

            def set_delays(delays):
                for name, seconds in delays.items():
                    mock.delays.set(name, seconds)

            yield Driver("mock", lambda region: make_client(region), mock.clock.advance, set_delays, act,
                         emulator=mock.emulator, read_object=mock.emulator.objects.get)


@pytest.fixture
def gls_https(https_server):
    """The server through its HTTPS listener (what a browser's backend would use), manual clock."""
    https_server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    return Driver(
        "server", lambda region: https_server.client("gameliftstreams", region=region),
        lambda seconds: https_server.admin("POST", "clock", {"advance": seconds}).raise_for_status(),
        lambda delays: https_server.admin("POST", "delays", delays).raise_for_status(),
        None)


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
