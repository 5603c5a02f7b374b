"""``greenroom kvs put-media``: any file PyAV reads, through PutMedia, acknowledgements printed."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import boto3
import pytest

from kvs_support import video_path
from support import DEFAULT_KEY


def run_cli(server, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": DEFAULT_KEY,
                   "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([sys.executable, "-m", "greenroom.cli", "kvs", "put-media", "--endpoint", server.base_url,
                           *args], capture_output=True, text=True, timeout=timeout, env=environment)


def test_put_media_command_streams_an_mp4_in_a_loop(plain_http_kvs, server):
    plain_http_kvs.create_active_stream()
    done = run_cli(server, "--stream", "cam", "--loops", "2", video_path(2.0, 25, audio=True, container="mp4"))
    assert done.returncode == 0, done.stderr
    acks = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 4
    # One fragment per keyframe (a second apart; AAC priming puts the first video frame a few
    # milliseconds after the first audio frame), timecodes growing through the loop.
    timecodes = [a["FragmentTimecode"] for a in acks if a["EventType"] == "RECEIVED"]
    assert timecodes[0] == 0 and all(950 <= b - a <= 1050 for a, b in zip(timecodes, timecodes[1:]))
    assert "4 fragments received, 0 errors" in done.stderr
    listed = plain_http_kvs.fragments()
    assert [f["FragmentNumber"] for f in listed] == [a["FragmentNumber"] for a in acks if a["EventType"] == "RECEIVED"]


def test_put_media_command_in_real_time(plain_http_kvs, server):
    plain_http_kvs.create_active_stream()
    started = time.monotonic()
    done = run_cli(server, "--stream", "cam", "--realtime", "--no-audio", video_path(1.0, 25, container="mpegts"))
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["EventType"] for line in done.stdout.splitlines()] == ["BUFFERING", "RECEIVED", "PERSISTED"]
    assert elapsed >= 1.0  # one second of media takes a second


def test_put_media_command_errors(plain_http_kvs, server):
    done = run_cli(server, "--stream", "missing", video_path(1.0, 25))
    assert done.returncode == 2 and "ResourceNotFoundException" in done.stderr
    arn = plain_http_kvs.create_active_stream("gone")
    plain_http_kvs.client("kinesisvideo").delete_stream(StreamARN=arn)  # DELETING
    done = run_cli(server, "--stream", "gone", video_path(1.0, 25))
    assert done.returncode == 1
    assert [json.loads(line)["ErrorId"] for line in done.stdout.splitlines()] == [4008]


def test_put_media_command_right_after_create_stream(plain_http_kvs, server):
    """A stream still CREATING takes media at once (the SDKs' create-then-stream flow)."""
    plain_http_kvs.client("kinesisvideo").create_stream(StreamName="new")
    done = run_cli(server, "--stream", "new", "--no-audio", video_path(1.0, 25))
    assert done.returncode == 0, done.stderr
    # No retention (CreateStream's default): received, never persisted.
    assert [json.loads(line)["EventType"] for line in done.stdout.splitlines()] == ["BUFFERING", "RECEIVED"]


# ---------------------------------------------------------------------------- as an AWS user expects it

def put_media_command(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """The command with exactly the environment given (plus what Python needs)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "greenroom.cli", "kvs", "put-media", *args],
                          capture_output=True, text=True, timeout=timeout, env=environment)


def test_files_that_cannot_be_streamed_fail_at_once_before_connecting(tmp_path):
    """A missing file, a directory or a file that is no media: one line, exit 2, and no
    connection to the endpoint at all (a listener of the test's own sees none)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    text = tmp_path / "notes.mp4"
    text.write_text("not a video, whatever its name says\n")
    try:
        for path, reason in ((tmp_path / "missing.mkv", "no such file"), (tmp_path, "is a directory"),
                             (text, "not a media file")):
            # (a hang would end in TimeoutExpired: the old command waited 30 s, then exited 0)
            done = put_media_command("--endpoint-url", endpoint, "--stream-name", "cam", str(path), env={},
                                     timeout=20)
            assert done.returncode == 2
            assert done.stdout == ""
            assert done.stderr.count("\n") == 1 and str(path) in done.stderr and reason in done.stderr, done.stderr
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_endpoint_from_the_flag_and_the_environment(plain_http_kvs, server):
    plain_http_kvs.create_active_stream()
    keys = {"AWS_ACCESS_KEY_ID": DEFAULT_KEY, "AWS_SECRET_ACCESS_KEY": "secret"}
    clip = video_path(1.0, 25)
    for args, env in ((["--endpoint-url", server.base_url], {}),
                      ([], {"AWS_ENDPOINT_URL_KINESIS_VIDEO": server.base_url,
                            "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}),   # the service's own wins
                      ([], {"AWS_ENDPOINT_URL": server.base_url})):
        done = put_media_command(*args, "--stream-name", "cam", "--region", "us-east-1", clip, env={**keys, **env})
        assert done.returncode == 0, done.stderr
        assert "1 fragments received, 0 errors" in done.stderr
    assert len(plain_http_kvs.fragments()) == 3


def test_profile_credentials_find_the_accounts_stream(plain_http_kvs, server, tmp_path, monkeypatch):
    """A stream created with a profile whose key is a 12-digit account id lives in that account;
    the command with the same profile (the standard credential chain) streams into it."""
    (tmp_path / "credentials").write_text("[camera]\naws_access_key_id = 123456789012\n"
                                          "aws_secret_access_key = secret\n")
    (tmp_path / "config").write_text("[profile camera]\nregion = eu-west-1\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_CONFIG_FILE": str(tmp_path / "config")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    control = boto3.session.Session(profile_name="camera").client("kinesisvideo", endpoint_url=server.base_url)
    arn = control.create_stream(StreamName="porch", DataRetentionInHours=1)["StreamARN"]
    assert ":123456789012:" in arn and ":eu-west-1:" in arn
    clip = video_path(1.0, 25)
    done = put_media_command("--endpoint-url", server.base_url, "--profile", "camera", "--stream-name", "porch", clip,
                             env=env)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["EventType"] for line in done.stdout.splitlines()] == ["BUFFERING", "RECEIVED", "PERSISTED"]
    # The default account (no profile, another key) has no such stream.
    done = put_media_command("--endpoint-url", server.base_url, "--stream-name", "porch", "--region", "eu-west-1",
                             clip, env={"AWS_ACCESS_KEY_ID": DEFAULT_KEY, "AWS_SECRET_ACCESS_KEY": "secret"})
    assert done.returncode == 2 and "ResourceNotFoundException" in done.stderr
    done = put_media_command("--endpoint-url", server.base_url, "--profile", "nobody", "--stream-name", "porch", clip,
                             env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "nobody" in done.stderr


def test_over_https_trusting_aws_ca_bundle_alone(https_server):
    """One variable, as for the AWS CLI: AWS_CA_BUNDLE makes boto3 and the producer trust
    greenroom's CA (no SSL_CERT_FILE)."""
    https_server.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=1)
    done = put_media_command("--endpoint-url", https_server.base_url, "--stream-name", "cam", video_path(1.0, 25),
                             env={"AWS_ACCESS_KEY_ID": DEFAULT_KEY, "AWS_SECRET_ACCESS_KEY": "secret",
                                  "AWS_CA_BUNDLE": https_server.ca_file, "SSL_CERT_FILE": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["EventType"] for line in done.stdout.splitlines()] == ["BUFFERING", "RECEIVED", "PERSISTED"]
