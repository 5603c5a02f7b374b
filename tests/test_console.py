"""The web console (/_greenroom/console) in headless Chromium, driven through the DevTools
protocol: what boto3 and the admin API do shows up in the page, live, and the page's controls
drive greenroom. Needs ``chromium`` and the hls.js greenroom's build fetches; ffmpeg makes the
video the LIVE player plays."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from importlib.resources import files

import av
import numpy as np
import pytest
import requests
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from urllib.parse import urlencode
from websockets.sync.client import connect

from support import BRIGHTNESS_JS, DevToolsPage, Launcher, chromium, make_client, need

HLS_JS = files("greenroom").joinpath("console_static", "vendor", "hls.min.js")
ACCOUNT, REGION = "123456789012", "us-west-2"
# Host candidates as addresses, not mDNS names (no multicast DNS here): the page's WebRTC peers.
CHROMIUM_ARGS = ("--disable-features=WebRtcHideLocalIpsWithMdns",)


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    need(HLS_JS.is_file(), "the console's hls.js (`pip install -e .` or `python -m greenroom.vendored` fetches it)")
    chromium()
    launcher = Launcher()
    s3 = tmp_path_factory.mktemp("s3")
    running = launcher("--ephemeral", "--s3-dir", str(s3))
    running.s3_dir = s3
    yield running
    launcher.close()


@pytest.fixture
def server(console_server):
    """The console's server (serving hls.js), as the root conftest's ``server`` is."""
    return console_server.fresh()


@pytest.fixture
def page(server):
    opened = DevToolsPage(server.base_url + "/_greenroom/console", chromium_args=CHROMIUM_ARGS)
    yield opened
    opened.close()


def client(server, name: str):
    return make_client(name, server.base_url, region=REGION, aws_access_key_id=ACCOUNT)


def show(page: DevToolsPage, service: str) -> None:
    page.wait_for("document.getElementById('live-status').textContent === 'live'")
    page.evaluate(f"document.querySelector('#services button[data-service=\"{service}\"]').click()")


def brightness(page: DevToolsPage, video: str) -> float:
    """The mean brightness (0-255) of the picture a <video> of the page shows."""
    return page.evaluate(f"(function () {{ {BRIGHTNESS_JS} return brightness({video}); }})()")


def resource(kind: str, name: str) -> str:
    return f"document.querySelector('section[data-kind=\"{kind}\"] li[data-name=\"{name}\"]')"


def test_a_stream_created_with_boto3_appears_and_plays_live(server, page, tmp_path):
    need(shutil.which("ffmpeg") is not None, "ffmpeg (apt: ffmpeg)")
    show(page, "kinesisvideo")
    client(server, "kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=1)
    page.wait_for(resource("kinesisvideo:stream", "cam"))
    assert page.evaluate("document.getElementById('scope').value") == f"{ACCOUNT}/{REGION}"
    page.wait_for(resource("kinesisvideo:stream", "cam") + ".dataset.state === 'ACTIVE'")

    video = tmp_path / "camera.mkv"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "6",
                    "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", str(video)], check=True, timeout=60)
    producer = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "kvs", "put-media", str(video), "--stream", "cam",
         "--endpoint", server.base_url, "--region", REGION, "--realtime", "--loop"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, AWS_ACCESS_KEY_ID=ACCOUNT, AWS_SECRET_ACCESS_KEY="secret"))
    try:
        page.wait_for("document.querySelector('#requests tbody').innerText.includes('GetDataEndpoint')", 30)
        wait_for_fragments(server, "cam", 2)
        page.evaluate(resource("kinesisvideo:stream", "cam") + ".querySelector('button.play').click()")
        page.wait_for("(function (v) { return !v.paused && v.currentTime > 1 && v.videoWidth === 320; })"
                      "(document.getElementById('player'))", 45)
        # Fragments counted and drawn; a time range (prefilled: first to last fragment) plays
        # ON_DEMAND and gives a strip of GetImages thumbnails.
        stream = resource("kinesisvideo:stream", "cam")
        page.wait_for(f"Number({stream}.querySelector('.media').dataset.fragments) >= 2")
        assert page.evaluate(f"{stream}.querySelectorAll('svg.timeline rect').length") >= 2
        page.evaluate(f"{stream}.querySelector('button.thumbs').click()")
        page.wait_for(f"{resource('kinesisvideo:stream', 'cam')}.querySelectorAll('.thumbnails img').length >= 1", 30)
        width = page.evaluate(f"(function (img) {{ return img.complete ? img.naturalWidth : -1; }})"
                              f"({stream}.querySelector('.thumbnails img'))")
        assert width == 160
        page.evaluate(f"{stream}.querySelector('button.play-range').click()")
        page.wait_for("document.getElementById('player-status').textContent === 'playing ON_DEMAND'", 30)
        page.wait_for("(function (v) { return !v.paused && v.currentTime > 0.5; })(document.getElementById('player'))", 30)
    finally:
        producer.kill()
        producer.wait(10)


def wait_for_fragments(server, stream: str, count: int, timeout: float = 30) -> None:
    kv = client(server, "kinesisvideo")
    endpoint = kv.get_data_endpoint(StreamName=stream, APIName="LIST_FRAGMENTS")["DataEndpoint"]
    archived = make_client("kinesis-video-archived-media", endpoint, region=REGION, aws_access_key_id=ACCOUNT)
    deadline = time.monotonic() + timeout
    selector = {"FragmentSelectorType": "SERVER_TIMESTAMP",
                "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": time.time() + 3600}}
    while len(archived.list_fragments(StreamName=stream, FragmentSelector=selector)["Fragments"]) < count:
        assert time.monotonic() < deadline, f"fewer than {count} fragments after {timeout} s"
        time.sleep(0.5)


def test_signaling_peers_show_on_their_channel(server, page):
    show(page, "kinesisvideo")
    kvs = client(server, "kinesisvideo")
    server.admin("POST", "delays", {"kinesisvideo.channel.create": 0}).raise_for_status()
    arn = kvs.create_signaling_channel(ChannelName="door")["ChannelARN"]
    wss = kvs.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS"], "Role": "MASTER"}
    )["ResourceEndpointList"][0]["ResourceEndpoint"]
    peers = resource("kinesisvideo:channel", "door") + ".querySelector('.peers')"
    page.wait_for(peers + " && " + peers + ".textContent === 'nobody connected'")
    with connect(signed(wss, arn)), connect(signed(wss, arn, "viewer-1")):
        page.wait_for(peers + ".textContent.includes('master connected') && "
                      + peers + ".textContent.includes('viewers: viewer-1')")
    page.wait_for(peers + ".textContent === 'nobody connected'")


def signed(endpoint: str, channel_arn: str, client_id: str | None = None) -> str:
    """The signaling URL as the KVS SDKs presign it."""
    query = {"X-Amz-ChannelARN": channel_arn, **({"X-Amz-ClientId": client_id} if client_id else {})}
    request = AWSRequest("GET", endpoint.rstrip("/") + "/?" + urlencode(query))
    SigV4QueryAuth(Credentials(ACCOUNT, "secret"), "kinesisvideo", REGION, expires=299).add_auth(request)
    return request.url


def test_advancing_the_clock_from_the_page_makes_an_application_ready(server, page):
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    show(page, "gameliftstreams")
    app = client(server, "gameliftstreams").create_application(
        Description="My Game", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
        ExecutablePath="bin/game", ApplicationSourceUri="s3://game-bucket/builds/1/")
    page.wait_for(resource("gameliftstreams:application", "My Game"))
    assert page.evaluate(resource("gameliftstreams:application", "My Game") + ".dataset.state") != "READY"
    page.evaluate("document.querySelector('#clock-advance input').value = '3600';"
                  "document.querySelector('#clock-advance button').click()")
    page.wait_for(resource("gameliftstreams:application", "My Game") + ".dataset.state === 'READY'")
    gls = client(server, "gameliftstreams")
    assert gls.get_application(Identifier=app["Id"])["Status"] == "READY"
    # Unfolded, a resource shows what its Get operation answers (no private fields).
    details = resource("gameliftstreams:application", "My Game") + ".querySelector('details')"
    page.evaluate(details + ".open = true")
    page.wait_for(details + ".querySelector('.source').textContent === 'as GetApplication answers it'")
    described = json.loads(page.evaluate(details + ".querySelector('pre').textContent"))
    answered = gls.get_application(Identifier=app["Id"])
    answered.pop("ResponseMetadata")
    assert described["Arn"] == answered["Arn"] and described["Status"] == "READY"
    assert set(described) == set(answered) and not any(name.startswith("_") for name in described)

    # A stream group's capacity per location, a session's status history.
    group = gls.create_stream_group(Description="arcade", StreamClass="gen4n_high", DefaultApplicationIdentifier=app["Arn"],
                                    LocationConfigurations=[{"LocationName": REGION, "AlwaysOnCapacity": 2}])
    page.evaluate("document.querySelector('#clock-advance button').click()")
    row = resource("gameliftstreams:streamgroup", "arcade") + f".querySelector('table.capacity tr[data-location=\"{REGION}\"]')"
    page.wait_for(row + " && " + row + ".innerText.includes('ACTIVE')")
    assert gls.get_stream_group(Identifier=group["Id"])["Status"] == "ACTIVE"
    session = gls.start_stream_session(Identifier=group["Arn"], ApplicationIdentifier=app["Arn"], Protocol="WebRTC",
                                       SignalRequest="NO_CLIENT_CONNECTION")
    page.evaluate("document.querySelector('#clock-advance input').value = '5';"
                  "document.querySelector('#clock-advance button').click()")
    history = "document.querySelector('section[data-kind=\"gameliftstreams:streamsession\"] ol.history')"
    page.wait_for(f"{history} && {history}.children.length >= 2")
    status = gls.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])["Status"]
    page.wait_for(f"{history}.lastChild.textContent.includes(' {status}')")
    assert "ACTIVATING" in page.evaluate(history + ".firstChild.textContent")
    statuses = page.evaluate(f"Array.from({history}.children).map(function (li) {{ return li.textContent.split(' ')[1]; }})")
    assert all(a != b for a, b in zip(statuses, statuses[1:])), statuses  # changes only


def test_opening_a_gamelift_session_streams_it_to_the_page_with_input(server, page):
    """"Open the stream" on a session started with NO_CLIENT_CONNECTION: the page's offer goes
    through CreateStreamSessionConnection, the video plays (not black, changing), the session goes
    CONNECTED, and keys pressed on the picture reach the application (it draws them)."""
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    show(page, "gameliftstreams")
    gls = client(server, "gameliftstreams")
    app = gls.create_application(Description="Console Quest", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
                                 ExecutablePath="bin/game", ApplicationSourceUri="s3://game-bucket/builds/1/")
    server.admin("POST", "clock", {"advance": 3600}).raise_for_status()
    group = gls.create_stream_group(Description="hall", StreamClass="gen4n_ultra", DefaultApplicationIdentifier=app["Arn"],
                                    LocationConfigurations=[{"LocationName": REGION, "AlwaysOnCapacity": 1}])
    server.admin("POST", "clock", {"advance": 3600}).raise_for_status()
    session = gls.start_stream_session(Identifier=group["Arn"], ApplicationIdentifier=app["Arn"], Protocol="WebRTC",
                                       SignalRequest="NO_CLIENT_CONNECTION",
                                       DisplayConfiguration={"Resolution": {"Width": 640, "Height": 360}})
    server.admin("POST", "clock", {"advance": 5}).raise_for_status()

    def status():
        return gls.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])["Status"]

    assert status() == "ACTIVE"
    opener = "document.querySelector('section[data-kind=\"gameliftstreams:streamsession\"] button.open-stream')"
    page.wait_for(opener)
    page.evaluate(opener + ".click()")
    video = "document.getElementById('stream')"
    page.wait_for(f"{video}.videoWidth === 640 && {video}.currentTime > 0.5", 30)
    assert brightness(page, video) > 20                                    # text on grey, not black
    deadline = time.monotonic() + 20
    while status() != "CONNECTED":
        assert time.monotonic() < deadline, status()
        time.sleep(0.2)
    page.wait_for("document.getElementById('stream-status').textContent === 'connected'")
    thumb = ("(function (v) { var c = document.createElement('canvas'); c.width = 64; c.height = 36;"
             " var x = c.getContext('2d'); x.drawImage(v, 0, 0, 64, 36); return Array.from(x.getImageData(0, 0, 64, 36).data)"
             ".filter(function (_, i) { return i % 4 === 0; }); })(document.getElementById('stream'))")
    before = page.evaluate(thumb)
    page.wait_for(f"JSON.stringify({thumb}) !== {json.dumps(json.dumps(before, separators=(',', ':')))}", 10)  # it moves

    # A key pressed on the focused picture goes over the data channel; the application draws it.
    page.evaluate(f"{video}.focus(); {video}.dispatchEvent(new KeyboardEvent('keydown', {{key: 'q', code: 'KeyQ', bubbles: true}}))")
    records = f"account={ACCOUNT}&region={REGION}&service=gameliftstreams"

    def history_mentions(text: str) -> bool:
        stored = server.admin("GET", f"resources?{records}").json()["resources"]["gameliftstreams:streamsession"][0]
        return text in json.dumps(stored)

    deadline = time.monotonic() + 15
    while not history_mentions("KeyQ"):
        assert time.monotonic() < deadline, "the key never reached the session"
        time.sleep(0.3)

    # A session that cannot take a connection (waiting for capacity: ACTIVATING) says why.
    gls.start_stream_session(Identifier=group["Arn"], ApplicationIdentifier=app["Arn"], Protocol="WebRTC",
                             SignalRequest="NO_CLIENT_CONNECTION")
    openers = "document.querySelectorAll('section[data-kind=\"gameliftstreams:streamsession\"] button.open-stream')"
    page.wait_for(f"{openers}.length === 2")
    page.evaluate(f"{openers}[1].click()")
    page.wait_for("document.getElementById('stream-status').textContent.startsWith('cannot open the stream: ')", 20)
    assert "ACTIVATING" in page.evaluate("document.getElementById('stream-status').textContent")


def test_a_participant_joined_through_the_admin_api_shows_in_the_stage_view(server, page):
    show(page, "ivs-realtime")
    ivs = client(server, "ivs-realtime")
    stage = ivs.create_stage(name="studio")["stage"]
    token = ivs.create_participant_token(stageArn=stage["arn"], userId="alice")["participantToken"]
    joined = server.admin("POST", "ivs-realtime/join", {"token": token["token"], "protocol": "WHIP"})
    assert joined.status_code == 200, joined.text
    participant = joined.json()["participantId"]
    page.wait_for(resource("ivs-realtime:stage", "studio"))
    joined_in_page = f"document.querySelector('li.participant[data-participant-id=\"{participant}\"]')"
    page.wait_for(resource("ivs-realtime:stage", "studio") + f" && {joined_in_page}")
    assert page.evaluate(joined_in_page + ".dataset.state") == "CONNECTED"
    page.wait_for(joined_in_page + ".querySelector('ol.events').innerText.includes('JOINED')")

    # The page's own test participant: joined and publishing, as the IVS API then lists it.
    page.evaluate(resource("ivs-realtime:stage", "studio") + ".querySelector('button.join').click()")
    page.wait_for("document.getElementById('control-status').textContent.startsWith('joined as ')")
    own = page.evaluate("document.getElementById('control-status').textContent").split()[-1]
    mine = f"document.querySelector('li.participant[data-participant-id=\"{own}\"]')"
    page.wait_for(f"{mine} && {mine}.querySelector('.state').textContent === 'CONNECTED, publishing'")
    server.admin("POST", f"ivs-realtime/participants/{participant}/subscribe", {"publisherParticipantId": own}).raise_for_status()
    page.wait_for(f"{joined_in_page}.querySelector('.facts').textContent.startsWith('subscribed to {own}')")
    session_id = joined.json()["sessionId"]
    listed = ivs.list_participants(stageArn=stage["arn"], sessionId=session_id)["participants"]
    assert {p["participantId"]: (p["userId"], p["published"]) for p in listed}[own] == ("console", True)


def test_the_test_participant_publishes_over_whip_and_shows_as_a_live_tile(server, page):
    """The join button publishes the page's canvas over WHIP; the stage view subscribes to it
    (WHIP, a console-viewer token) and its tile decodes the moving picture; Leave ends both."""
    show(page, "ivs-realtime")
    ivs = client(server, "ivs-realtime")
    stage = ivs.create_stage(name="live")["stage"]
    page.wait_for(resource("ivs-realtime:stage", "live"))
    page.evaluate(resource("ivs-realtime:stage", "live") + ".querySelector('button.join').click()")
    page.wait_for("document.getElementById('control-status').textContent.startsWith('joined as ')", 20)
    own = page.evaluate("document.getElementById('control-status').textContent").split()[-1]
    video = f"document.querySelector('figure.tile[data-participant-id=\"{own}\"] video')"
    page.wait_for(f"{video} && {video}.videoWidth === 320 && {video}.currentTime > 0.5", 30)
    first = brightness(page, video)
    assert first > 40, first                                      # green and white, not black
    frames = f"{video}.getVideoPlaybackQuality().totalVideoFrames"
    counted = page.evaluate(frames)
    page.wait_for(f"{frames} >= {counted + 10}", 15)              # still playing: the pattern moves
    session_id = ivs.get_stage(arn=stage["arn"])["stage"]["activeSessionId"]
    listed = {p["userId"]: p for p in ivs.list_participants(stageArn=stage["arn"], sessionId=session_id)["participants"]}
    assert listed["console"]["published"] is True and listed["console"]["participantId"] == own
    assert ivs.get_participant(stageArn=stage["arn"], sessionId=session_id,
                               participantId=own)["participant"]["protocol"] == "WHIP"
    viewer = listed["console-viewer"]
    events = ivs.list_participant_events(stageArn=stage["arn"], sessionId=session_id,
                                         participantId=viewer["participantId"])["events"]
    assert any(e["name"] == "SUBSCRIBE_STARTED" and e["remoteParticipantId"] == own for e in events)

    # Leave: the publication ends (PUBLISH_STOPPED), the tile goes.
    mine = f"document.querySelector('li.participant[data-participant-id=\"{own}\"]')"
    page.evaluate(f"{mine}.querySelector('button.leave').click()")
    page.wait_for(f"!document.querySelector('figure.tile[data-participant-id=\"{own}\"]')", 20)
    got = ivs.get_participant(stageArn=stage["arn"], sessionId=session_id, participantId=own)["participant"]
    assert got["published"] is False or got["state"] == "DISCONNECTED"


class GreenPattern:
    """aiortc as an independent WHIP publisher: green frames with a moving white bar, on an
    event loop of its own (the test drives the page meanwhile)."""

    def __init__(self, whip_url: str, participant_id: str, token: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.peer = asyncio.run_coroutine_threadsafe(self._publish(whip_url, participant_id, token), self.loop).result(30)

    async def _publish(self, whip_url: str, participant_id: str, token: str):
        class Pattern(VideoStreamTrack):
            async def recv(self):
                pts, time_base = await self.next_timestamp()
                picture = np.zeros((240, 320, 3), np.uint8)
                picture[:, :, 1] = 180
                column = (pts // 3000) % 300
                picture[:, column:column + 20, :] = 255
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts, frame.time_base = pts, time_base
                return frame

        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer.addTrack(Pattern())
        await peer.setLocalDescription(await peer.createOffer())
        answer = await asyncio.to_thread(requests.post, f"{whip_url}/publish/{participant_id}", timeout=20,
                                         data=peer.localDescription.sdp.encode(),
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"})
        assert answer.status_code == 201, answer.text
        await peer.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        return peer

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.peer.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_an_aiortc_whip_publisher_shows_as_a_live_tile_and_goes(server, page):
    show(page, "ivs-realtime")
    ivs = client(server, "ivs-realtime")
    stage = ivs.create_stage(name="cams")["stage"]
    token = ivs.create_participant_token(stageArn=stage["arn"], userId="cam")["participantToken"]
    publisher = GreenPattern(stage["endpoints"]["whip"], token["participantId"], token["token"])
    try:
        video = f"document.querySelector('figure.tile[data-participant-id=\"{token['participantId']}\"] video')"
        page.wait_for(f"{video} && {video}.videoWidth === 320 && {video}.currentTime > 0.5", 30)
        assert brightness(page, video) > 60                       # green and white, not black
        green = page.evaluate(f"(function (v) {{ var c = document.createElement('canvas'); c.width = 32; c.height = 24;"
                              f" var x = c.getContext('2d'); x.drawImage(v, 0, 0, 32, 24); var d = x.getImageData(0, 0, 32, 24).data,"
                              f" r = 0, g = 0; for (var i = 0; i < d.length; i += 4) {{ r += d[i]; g += d[i + 1]; }}"
                              f" return g > 1.5 * r; }})({video})")
        assert green, "the tile shows the publisher's green picture"
    finally:
        publisher.close()
    page.wait_for(f"!document.querySelector('figure.tile[data-participant-id=\"{token['participantId']}\"]')", 30)


def test_console_ivs_token_and_gamelift_connect_refuse_bad_input(launch):
    running = launch("--ephemeral")
    base = f"{running.base_url}/_greenroom/console"
    scope = {"account": ACCOUNT, "region": REGION}
    for body in ({}, {**scope}, {**scope, "stageArn": "arn:aws:ivs:us-west-2:123456789012:stage/x"},
                 {**scope, "stageArn": 7, "use": "publish"}):
        answer = requests.post(f"{base}/ivs-token", json=body, timeout=10)
        assert answer.status_code == 400, (body, answer.text)
    missing = requests.post(f"{base}/ivs-token", timeout=10, json={
        **scope, "stageArn": f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/absent", "use": "subscribe"})
    assert missing.status_code == 404, missing.text
    for body in ({**scope}, {**scope, "streamGroupId": "sg-1", "sessionArn": "x"},
                 {**scope, "streamGroupId": "sg-1", "sessionArn": "x", "signalRequest": 3}):
        answer = requests.post(f"{base}/gamelift-connect", json=body, timeout=10)
        assert answer.status_code == 400, (body, answer.text)


def recorded_participant(server, ivs, user: str) -> tuple[dict, dict, str]:
    """A stage recording its participants to the bucket ``recordings``, and ``user`` joined and
    publishing there: (stage, the join's answer, the recording's S3 prefix)."""
    storage = ivs.create_storage_configuration(s3={"bucketName": "recordings"})["storageConfiguration"]
    stage = ivs.create_stage(name="taped", autoParticipantRecordingConfiguration={
        "storageConfigurationArn": storage["arn"], "mediaTypes": ["AUDIO_VIDEO"]})["stage"]
    token = ivs.create_participant_token(stageArn=stage["arn"], userId=user)["participantToken"]
    joined = server.admin("POST", "ivs-realtime/join", {"token": token["token"], "protocol": "WHIP"}).json()
    server.admin("POST", f"ivs-realtime/participants/{joined['participantId']}/publish").raise_for_status()
    prefix = ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                 participantId=joined["participantId"])["participant"]["recordingS3Prefix"]
    return stage, joined, prefix


def test_a_recording_with_an_hls_playlist_plays_in_the_stage_view(server, page):
    """An IVS participant's recording: what its prefix holds in the S3 stand-in is listed, and an
    HLS playlist there plays (written here by ffmpeg, as the recording media will be)."""
    need(shutil.which("ffmpeg") is not None, "ffmpeg (apt: ffmpeg)")
    show(page, "ivs-realtime")
    ivs = client(server, "ivs-realtime")
    stage, joined, prefix = recorded_participant(server, ivs, "carol")
    folder = server.s3_dir / "recordings" / prefix / "media" / "hls"
    folder.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "4",
                    "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "1",
                    "-hls_playlist_type", "vod", str(folder / "playlist.m3u8")], check=True, timeout=60)
    # Objects are not notified: a store change (another participant joining) redraws the view.
    other = ivs.create_participant_token(stageArn=stage["arn"], userId="dave")["participantToken"]
    server.admin("POST", "ivs-realtime/join", {"token": other["token"], "protocol": "WHIP"}).raise_for_status()
    person = f"document.querySelector('li.participant[data-participant-id=\"{joined['participantId']}\"]')"
    page.wait_for(f"{person} && {person}.querySelector('.recording button.play-recording')")
    assert "recording" in page.evaluate(f"{person}.querySelector('.facts').textContent")
    page.evaluate(f"{person}.querySelector('.recording button.play-recording').click()")
    page.wait_for("document.getElementById('player-status').textContent === 'playing recording'", 30)
    page.wait_for("(function (v) { return v.currentTime > 1 && v.videoWidth === 320; })(document.getElementById('player'))", 30)


def test_nimble_faults_armed_from_the_page(server, page):
    show(page, "nimble")
    nimble = client(server, "nimble")
    nimble.create_studio(studioName="lot", displayName="The Lot", adminRoleArn=f"arn:aws:iam::{ACCOUNT}:role/Admin",
                         userRoleArn=f"arn:aws:iam::{ACCOUNT}:role/User")
    page.wait_for("document.querySelector('.tree') && document.querySelector('.tree').innerText.includes('The Lot')")
    page.evaluate("var f = document.getElementById('arm-fault'); f.operation.value = 'CreateStreamingSession';"
                  "f.operation.dispatchEvent(new Event('change')); f.statusCode.value = 'INSUFFICIENT_CAPACITY';"
                  "f.count.value = '2'; f.querySelector('button[type=submit]').click()")
    page.wait_for("document.getElementById('faults').innerText.includes('CreateStreamingSession → INSUFFICIENT_CAPACITY (2 left)')")
    armed = server.admin("GET", f"nimble/faults?account={ACCOUNT}&region={REGION}").json()
    assert [(f["operation"], f["statusCode"], f["remaining"]) for f in armed["faults"]] == \
        [("CreateStreamingSession", "INSUFFICIENT_CAPACITY", 2)]


def test_the_page_sends_the_admin_token_of_a_protected_server(launch):
    chromium()
    protected = launch("--ephemeral", "--admin-token", "s3cret")
    page = DevToolsPage(protected.base_url + "/_greenroom/console")
    try:
        page.wait_for("document.getElementById('clock-mode').textContent === 'real'")
        page.evaluate("document.getElementById('clock-freeze').click()")
        page.wait_for("document.getElementById('control-status').textContent.includes('admin token')")
        assert protected.admin("GET", "clock").json()["mode"] == "real"
        page.evaluate("var t = document.getElementById('admin-token'); t.value = 's3cret';"
                      "t.dispatchEvent(new Event('change')); document.getElementById('clock-freeze').click()")
        page.wait_for("document.getElementById('clock-mode').textContent === 'manual'")
        assert protected.admin("GET", "clock").json()["mode"] == "manual"
    finally:
        page.close()


def test_recordings_in_the_s3_stand_in_are_listed_and_served(launch, tmp_path):
    """Without a browser: the live socket's IVS view lists what a participant's recording has
    in the S3 stand-in (--s3-dir), and console/s3/ serves it for the player."""
    running = launch("--ephemeral", "--s3-dir", str(tmp_path))
    ivs = make_client("ivs-realtime", running.base_url, region=REGION, aws_access_key_id=ACCOUNT)
    stage, joined, prefix = recorded_participant(running, ivs, "bob")
    playlist = tmp_path / "recordings" / prefix / "media" / "hls" / "playlist.m3u8"
    playlist.parent.mkdir(parents=True)
    playlist.write_text("#EXTM3U\n#EXT-X-ENDLIST\n")

    with connect(running.base_url.replace("http", "ws", 1) + "/_greenroom/console/live", open_timeout=10) as socket:
        socket.send(json.dumps({"account": ACCOUNT, "region": REGION, "service": "ivs-realtime"}))
        deadline = time.monotonic() + 10
        while True:
            news = json.loads(socket.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            sessions = news.get("extras", {}).get("stages", {}).get(stage["arn"])
            if sessions:
                break
    participant = next(p for p in sessions[0]["participants"] if p["participantId"] == joined["participantId"])
    assert participant["recordingState"] in ("STARTING", "ACTIVE")
    key = f"{prefix}/media/hls/playlist.m3u8"
    assert participant["recordedObjects"] == [key]
    served = requests.get(f"{running.base_url}/_greenroom/console/s3/recordings/{key}", timeout=10)
    assert served.status_code == 200 and served.text.startswith("#EXTM3U")
    assert served.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert requests.get(f"{running.base_url}/_greenroom/console/s3/recordings/{prefix}/absent.ts", timeout=10).status_code == 404


def test_describe_answers_as_each_services_describe_or_get(launch):
    """console/describe, for a kind of each service: the Describe/Get operation's answer."""
    running = launch("--ephemeral")

    def described(kind: str, record: dict) -> dict:
        answer = requests.post(f"{running.base_url}/_greenroom/console/describe", timeout=10,
                               json={"account": ACCOUNT, "region": REGION, "kind": kind, "record": record})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def stored(service: str, kind: str) -> dict:
        query = f"resources?account={ACCOUNT}&region={REGION}&service={service}"
        return running.admin("GET", query).json()["resources"][kind][0]

    def api(name: str):
        return make_client(name, running.base_url, region=REGION, aws_access_key_id=ACCOUNT)

    api("kinesisvideo").create_stream(StreamName="cam")
    api("kinesisvideo").create_signaling_channel(ChannelName="door")
    api("ivs-realtime").create_stage(name="studio")
    api("nimble").create_studio(studioName="lot", displayName="The Lot", adminRoleArn=f"arn:aws:iam::{ACCOUNT}:role/A",
                                userRoleArn=f"arn:aws:iam::{ACCOUNT}:role/U")
    stream = described("kinesisvideo:stream", stored("kinesisvideo", "kinesisvideo:stream"))
    assert stream["operation"] == "DescribeStream" and stream["description"]["StreamInfo"]["StreamName"] == "cam"
    channel = described("kinesisvideo:channel", stored("kinesisvideo", "kinesisvideo:channel"))
    assert channel["description"]["ChannelInfo"]["ChannelName"] == "door"
    stage = described("ivs-realtime:stage", stored("ivs-realtime", "ivs-realtime:stage"))
    assert stage["operation"] == "GetStage" and stage["description"]["stage"]["name"] == "studio"
    studio = described("nimble:studio", stored("nimble", "nimble:studio"))
    assert studio["operation"] == "GetStudio" and studio["description"]["studio"]["displayName"] == "The Lot"
    unknown = requests.post(f"{running.base_url}/_greenroom/console/describe", timeout=10,
                            json={"account": ACCOUNT, "region": REGION, "kind": "nimble:fault", "record": {}})
    assert unknown.status_code == 404
