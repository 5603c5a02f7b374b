"""Fixtures of the core tests."""
from __future__ import annotations

import pytest

from core_support import EPOCH, Driver, Local


@pytest.fixture
def local(db_url):
    """An in-process emulator on a SQLite file and on a fresh PostgreSQL schema (manual clock)."""
    emulator = Local(db_url)
    yield emulator
    emulator.close()


@pytest.fixture(params=["server", "mock", "sqlite-file", "postgresql"])
def anywhere(request):
    """The HTTP server and the in-process mock (both in memory), and in-process emulators on a
    SQLite file and on PostgreSQL; the clock is manual, starting at ``EPOCH``."""
    if request.param == "server":
        server = request.getfixturevalue("server")
        server.admin("POST", "clock", {"set": EPOCH}).raise_for_status()

        def set_delay(name, seconds):
            server.admin("POST", "delays", {name: seconds}).raise_for_status()

        def reset():
            server.admin("POST", "reset").raise_for_status()
            server.admin("POST", "clock", {"set": EPOCH}).raise_for_status()

        yield Driver("server", server.client,
                     lambda s: server.admin("POST", "clock", {"advance": s}).raise_for_status(),
                     set_delay, lambda: server.admin("GET", "delays").json(), reset)
        return
    if request.param == "mock":
        db_url = None
    elif request.param == "sqlite-file":
        db_url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'greenroom.db'}"
    else:
        db_url = request.getfixturevalue("postgres_url")
    emulator = Local(db_url)

    def reset():
        emulator.emulator.reset()
        emulator.emulator.clock.set(EPOCH)

    try:
        yield Driver(request.param, emulator.client, emulator.emulator.clock.advance,
                     emulator.emulator.delays.set, emulator.emulator.delays.describe, reset)
    finally:
        emulator.close()
