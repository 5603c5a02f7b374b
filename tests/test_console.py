"""The web console (/_greenroom/console) in headless Chromium, driven through the DevTools
protocol: what boto3 and the admin API do shows up in the page, live, and the page's controls
drive greenroom. Needs ``chromium`` and ``tests/players/node_modules`` (hls.js); ffmpeg makes
the video the LIVE player plays."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import DevToolsPage, Launcher, chromium, make_client, need

HLS_JS = Path(__file__).resolve().parent / "players" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
ACCOUNT, REGION = "123456789012", "us-west-2"


@pytest.fixture(scope="module")
def console_server():
    need(HLS_JS.is_file(), f"hls.js ({HLS_JS}; run `npm ci` in tests/players)")
    chromium()
    launcher = Launcher()
    yield launcher("--ephemeral", env={"GREENROOM_HLS_JS": str(HLS_JS)})
    launcher.close()


@pytest.fixture
def server(console_server):
    """The console's server (serving hls.js), as the root conftest's ``server`` is."""
    return console_server.fresh()


@pytest.fixture
def page(server):
    opened = DevToolsPage(server.base_url + "/_greenroom/console")
    yield opened
    opened.close()


def client(server, name: str):
    return make_client(name, server.base_url, region=REGION, aws_access_key_id=ACCOUNT)


def show(page: DevToolsPage, service: str) -> None:
    page.wait_for("document.getElementById('live-status').textContent === 'live'")
    page.evaluate(f"document.querySelector('#services button[data-service=\"{service}\"]').click()")


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
    assert client(server, "gameliftstreams").get_application(Identifier=app["Id"])["Status"] == "READY"


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
