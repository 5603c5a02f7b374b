"""Real players decide: ffprobe/ffmpeg read greenroom's HLS playlists (fMP4 and MPEG-TS), DASH
manifest and GetClip MP4 end to end, and headless Chromium plays an HLS session with hls.js.

Each test needs an outside tool (Debian's ``ffmpeg`` package for ffprobe/ffmpeg, ``chromium``, and
``tests/players/node_modules/hls.js`` from ``cd tests/players && npm ci``). A missing tool skips
the test with the reason, unless ``GREENROOM_REQUIRE_PLAYERS=1`` (CI) makes it a failure.

The media is real H.264 (25 fps, 1-second fragments) sent through PutMedia to a real
``greenroom serve``; everything talks to 127.0.0.1 only.
"""
from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from kvs_support import http_put, video_body

REQUIRE_PLAYERS = os.environ.get("GREENROOM_REQUIRE_PLAYERS") == "1"
PLAYERS_DIR = Path(__file__).resolve().parents[2] / "players"
HLS_JS = PLAYERS_DIR / "node_modules" / "hls.js" / "dist" / "hls.min.js"
BASE_MS = 1_700_000_000_000
SECONDS = 4
FPS = 25
FRAMES = SECONDS * FPS


def need(found: bool, what: str) -> None:
    """Skip (or, under GREENROOM_REQUIRE_PLAYERS=1, fail) when a player is missing."""
    if found:
        return
    reason = f"{what} not installed (see tests/players/package.json and the README)"
    if REQUIRE_PLAYERS:
        pytest.fail(reason + "; GREENROOM_REQUIRE_PLAYERS=1 requires it")
    pytest.skip(reason)


@pytest.fixture
def ffmpeg_tools() -> None:
    """Requested before ``ingested``: a missing tool skips before any server work."""
    need(bool(shutil.which("ffprobe")) and bool(shutil.which("ffmpeg")), "ffprobe/ffmpeg (apt: ffmpeg)")


@pytest.fixture
def chromium_player() -> str:
    """The Chromium executable, once hls.js is known to be installed too."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    need(browser is not None, "chromium (apt: chromium)")
    need(HLS_JS.is_file(), f"hls.js ({HLS_JS}; run `npm ci` in tests/players)")
    return browser


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def whole_range() -> dict:
    return {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": at(BASE_MS), "EndTimestamp": at(BASE_MS + SECONDS * 1000)}}


@pytest.fixture
def ingested(server):
    """The shared server holding one stream "cam" of SECONDS s of real H.264. Its clock is manual
    (moved past the stream's CREATING delay), so sessions cannot expire while a player runs."""
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    server.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=24)
    server.admin("POST", "clock", {"advance": 1}).raise_for_status()
    acks = http_put(server.base_url, list(video_body(SECONDS, FPS)), stream_name="cam", timecode_type="RELATIVE",
                    producer_start_ms=BASE_MS)
    assert [ack["EventType"] for ack in acks if ack.get("EventType") == "PERSISTED"] == ["PERSISTED"] * SECONDS, acks
    return server


def hls_url(server, **options) -> str:
    archived = server.client("kinesis-video-archived-media")
    return archived.get_hls_streaming_session_url(
        StreamName="cam", PlaybackMode="ON_DEMAND", HLSFragmentSelector=whole_range(), **options,
    )["HLSStreamingSessionURL"]


def run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def decode_cleanly(source: str) -> None:
    """ffmpeg decodes every packet of ``source`` and reports nothing at level error."""
    result = run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", source, "-f", "null", "-"])
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def probe_video(source: str) -> tuple[int, list[float], dict]:
    """(decoded video frame count, their presentation times, the container's format section)."""
    result = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_frames", "-show_format",
                  "-show_entries", "frame=pts_time,best_effort_timestamp_time:format=format_name,duration",
                  "-of", "json", source])
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    report = json.loads(result.stdout)
    times = [float(frame.get("pts_time", frame.get("best_effort_timestamp_time"))) for frame in report["frames"]]
    return len(report["frames"]), times, report["format"]


def assert_plays_whole_video(source: str, expect_format: str) -> None:
    decode_cleanly(source)
    count, times, container = probe_video(source)
    assert expect_format in container["format_name"]
    assert count == FRAMES
    assert times == sorted(times)
    # First to last frame spans (FRAMES - 1) frame intervals; the container lasts one frame longer.
    assert times[-1] - times[0] == pytest.approx((FRAMES - 1) / FPS, abs=0.01)
    assert float(container["duration"]) == pytest.approx(SECONDS, abs=0.1)


# ---------------------------------------------------------------------------- ffmpeg / ffprobe

@pytest.mark.parametrize("container", ["FRAGMENTED_MP4", "MPEG_TS"])
def test_ffmpeg_plays_the_hls_session_end_to_end(ffmpeg_tools, ingested, container):
    assert_plays_whole_video(hls_url(ingested, ContainerFormat=container), "hls")


def test_ffmpeg_plays_the_dash_manifest_end_to_end(ffmpeg_tools, ingested):
    archived = ingested.client("kinesis-video-archived-media")
    url = archived.get_dash_streaming_session_url(
        StreamName="cam", PlaybackMode="ON_DEMAND", DASHFragmentSelector=whole_range())["DASHStreamingSessionURL"]
    assert_plays_whole_video(url, "dash")


def test_ffmpeg_plays_the_clip(ffmpeg_tools, ingested, tmp_path):
    archived = ingested.client("kinesis-video-archived-media")
    clip = archived.get_clip(StreamName="cam", ClipFragmentSelector=whole_range())
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip["Payload"].read())
    assert_plays_whole_video(str(path), "mp4")


# ---------------------------------------------------------------------------- Chromium + hls.js

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><script src="/hls.min.js"></script></head>
<body><video id="video" muted autoplay playsinline></video>
<script>
// Reports the player's progress to the test's server: currentTime, and any error.
function report(what) {
  fetch("/report", {method: "POST", body: JSON.stringify(what)}).catch(function () {});
}
var video = document.getElementById("video");
var source = %(url)s;
if (!Hls.isSupported()) {
  report({error: "hls.js: MediaSource unsupported"});
} else {
  var hls = new Hls();
  hls.on(Hls.Events.ERROR, function (event, data) {
    report({error: data.type + "/" + data.details, fatal: data.fatal});
  });
  hls.loadSource(source);
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, function () { video.play().catch(function (e) { report({error: String(e)}); }); });
  video.addEventListener("timeupdate", function () { report({currentTime: video.currentTime}); });
  video.addEventListener("ended", function () { report({ended: true, currentTime: video.currentTime}); });
}
</script></body></html>
"""


class PageServer:
    """A small HTTP server on 127.0.0.1 serving the player page and hls.js, collecting reports."""

    def __init__(self, greenroom_url: str):
        page = (PAGE % {"url": json.dumps(greenroom_url)}).encode()
        script = HLS_JS.read_bytes()
        self.reports: queue.Queue = queue.Queue()
        reports = self.reports

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, kind = {"/": (page, "text/html"), "/hls.min.js": (script, "text/javascript")}.get(
                    self.path, (b"", ""))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", kind or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                reports.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_chromium_plays_the_hls_session_with_hls_js(chromium_player, ingested):
    """Chromium runs headless (no display, sandbox off for containers, no network of its own) on a
    page of another origin than greenroom (hls.js fetches with CORS); the page POSTs
    ``video.currentTime`` on every timeupdate to the test's server, and the test waits until the
    video has played past 2 s of its 4 — real playback, decoded by Chromium's own media stack."""
    pages = PageServer(hls_url(ingested, ContainerFormat="FRAGMENTED_MP4"))
    profile = tempfile.mkdtemp(prefix="greenroom-chromium-")
    process = subprocess.Popen(
        [chromium_player, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--autoplay-policy=no-user-gesture-required",
         "--remote-debugging-port=0", pages.url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: list[dict] = []
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            try:
                seen.append(pages.reports.get(timeout=0.5))
            except queue.Empty:
                assert process.poll() is None, process.stderr.read().decode(errors="replace")[-3000:]
                continue
            fatal = [r for r in seen if r.get("error") and r.get("fatal", True)]
            assert not fatal, seen
            if seen[-1].get("currentTime", 0) > 2.0:
                break
    finally:
        process.kill()
        process.wait(10)
        process.stderr.close()
        pages.close()
        shutil.rmtree(profile, ignore_errors=True)
    times = [r["currentTime"] for r in seen if "currentTime" in r]
    assert times and max(times) > 2.0, seen
    assert times == sorted(times), times   # it advanced, never jumped back
