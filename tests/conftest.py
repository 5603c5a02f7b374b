"""Shared test fixtures: real servers in subprocesses, boto3 clients, both stores."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests
from support import Launcher, both_modes

from greenroom import services
from greenroom.core.records import RECORDS
from greenroom.core.store import Resources
from greenroom.services.ivs_realtime import tables as ivs_tables
from greenroom.services.ivs_realtime.common import PARTICIPANT


@pytest.fixture(autouse=True)
def stored_private_fields_are_declared(monkeypatch):
    """core.records.Record's ``private`` is enforced: every greenroom field (``_``) a handler
    stores, in process (the mock, transitions), is declared in its kind's Record."""
    services.load_all()
    undeclared: set[str] = set()

    def checked(write, kind_of):
        def write_checked(*args, **kwargs):
            kind, document = kind_of(*args)
            record = RECORDS.get(kind)
            if record is not None:
                undeclared.update(f"{kind} {name}" for name in record.undeclared(document))
            return write(*args, **kwargs)
        return write_checked

    monkeypatch.setattr(Resources, "insert", checked(Resources.insert, lambda self, kind, id, data: (kind, data)))
    monkeypatch.setattr(Resources, "update", checked(Resources.update, lambda self, kind, id, data: (kind, data)))
    for name in ("insert_participant", "update_participant"):
        monkeypatch.setattr(ivs_tables, name, checked(getattr(ivs_tables, name),
                                                      lambda conn, account, region, data: (PARTICIPANT, data)))
    yield
    assert not undeclared, f"stored fields their Record does not declare private: {sorted(undeclared)}"

POSTGRES_URL = os.environ.get("GREENROOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# CI sets this: a missing PostgreSQL must fail the run, not skip its tests silently.
REQUIRE_POSTGRES = os.environ.get("GREENROOM_REQUIRE_POSTGRES") == "1"

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

@pytest.fixture
def launch():
    """``launch(*serve_args)`` / ``launch.many([...])``: servers of the test's own, killed afterwards."""
    launcher = Launcher()
    yield launcher
    launcher.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """Plain HTTP on ``base_url`` and HTTPS on ``tls_url`` (its CA in a directory of the session)."""
    launcher = Launcher()
    yield launcher("--ephemeral", "--tls-port", "0", env={"XDG_DATA_HOME": str(tmp_path_factory.mktemp("xdg"))})
    launcher.close()


@pytest.fixture
def server(shared_server):
    """The session's ephemeral server, reset to an empty state with a real clock."""
    return shared_server.fresh()


@pytest.fixture
def https_server(server):
    """``server`` through its HTTPS listener: ``base_url`` is https://, ``client()`` and ``admin()``
    trust greenroom's CA (``ca_file``) and nothing else. Parametrize over ``server`` and
    ``https_server`` (``request.getfixturevalue``) to run a test over both."""
    return server.over_https()


@pytest.fixture(params=["server", "mock"])
def emulated(request):
    """Run a test once against the HTTP server and once in process: both must behave alike
    (a ``support.Driver``, manual clock)."""
    yield from both_modes(request)


# ------------------------------------------------------------------------- S3

@pytest.fixture
def moto_server():
    """moto's S3 server in a subprocess (on a free port), its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
