"""Shared test fixtures: real servers in subprocesses, boto3 clients, both stores."""
from __future__ import annotations

import os
import uuid

import pytest
from support import Launcher, both_modes

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
