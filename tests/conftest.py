"""Shared test fixtures: real servers in subprocesses, boto3 clients, both stores."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field

import boto3
import botocore.config
import botocore.session
import pytest
import requests

from greenroom.protocol.models import MODELS_DIR

POSTGRES_URL = os.environ.get("GREENROOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# CI sets this: a missing PostgreSQL must fail the run, not skip its tests silently.
REQUIRE_POSTGRES = os.environ.get("GREENROOM_REQUIRE_POSTGRES") == "1"

CREDENTIALS = {"aws_access_key_id": "AKIDGREENROOMTEST", "aws_secret_access_key": "secret"}


def make_client(service: str, endpoint_url: str | None = None, region: str = "us-east-1", **kwargs):
    """A boto3 client whose loader also finds the models greenroom ships (as AWS_DATA_PATH would)."""
    core = botocore.session.Session()
    core.get_component("data_loader").search_paths.append(str(MODELS_DIR))
    session = boto3.session.Session(botocore_session=core)
    # No client-side validation: greenroom must refuse bad input itself, as for SDKs that send it.
    options = {**CREDENTIALS, "config": botocore.config.Config(parameter_validation=False), **kwargs}
    return session.client(service, endpoint_url=endpoint_url, region_name=region, **options)


# ------------------------------------------------------------------------- PostgreSQL

def _postgres_reason() -> str | None:
    try:
        import psycopg
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as error:  # any failure means: no usable PostgreSQL here
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {error}"


@pytest.fixture(scope="session")
def postgres_server_url():
    reason = _postgres_reason()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server_url):
    """A URL whose connections live in a fresh schema of their own, dropped afterwards."""
    import psycopg
    schema = "greenroom_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_server_url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each storage test runs on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'greenroom.db'}"
    return request.getfixturevalue("postgres_url")


# ------------------------------------------------------------------------- servers

@dataclass
class RunningServer:
    process: subprocess.Popen
    base_url: str
    output: list[str] = field(default_factory=list)

    def client(self, service: str, **kwargs):
        return make_client(service, self.base_url, **kwargs)

    def admin(self, method: str, path: str, json=None) -> requests.Response:
        return requests.request(method, f"{self.base_url}/_greenroom/{path}", json=json, timeout=10)

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(timeout=10)


def start_server(*args: str) -> RunningServer:
    """Run ``greenroom serve`` on a free port; returns once it says it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    first_line = process.stdout.readline()
    if "listening on " not in first_line:
        process.kill()
        raise RuntimeError(f"greenroom serve did not start: {first_line}{process.stdout.read()}")
    base_url = first_line.split("listening on ", 1)[1].split()[0]
    return RunningServer(process, base_url, [first_line])


@pytest.fixture
def launch():
    """``launch(*serve_args)`` starts a server of the test's own; all are stopped afterwards."""
    started = []

    def launch_server(*args: str) -> RunningServer:
        started.append(start_server(*args))
        return started[-1]

    yield launch_server
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def shared_server():
    server = start_server("--ephemeral")
    yield server
    server.stop()


@pytest.fixture
def server(shared_server):
    """The session's ephemeral server, reset to an empty state with a real clock."""
    shared_server.admin("POST", "reset").raise_for_status()
    shared_server.admin("POST", "clock", {"mode": "real"}).raise_for_status()
    return shared_server


@pytest.fixture(params=["server", "mock"])
def emulated(request):
    """Run a test once against the HTTP server and once in process: both must behave alike.

    Yields an object with ``client(name)`` and ``advance(seconds)``.
    """
    if request.param == "server":
        server = request.getfixturevalue("server")
        server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
        yield _Driver(server.client, lambda s: server.admin("POST", "clock", {"advance": s}).raise_for_status())
    else:
        import greenroom
        with greenroom.mock() as mock:
            mock.clock.freeze()
            yield _Driver(lambda name, **kw: make_client(name, **kw), mock.clock.advance)


@dataclass
class _Driver:
    client: callable
    advance: callable
