"""``greenroom serve`` starting and stopping as a user sees it: Ctrl-C stops gracefully (live
PutMedia streams end with their acknowledgements, exit 0, one line), start-up failures are one
line naming the problem, and the admin API takes a token."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import requests

from greenroom.media.testsrc import synthetic_video


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "greenroom.cli", "serve", *args],
                          capture_output=True, text=True, timeout=60)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_ctrl_c_stops_with_one_line_and_exit_0(launch):
    running = launch("--ephemeral")
    running.client("kinesisvideo").list_streams()
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=20) == 0
    running.stop()
    log = running.log()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log
    assert log.strip().splitlines()[-1] == "greenroom stopped"


def test_ctrl_c_ends_a_live_put_media_stream_with_its_acknowledgements(launch, tmp_path):
    from greenroom.media.producer import put_media_file
    running = launch("--ephemeral", "--log-level", "warning")
    control = running.client("kinesisvideo")
    control.create_stream(StreamName="live", DataRetentionInHours=1)
    deadline = time.monotonic() + 20
    while control.describe_stream(StreamName="live")["StreamInfo"]["Status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    endpoint = control.get_data_endpoint(StreamName="live", APIName="PUT_MEDIA")["DataEndpoint"]
    clip = tmp_path / "clip.mkv"
    clip.write_bytes(synthetic_video(seconds=2))
    acks, outcome = [], {}
    persisted = threading.Event()

    def on_ack(ack):
        acks.append(ack)
        if ack["EventType"] == "PERSISTED":
            persisted.set()

    def produce():
        try:  # a live camera, forever: only the server's stop ends it
            outcome["result"] = put_media_file(endpoint, "live", str(clip), realtime=True, loop=True, on_ack=on_ack)
        except Exception as error:
            outcome["error"] = error

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    assert persisted.wait(30), acks
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=20) == 0  # well before PutMedia's idle timeout or the client's
    producer.join(timeout=20)
    assert not producer.is_alive() and "error" not in outcome, outcome
    running.stop()
    assert running.log().strip().splitlines()[-1] == "greenroom stopped"
    result = outcome["result"]
    assert result.of_type("PERSISTED") and result.of_type("RECEIVED")
    assert acks == result.acks  # every acknowledgement came back whole, up to the stream's end
    # The fragments acknowledged are stored: a new server on the same state is not needed to
    # tell, the acknowledgements carry their numbers
    assert all(ack.get("FragmentNumber") for ack in result.of_type("PERSISTED"))


def test_start_up_failures_are_one_line_naming_the_problem(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = serve("--ephemeral", "--port", str(port))
    assert busy.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in one_line(busy.stderr)

    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    unusable = serve("--port", "0", "--data-dir", str(not_a_directory / "state"))
    assert unusable.returncode == 1
    assert f"cannot use the data directory {not_a_directory / 'state'}" in one_line(unusable.stderr)

    unreachable = serve("--port", "0", "--db-url", "postgresql://someone:hunter2@127.0.0.1:1/nothing")
    assert unreachable.returncode == 1
    line = one_line(unreachable.stderr)
    assert "cannot open the store at postgresql://someone:***@127.0.0.1:1/nothing" in line
    assert "hunter2" not in line


def test_the_admin_api_takes_a_token(launch):
    exposed = serve("--ephemeral", "--port", "0", "--host", "0.0.0.0")
    assert exposed.returncode == 2 and "--admin-token" in one_line(exposed.stderr)

    running = launch("--ephemeral", "--admin-token", "s3cret-token")
    refused = running.admin("POST", "reset")
    assert refused.status_code == 401 and "admin token" in refused.json()["message"]
    wrong = running.admin("POST", "clock", {"mode": "manual"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    allowed = running.admin("POST", "clock", {"mode": "manual"}, headers={"Authorization": "Bearer s3cret-token"})
    assert allowed.status_code == 200 and allowed.json()["mode"] == "manual"
    assert running.admin("GET", "health").status_code == 200  # reading needs no token
    # The AWS APIs are not the admin API
    running.client("kinesisvideo").create_stream(StreamName="unaffected")
    assert requests.post(f"{running.base_url}/_greenroom/ivs-realtime/join", json={}, timeout=10).status_code == 401
