"""Helpers of the core tests (imported by their conftest and test modules): in-process
emulators on a given store, and a look at a store behind greenroom's back."""
from __future__ import annotations

import sqlalchemy as sa
from botocore.config import Config

from support import DEFAULT_KEY, Driver, make_client  # noqa: F401  (re-exported for the core tests)

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

def in_process(db_url: str | None, mode: str = "local") -> Driver:
    """An in-process emulator on a given store (``greenroom.mock(db_url=...)``), its clock
    manual at ``EPOCH``. Until ``close()``, *every* botocore client created in the process is
    answered in process: do not mix with HTTP servers in one test."""
    return Driver.in_process(mode, db_url=db_url, epoch=EPOCH)


# ------------------------------------------------------------------------- helpers

def names(streams) -> list[str]:
    return [stream["StreamName"] for stream in streams]


def error_of(excinfo) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]
