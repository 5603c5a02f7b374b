"""`greenroom serve` and the other commands, as a user runs them."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from urllib.parse import quote

import pytest

from support import DEFAULT_ACCOUNT


def test_health_reports_services(server):
    health = server.admin("GET", "health").json()
    assert health["status"] == "ok"
    assert health["services"]["ivs-realtime"]["total"] == 40
    assert health["services"]["gameliftstreams"]["total"] == 30
    assert health["services"]["nimble"]["total"] == 49
    assert health["services"]["kinesisvideo"]["total"] == 32
    assert health["services"]["kinesisvideo"]["implemented"] >= 4
    assert health["services"]["kinesis-video-signaling"]["total"] == 2
    assert health["services"]["kinesis-video-webrtc-storage"]["total"] == 2
    assert isinstance(health["stun"]["port"], int) and health["stun"]["port"] > 0   # KVS ICE servers


def test_reset_forgets_state(server):
    kv = server.client("kinesisvideo")
    kv.create_stream(StreamName="cam")
    assert server.admin("POST", "reset").status_code == 200
    assert kv.list_streams()["StreamInfoList"] == []


def test_admin_errors_are_json(server):
    assert server.admin("GET", "nothing-here").status_code == 404
    wrong_method = server.admin("GET", "reset")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.json()["message"]
    response = server.admin("POST", "delays", {"no.such.delay": 1})
    assert response.status_code == 400 and "no.such.delay" in response.json()["message"]
    response = server.admin("POST", "clock", {"advance": -5})
    assert response.status_code == 400 and "message" in response.json()


def test_state_survives_a_restart(tmp_path, launch):
    first = launch("--data-dir", str(tmp_path))
    first.client("kinesisvideo").create_stream(StreamName="kept")
    first.stop()
    second = launch("--data-dir", str(tmp_path))
    names = [s["StreamName"] for s in second.client("kinesisvideo").list_streams()["StreamInfoList"]]
    assert names == ["kept"]


def test_requests_are_logged_one_line_each(launch):
    running = launch("--ephemeral")
    running.client("kinesisvideo").list_streams()
    running.stop()
    log = running.log()
    assert "POST /listStreams kinesisvideo ListStreams 200" in log


def test_admin_requests_are_logged_with_service_and_operation(launch):
    running = launch("--ephemeral")
    running.admin("POST", "clock", {"advance": 1})
    running.stop()
    assert "POST /_greenroom/clock greenroom ChangeClock 200" in running.log()


def test_json_request_log_is_one_object_a_line(launch):
    running = launch("--ephemeral", "--log-format", "json")
    running.client("kinesisvideo").list_streams()
    with pytest.raises(Exception):
        running.client("kinesisvideo").describe_stream(StreamName="absent")
    running.stop()
    lines = [json.loads(line) for line in running.log().splitlines() if line.startswith("{")]
    listed = next(line for line in lines if line["operation"] == "ListStreams")
    assert listed["service"] == "kinesisvideo" and listed["status"] == 200 and listed["error"] is None
    assert listed["duration_ms"] >= 0 and listed["time"].endswith("Z")
    missing = next(line for line in lines if line["operation"] == "DescribeStream")
    assert missing["status"] == 404 and "absent" in missing["error"]


def test_request_log_keeps_the_last_requests(server):
    kv = server.client("kinesisvideo")
    kv.create_stream(StreamName="logged")
    with pytest.raises(Exception):
        kv.create_stream(StreamName="logged")
    entries = server.admin("GET", "requests").json()["requests"]
    created = [e for e in entries if e["operation"] == "CreateStream"][-2:]
    assert [e["status"] for e in created] == [200, 400]
    assert created[1]["service"] == "kinesisvideo" and "logged" in created[1]["error"]
    newer = server.admin("GET", f"requests?after={created[1]['id']}").json()["requests"]
    assert all(e["id"] > created[1]["id"] for e in newer)


def test_greenroom_logs_follows_requests_as_json_lines(launch):
    running = launch("--ephemeral", "--admin-token", "s3cret")
    running.client("kinesisvideo").list_streams()
    command = [sys.executable, "-m", "greenroom.cli", "logs", "--endpoint-url", running.base_url,
               "--admin-token", "s3cret", "--last", "1"]
    follower = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(follower.stdout.readline())
        assert first["operation"] == "ListStreams" and first["status"] == 200
        running.client("kinesisvideo").create_stream(StreamName="followed")
        with pytest.raises(Exception):
            running.client("kinesisvideo").describe_stream(StreamName="absent")
        created, missing = json.loads(follower.stdout.readline()), json.loads(follower.stdout.readline())
        assert (created["service"], created["operation"], created["status"]) == ("kinesisvideo", "CreateStream", 200)
        assert missing["status"] == 404 and "absent" in missing["error"] and missing["id"] > created["id"]
        assert missing["time"].endswith("Z") and missing["duration_ms"] >= 0
    finally:
        follower.terminate()
        follower.wait(10)
    kept = subprocess.run([*command[:-2], "--last", "3", "--no-follow"], capture_output=True, text=True, timeout=60)
    operations = [json.loads(line)["operation"] for line in kept.stdout.splitlines()]
    assert len(operations) == 3 and [o for o in operations if o != "FollowRequests"][-2:] == ["CreateStream", "DescribeStream"]
    refused = subprocess.run([sys.executable, "-m", "greenroom.cli", "logs", "--endpoint-url", "http://127.0.0.1:9"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "cannot follow" in refused.stderr


def test_root_points_at_console_and_health(server):
    import requests
    answer = requests.get(server.base_url + "/", timeout=10).json()
    assert answer["console"] == server.base_url + "/_greenroom/console"
    assert answer["health"] == server.base_url + "/_greenroom/health"
    assert server.admin("GET", "health").json()["store"] == "memory"


def test_version_and_help():
    from greenroom import __version__
    run = [sys.executable, "-m", "greenroom.cli"]
    version = subprocess.run([*run, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"greenroom {__version__}"
    top = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=60).stdout
    for command in ("serve", "logs", "ca-path", "coverage", "models-path", "kvs put-media"):
        assert command in top
    serve = subprocess.run([*run, "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "{debug,info,warning,error}" in serve and "(default: 4580)" in serve and "(default: 127.0.0.1)" in serve


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_against_the_server(server, tmp_path):
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "123456789012", "AWS_SECRET_ACCESS_KEY": "x",
                   "AWS_DEFAULT_REGION": "eu-central-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    def aws(*args):
        done = subprocess.run(["aws", "--endpoint-url", server.base_url, *args, "--output", "json"],
                              capture_output=True, text=True, env=environment, timeout=60)
        return done
    created = aws("kinesisvideo", "create-stream", "--stream-name", "from-cli")
    assert created.returncode == 0, created.stderr
    assert ":eu-central-1:123456789012:stream/from-cli/" in json.loads(created.stdout)["StreamARN"]
    missing = aws("kinesisvideo", "describe-stream", "--stream-name", "nope")
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_models_path_works_as_aws_data_path():
    path = subprocess.run([sys.executable, "-m", "greenroom.cli", "models-path"],
                          capture_output=True, text=True, check=True).stdout.strip()
    code = ("import boto3; c = boto3.client('nimble', region_name='us-west-2', aws_access_key_id='a',"
            " aws_secret_access_key='b'); print(len(c.meta.service_model.operation_names))")
    environment = {**os.environ, "AWS_DATA_PATH": path}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert done.stdout.strip() == "49", done.stderr


def test_coverage_counts_every_operation():
    from greenroom.core.operations import HANDLERS
    done = subprocess.run([sys.executable, "-m", "greenroom.cli", "coverage", "--json"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["kinesisvideo"]["total"] == 32
    assert "DescribeStream" not in report["kinesisvideo"]["missing"]
    assert report["kinesis-video-signaling"] == {**report["kinesis-video-signaling"], "implemented": 2, "total": 2}
    assert report["kinesis-video-webrtc-storage"]["implemented"] == 2
    for service, entry in report.items():
        assert entry["implemented"] + len(entry["missing"]) == entry["total"]
        assert all((service, name) not in HANDLERS for name in entry["missing"])


def test_no_content_responses_have_no_body(server):
    """TagResource (Nimble Studio's) answers 204 with no body at all: a body would be read by a
    kept-alive client as the start of its next answer. So the next answer on the connection is
    read too, and nothing may stand between the two."""
    nb = server.client("nimble", region="us-west-2")
    arn = nb.create_studio(studioName="raw", displayName="raw", adminRoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/a",
                           userRoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/u")["studio"]["arn"]
    host, port = server.base_url.split("//", 1)[1].rsplit(":", 1)
    body = b'{"tags":{"a":"b"}}'
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            f"POST /2020-08-01/tags/{quote(arn, safe='')} HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/json\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/nimble/aws4_request, "
            f"SignedHeaders=host, Signature=0\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        received = b""
        while b"\r\n\r\n" not in received and (chunk := connection.recv(65536)):
            received += chunk
        # The next answer closes the connection: all the server sent is read, without a wait.
        connection.sendall(f"GET /_greenroom/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        while chunk := connection.recv(65536):
            received += chunk
    first, _, _ = received.partition(b"\r\n\r\n")
    next_answer = received.find(b"HTTP/1.1 ", len(first))
    head, _, rest = received[:next_answer if next_answer >= 0 else len(received)].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204")
    assert rest == b""
