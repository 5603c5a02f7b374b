"""``greenroom kvs put-media``: any file PyAV reads, through PutMedia, acknowledgements printed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from kvs_support import video_path
from support import DEFAULT_KEY


def run_cli(server, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": DEFAULT_KEY,
                   "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([sys.executable, "-m", "greenroom.cli", "kvs", "put-media", "--endpoint", server.base_url,
                           *args], capture_output=True, text=True, timeout=timeout, env=environment)


def test_put_media_command_streams_an_mp4_in_a_loop(http_kvs, server):
    http_kvs.create_active_stream()
    done = run_cli(server, "--stream", "cam", "--loops", "2", video_path(2.0, 25, audio=True, container="mp4"))
    assert done.returncode == 0, done.stderr
    acks = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 4
    # One fragment per keyframe (a second apart; AAC priming puts the first video frame a few
    # milliseconds after the first audio frame), timecodes growing through the loop.
    timecodes = [a["FragmentTimecode"] for a in acks if a["EventType"] == "RECEIVED"]
    assert timecodes[0] == 0 and all(950 <= b - a <= 1050 for a, b in zip(timecodes, timecodes[1:]))
    assert "4 fragments received, 0 errors" in done.stderr
    listed = http_kvs.fragments()
    assert [f["FragmentNumber"] for f in listed] == [a["FragmentNumber"] for a in acks if a["EventType"] == "RECEIVED"]


def test_put_media_command_in_real_time(http_kvs, server):
    http_kvs.create_active_stream()
    started = time.monotonic()
    done = run_cli(server, "--stream", "cam", "--realtime", "--no-audio", video_path(1.0, 25, container="mpegts"))
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["EventType"] for line in done.stdout.splitlines()] == ["BUFFERING", "RECEIVED", "PERSISTED"]
    assert elapsed >= 1.0  # one second of media takes a second


def test_put_media_command_errors(http_kvs, server):
    done = run_cli(server, "--stream", "missing", video_path(1.0, 25))
    assert done.returncode == 2 and "ResourceNotFoundException" in done.stderr
    arn = http_kvs.create_active_stream("gone")
    http_kvs.client("kinesisvideo").delete_stream(StreamARN=arn)  # DELETING
    done = run_cli(server, "--stream", "gone", video_path(1.0, 25))
    assert done.returncode == 1
    assert [json.loads(line)["ErrorId"] for line in done.stdout.splitlines()] == [4008]


def test_put_media_command_right_after_create_stream(http_kvs, server):
    """A stream still CREATING takes media at once (the SDKs' create-then-stream flow)."""
    http_kvs.client("kinesisvideo").create_stream(StreamName="new")
    done = run_cli(server, "--stream", "new", "--no-audio", video_path(1.0, 25))
    assert done.returncode == 0, done.stderr
    # No retention (CreateStream's default): received, never persisted.
    assert [json.loads(line)["EventType"] for line in done.stdout.splitlines()] == ["BUFFERING", "RECEIVED"]
