"""Fixtures of the core tests."""
from __future__ import annotations

import pytest

from core_support import EPOCH, in_process
from support import Driver


@pytest.fixture
def local(db_url):
    """An in-process emulator on a SQLite file and on a fresh PostgreSQL schema (manual clock)."""
    driver = in_process(db_url)
    yield driver
    driver.close()


@pytest.fixture(params=["server", "mock", "sqlite-file", "postgresql"])
def anywhere(request):
    """The HTTP server and the in-process mock (both in memory), and in-process emulators on a
    SQLite file and on PostgreSQL; the clock is manual, starting at ``EPOCH``."""
    if request.param == "server":
        yield Driver.over_http(request.getfixturevalue("server"), epoch=EPOCH)
        return
    db_url = {"mock": lambda: None,
              "sqlite-file": lambda: f"sqlite:///{request.getfixturevalue('tmp_path') / 'greenroom.db'}",
              "postgresql": lambda: request.getfixturevalue("postgres_url")}[request.param]()
    driver = in_process(db_url, request.param)
    try:
        yield driver
    finally:
        driver.close()
