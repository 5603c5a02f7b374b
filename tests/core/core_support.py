"""Helpers of the core tests (imported by their conftest and test modules): in-process
emulators on a given store, and a look at a store behind greenroom's back."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from botocore.config import Config

from support import DEFAULT_KEY, make_client  # noqa: F401  (re-exported for the core tests)

EPOCH = 1_800_000_000.0            # where manual clocks start: round, so sums of steps are exact
UNVALIDATED = Config(parameter_validation=False)  # let out-of-range parameters reach greenroom


def store_args(db_url: str) -> list[str]:
    """``greenroom serve`` options for the store of a ``db_url`` fixture value."""
    if db_url.startswith("sqlite:///"):
        return ["--data-dir", db_url[len("sqlite:///"):].rsplit("/", 1)[0]]
    return ["--db-url", db_url]


def store_engine(db_url: str) -> sa.Engine:
    """A plain SQLAlchemy engine on a store, to look at it behind greenroom's back."""
    if db_url.startswith("postgresql://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://"):]
    return sa.create_engine(db_url, poolclass=sa.pool.NullPool)


# ------------------------------------------------------------------------- in process

class Local:
    """An in-process emulator on a given store (``greenroom.mock(db_url=...)``), answering the
    boto3 clients created while it is active. While active, *every* botocore client created in
    the process is answered in process: do not mix with HTTP servers in one test."""

    def __init__(self, db_url: str | None, **options):
        import greenroom

        self.mock = greenroom.mock(db_url=db_url, **options).start()
        self.emulator = self.mock.emulator
        self.emulator.clock.set(EPOCH)

    def client(self, service: str, **kwargs):
        return make_client(service, **kwargs)

    def close(self):
        self.mock.stop()


@dataclass
class Driver:
    """What a behaviour test needs, wherever greenroom runs."""
    where: str
    client: callable
    advance: callable        # move the manual clock forward (seconds)
    set_delay: callable      # (name, seconds)
    delays: callable         # () -> {name: seconds}
    reset: callable


# ------------------------------------------------------------------------- helpers

def names(streams) -> list[str]:
    return [stream["StreamName"] for stream in streams]


def error_of(excinfo) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]
