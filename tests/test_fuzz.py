"""A bounded, reproducible fuzz run (tests/fuzzing.py): model-driven inputs for every operation
through boto3 with client validation off, raw HTTP garbage, then every List operation again.
Longer runs: scripts/fuzz.py --requests 100000."""
from __future__ import annotations

import json

from fuzzing import Fuzzer, protocol_garbage

REQUESTS = 3000
SEED = 13


def test_no_input_crashes_a_request_or_poisons_state(launch):
    running = launch("--ephemeral", "--log-level", "warning")
    _fuzz(running, REQUESTS)


def test_no_input_crashes_a_request_on_postgresql(launch, postgres_url):
    """PostgreSQL refuses more than SQLite (NUL, lone surrogates, long values): the same run,
    shorter, on a server whose state is there."""
    running = launch("--db-url", postgres_url, "--log-level", "warning")
    _fuzz(running, REQUESTS // 3)


def _fuzz(running, requests: int) -> None:
    fuzzer = Fuzzer(running.base_url, seed=SEED)
    report = fuzzer.run(requests)
    assert report.requests > requests * 0.9, report.summary()  # most inputs were sent, not refused by botocore
    assert sum(n for s, n in report.statuses.items() if s < 300) > requests // 30, report.summary()
    assert not report.findings, report.summary() + "\n" + "\n".join(map(str, report.findings[:30]))
    # The server is still answering (and answered every List operation in check_lists)
    assert running.admin("GET", "health").json()["status"] == "ok"


def test_requests_the_http_parser_refuses_are_answered_in_json(server):
    for what, status, body in protocol_garbage(server.base_url):
        assert status == 400, what
        assert json.loads(body)["message"] == "Invalid HTTP request received.", what
