"""The relational store (SQLAlchemy Core): SQLite by default, PostgreSQL for shared state.

Services keep their resources as JSON documents in one ``resources`` table, addressed by
(account, region, kind, id); ``pk`` gives every row a stable creation order, which the
pagination helper uses as its keyset. High-volume data gets tables of its own, declared on
``metadata`` by the service that owns them.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from . import notify

metadata = sa.MetaData()
T = TypeVar("T")

# Row keys that only grow: 64-bit on PostgreSQL; on SQLite it must be INTEGER to be the rowid.
ROW_KEY = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def scoped_table(name: str, *columns, **options) -> sa.Table:
    """A table of rows of one account and region, keyed by an ever-growing ``pk`` (the order
    rows were added in), on the store's ``metadata``: the store's own and services' tables."""
    return sa.Table(
        name, metadata,
        sa.Column("pk", ROW_KEY, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        *columns, **options,
    )


resources = scoped_table(
    "resources",
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("id", sa.String(2048), nullable=False),
    # The owning resource (a stage for its participants, a stream group for its sessions).
    sa.Column("parent", sa.String(2048), nullable=False, server_default=""),
    sa.Column("data", sa.JSON, nullable=False),
    sa.UniqueConstraint("account", "region", "kind", "id", name="resources_identity"),
    sa.Index("resources_by_parent", "account", "region", "kind", "parent", "pk"),
    # Lists of a whole kind (top-level resources, a kind across parents) in keyset order:
    # without it the database sorts the kind for every page.
    sa.Index("resources_by_kind", "account", "region", "kind", "pk"),
    # pk is the pagination keyset: SQLite must never reuse one (without AUTOINCREMENT it hands
    # the largest rowid out again once that row is deleted, and a token pointing after it
    # would skip the new item). PostgreSQL sequences never go back.
    sqlite_autoincrement=True,
)

# How many resources of each kind an (account, region) holds, kept by Resources.insert/delete in
# the same transaction as the row: a quota check (Resources.require_room) reads one row instead of
# stepping over the kind's index entries up to the quota (linear in what is stored).
resource_counts = sa.Table(
    "resource_counts",
    metadata,
    sa.Column("account", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# Scheduled lifecycle transitions (see core.lifecycle).
transitions = scoped_table(
    "transitions",
    sa.Column("due_at", sa.Float, nullable=False),
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("resource_id", sa.String(2048), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Index("transitions_by_due", "due_at"),
    sa.Index("transitions_by_resource", "account", "region", "kind", "resource_id"),
    sqlite_autoincrement=True,  # pk orders transitions due at the same time: never reused
)

# Process-independent settings (the pagination token key, the schema version).
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

SCHEMA_VERSION = "1"
# Any constant bigint: the PostgreSQL advisory lock that serializes schema upgrades.
_UPGRADE_LOCK = 0x6772_6565_6E72_6F6F  # "greenroo"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "greenroom"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'greenroom.db'}"


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer. synchronous=NORMAL in WAL mode keeps every
    # committed transaction across a killed process (only power loss can drop the last ones).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str | None) -> Engine:
    """``None`` is an in-memory SQLite database (tests, ``--ephemeral``)."""
    if url is None:
        return sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _tune_sqlite)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


_WRITES = ("INSERT", "UPDATE", "DELETE")


def _note_write(conn, cursor, statement, parameters, context, executemany) -> None:
    """Any statement that writes makes its transaction publish ``notify.STORE_CHANGED``: one
    topic, whatever changed, so a reader of everything (the console) wakes on commit."""
    if statement[:6] in _WRITES:
        _writing(conn)


def _writing(conn) -> None:
    """Before a write: refused in ``Store.reading`` (no transaction would make it atomic),
    else noted for ``notify.STORE_CHANGED``."""
    if conn.info.get(_READ_ONLY):
        raise ReadOnlyViolation("an operation declared read-only (@operation(read_only=True)) wrote to the store")
    notify.publish(conn, notify.STORE_CHANGED)


class ReadOnlyViolation(RuntimeError):
    """A read-only operation (run without a transaction) tried to write: a bug in its declaration."""


class Conflict(Exception):
    """A resource changed between this transaction's read of it and its write (another
    process wrote it in between): the work is run again from the start (``Store.run``)."""


# Why the database refused a transaction that may succeed when run again: PostgreSQL's
# serialization_failure and deadlock_detected, a unique violation (a concurrent insert of the
# same identity: run again, the handler's own "already exists" check answers), SQLite's busy.
_RETRY_SQLSTATES = {"40001", "40P01", "23505"}
_RETRY_SQLITE = {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
MAX_ATTEMPTS = 12


def is_conflict(error: BaseException) -> bool:
    """True when ``error`` is a transaction refused because of a concurrent one."""
    if isinstance(error, Conflict):
        return True
    original = getattr(error, "orig", None)
    if original is None:
        return False
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _RETRY_SQLSTATES
    return getattr(original, "sqlite_errorname", None) in _RETRY_SQLITE


class Store:
    def __init__(self, url: str | None = None):
        self.url = url
        self.engine = create_engine(url)
        sa.event.listen(self.engine, "before_cursor_execute", _note_write)
        # Several processes may share a PostgreSQL store, so nothing about its contents may
        # be cached in this process; a SQLite store belongs to one greenroom process.
        self.shared = self.engine.dialect.name != "sqlite"
        # The in-memory database is one DBAPI connection (StaticPool) shared by every thread, so
        # concurrent transactions used to interleave on it: one thread's commit committed
        # another's unfinished request and a failing request's rollback undid acknowledged
        # writes (threads using the in-process mock). One transaction at a time there.
        self._serial = threading.RLock() if url is None else contextlib.nullcontext()
        # A SQLite file: pysqlite begins a transaction at its first write, so a read-check-write
        # (a quota's count, then the insert) on two threads could both pass the check. SQLite
        # takes one writer at a time anyway: this process's write transactions take turns here.
        self._writing = threading.RLock() if url is not None and not self.shared else contextlib.nullcontext()
        self._thread_connections = threading.local()
        self.retries = 0  # transactions run again after a conflict (see run); benchmarks read it
        self._attempt = threading.local()  # .again: this thread's work is being run again
        self.upgrade()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self) -> None:
        """Create missing tables; record the schema version (future upgrades key on it)."""
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                # Processes that open a new shared store at once (several servers started
                # together) raced on PostgreSQL's catalog (UniqueViolation on
                # pg_type_typname_nsp_index, "relation already exists"): serialize upgrades
                # with a transaction-scoped advisory lock, released at commit.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
            # One look at what exists instead of a check per table and per index (a new store
            # asked about each of them: a third of `serve --data-dir`'s store start-up).
            inspector = sa.inspect(conn)
            existing = set(inspector.get_table_names()) & set(metadata.tables)
            metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t.name not in existing],
                                checkfirst=False)
            # create_all makes missing tables with their indexes; indexes added since a database
            # was made are created here, so stored databases stay readable and fast.
            for table in metadata.sorted_tables:
                if table.name in existing:
                    present = {index["name"] for index in inspector.get_indexes(table.name)}
                    for index in table.indexes:
                        if index.name not in present:
                            index.create(conn)
            done = dict(conn.execute(sa.select(settings.c.name, settings.c.value)).all())
            if not existing:
                # A new store holds nothing an earlier release wrote: every upgrade is done.
                conn.execute(dialect_insert(conn, settings).values(
                    [{"name": "schema_version", "value": SCHEMA_VERSION}]
                    + [{"name": f"upgrade:{name}", "value": "done"} for name in _UPGRADES]).on_conflict_do_nothing())
                return
            if "schema_version" not in done:
                self._put_setting(conn, "schema_version", SCHEMA_VERSION)
            for name, rewrite in _UPGRADES.items():
                if f"upgrade:{name}" not in done:
                    rewrite(conn)
                    self._put_setting(conn, f"upgrade:{name}", "done")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction (READ COMMITTED on PostgreSQL). Resources read in it are written
        back only if nobody changed them meanwhile (``Resources``: else ``Conflict``, and
        whoever runs it in ``run`` starts over). Topics ``notify.publish``-ed in it are
        notified when it commits."""
        with self._serial, self._writing:
            if self.shared:  # PostgreSQL: a pooled connection for each transaction
                with self.engine.connect() as conn:
                    notify.take_pending(conn)  # nothing left over from the connection's last use
                    conn.info.pop(_VERSIONS, None)
                    conn.info[_LOCK_READS] = getattr(self._attempt, "again", False)
                    try:
                        with conn.begin():
                            yield conn
                            topics = notify.take_pending(conn)
                            if topics:
                                self.notifier.before_commit(conn, topics)
                    finally:
                        notify.take_pending(conn)
            else:
                # SQLite: each thread keeps its connection open between transactions; checking one
                # out of the pool for every request costs more than the request's own statements.
                conn = getattr(self._thread_connections, "conn", None)
                if conn is None or conn.closed or conn.invalidated:
                    conn = self._thread_connections.conn = self.engine.connect()
                notify.take_pending(conn)
                try:
                    with conn.begin():
                        yield conn
                        topics = notify.take_pending(conn)
                finally:
                    notify.take_pending(conn)
            for topic in dict.fromkeys(topics):  # committed: wake this process's waiters now
                self.notifier.deliver(topic)

    def reading(self) -> "_Reading":
        """A connection for an operation that only reads, without BEGIN/COMMIT: each statement
        sees what is committed when it runs (PostgreSQL: autocommit, two round trips fewer;
        SQLite: the thread's connection, which starts no transaction for a SELECT). A write in
        it is refused before it runs (``ReadOnlyViolation``). Use: ``with store.reading() as conn``."""
        return _Reading(self)

    def _thread_connection(self) -> Connection:
        """SQLite: this thread's connection, kept open between transactions (checking one out of
        the pool for every request costs more than the request's own statements)."""
        conn = getattr(self._thread_connections, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._thread_connections.conn = self.engine.connect()
        return conn

    def outside_transaction(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` for reads that need no transaction (PostgreSQL: autocommit, so no
        BEGIN/COMMIT round trips; each statement sees what is committed when it runs)."""
        if not self.shared:
            with self.transaction() as conn:
                return work(conn)
        with self.engine.connect() as conn:
            return work(conn.execution_options(isolation_level="AUTOCOMMIT"))

    @property
    def notifier(self) -> notify.Notifier:
        return notify.notifier(self.engine)

    def run(self, work: Callable[[], T]) -> T:
        """``work()``, which opens its own transaction(s), run again from the start while it
        fails for a concurrent transaction (``is_conflict``): a resource it read changed before
        it wrote it back (``Conflict``), a unique violation (another process created the same
        identity first), a deadlock. The emulator runs every request this way, so services
        never see these. Work must keep its effects inside the transaction (anything else
        happens once per attempt)."""
        outer = getattr(self._attempt, "again", False)
        try:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                # Run again, the work locks the resources it reads (SELECT ... FOR UPDATE): a
                # hot row costs one wait instead of a storm of failed attempts.
                self._attempt.again = attempt > 1
                try:
                    return work()
                except (sa.exc.DBAPIError, Conflict) as error:
                    if attempt == MAX_ATTEMPTS or not is_conflict(error):
                        raise
                    self._retried(attempt)
        finally:
            self._attempt.again = outer
        raise AssertionError("unreachable")

    def _retried(self, attempt: int) -> None:
        self.retries += 1
        # The transaction we collided with has committed (that is how we saw its write): start
        # over at once. After repeated collisions, a short random pause (it blocks this
        # server's event loop, so it stays short).
        if attempt >= 3:
            time.sleep(random.uniform(0, min(0.02, 0.0005 * 2 ** attempt)))

    def close(self) -> None:
        """Close the store's pooled connections, never in the middle of a transaction of another
        thread on the in-memory database (live peers' watch steps run on threads of their own)."""
        with self._serial:
            self.engine.dispose()

    def reset(self) -> None:
        """Forget every resource and scheduled transition (settings such as keys stay)."""
        with self.transaction() as conn:
            for table in reversed(metadata.sorted_tables):
                if table is not settings:
                    conn.execute(table.delete())

    def inventory(self) -> list[dict]:
        """What the store holds, for the console: ``{"account", "region", "kind", "count"}`` per
        kind of resource of each (account, region), sorted."""
        with self.transaction() as conn:
            # The kept counts (one row per kind), not a count of every row the store holds.
            rows = conn.execute(
                sa.select(resource_counts.c.account, resource_counts.c.region, resource_counts.c.kind,
                          resource_counts.c.count)
                .where(resource_counts.c.count > 0)
                .order_by(resource_counts.c.account, resource_counts.c.region, resource_counts.c.kind)).all()
        return [{"account": a, "region": r, "kind": k, "count": n} for a, r, k, n in rows]

    def setting(self, name: str, default_factory) -> str:
        """Read a setting, creating it once with ``default_factory()`` if absent."""
        def read_or_create() -> str:
            with self.transaction() as conn:
                value = self._setting(conn, name)
                if value is None:
                    value = default_factory()
                    self._put_setting(conn, name, value)
                    value = self._setting(conn, name)  # another process may have won the race
                return value
        return self.run(read_or_create)

    @staticmethod
    def _setting(conn: Connection, name: str) -> str | None:
        return conn.execute(sa.select(settings.c.value).where(settings.c.name == name)).scalar()

    def _put_setting(self, conn: Connection, name: str, value: str) -> None:
        conn.execute(dialect_insert(conn, settings).values(name=name, value=value).on_conflict_do_nothing())


# ---------------------------------------------------------------------------- concurrency
#
# Processes sharing a PostgreSQL store run their transactions at READ COMMITTED; two rules keep
# read-modify-write atomic (measured against SERIALIZABLE with retries, whose page-level
# predicate locks made unrelated writes conflict: see bench/bench_multinode.py):
# - compare-and-swap on a row version: a resource read in a transaction is written back (or
#   deleted) only if its row is still the version read (PostgreSQL's ``xmin``, which every
#   update changes); otherwise ``Conflict`` and the request runs again (``Store.run``);
# - collection locks: counting or listing a collection (kind and parent) takes a
#   transaction-scoped advisory lock on it, so a count-then-insert (a quota) cannot overshoot.
# SQLite needs neither: one process owns the file and its requests run one at a time.

_VERSIONS = "greenroom.store.versions"   # key in a connection's info: (scope, kind, id) -> xmin
_READ_ONLY = "greenroom.store.read_only"    # ... True: in Store.reading, writes are refused
_LOCK_READS = "greenroom.store.lock_reads"  # ... True: get() locks the row (work run again)


def lock_collection(conn: Connection, *key: str) -> None:
    """Hold a lock on a collection (anything a count or a list reads: ``key`` names it) until
    the transaction ends; on PostgreSQL only. Services' own tables call it before counting.
    Not in ``Store.reading``: a read-only operation writes nothing after its count, and has no
    transaction to hold the lock (it cost a round trip per list)."""
    if conn.dialect.name == "postgresql" and not conn.info.get(_READ_ONLY):
        conn.execute(_LOCK_COLLECTION, {"key": "\x1f".join(key)})


_LOCK_COLLECTION = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


_DOCUMENT = json.JSONDecoder().raw_decode  # a stored document's JSON text: (value, end)


def _versions(conn: Connection) -> dict:
    return conn.info.setdefault(_VERSIONS, {})


# Single-resource statements are built once: constructing a statement costs more than running
# it on SQLite, and these are on every request's path.
_IDENTITY = sa.and_(
    resources.c.account == sa.bindparam("key_account"),
    resources.c.region == sa.bindparam("key_region"),
    resources.c.kind == sa.bindparam("key_kind"),
    resources.c.id == sa.bindparam("key_id"),
)
_GET_ONE = sa.select(resources.c.data).where(_IDENTITY)
_INSERT_ONE = resources.insert().values(
    {name: sa.bindparam(name) for name in ("account", "region", "kind", "id", "parent", "data")})
_KIND_IDENTITY = sa.and_(
    resource_counts.c.account == sa.bindparam("key_account"),
    resource_counts.c.region == sa.bindparam("key_region"),
    resource_counts.c.kind == sa.bindparam("key_kind"),
)
_KIND_COUNT = sa.select(resource_counts.c.count).where(_KIND_IDENTITY)
_COUNT_DOWN = resource_counts.update().where(_KIND_IDENTITY).values(count=resource_counts.c.count - 1)


@functools.cache
def _count_up(dialect_name: str):
    """The kind's count plus one, its row made by the first insert (an upsert: concurrent
    first inserts of a kind on PostgreSQL both count)."""
    return (dialect_insert(dialect_name, resource_counts)
            .values(account=sa.bindparam("key_account"), region=sa.bindparam("key_region"),
                    kind=sa.bindparam("key_kind"), count=1)
            .on_conflict_do_update(index_elements=[resource_counts.c.account, resource_counts.c.region,
                                                   resource_counts.c.kind],
                                   set_={"count": resource_counts.c.count + 1}))
_UPDATE_ONE = resources.update().where(_IDENTITY).values(data=sa.bindparam("new_data", type_=sa.JSON))
_DELETE_ONE = resources.delete().where(_IDENTITY)
# PostgreSQL: the same, with the row version (xmin, as text) read and compared.
_XMIN = sa.literal_column("resources.xmin::text")
_SAME_VERSION = sa.text("resources.xmin = CAST(:seen_version AS xid)")
_GET_ONE_VERSIONED = sa.select(resources.c.data, _XMIN).where(_IDENTITY)
_GET_ONE_LOCKED = _GET_ONE_VERSIONED.with_for_update()
_UPDATE_IF_SAME = (resources.update().where(_IDENTITY, _SAME_VERSION)
                   .values(data=sa.bindparam("new_data", type_=sa.JSON)).returning(_XMIN))
_UPDATE_VERSIONED = _UPDATE_ONE.returning(_XMIN)
_DELETE_IF_SAME = resources.delete().where(_IDENTITY, _SAME_VERSION)
_DELETE_TRANSITIONS = transitions.delete().where(
    transitions.c.account == sa.bindparam("key_account"),
    transitions.c.region == sa.bindparam("key_region"),
    transitions.c.kind == sa.bindparam("key_kind"),
    transitions.c.resource_id == sa.bindparam("key_id"),
)


@functools.cache
def _compiled(statement, dialect) -> tuple[str, tuple[str, ...] | None, dict]:
    """(SQL text, parameter names in order for positional paramstyles else None, the values
    the statement binds itself: SQLite's ``LIMIT -1`` of an OFFSET without a limit)."""
    compiled = statement.compile(dialect=dialect)
    own = {name: value for name, value in compiled.params.items() if value is not None}
    return str(compiled), (tuple(compiled.positiontup) if compiled.positional else None), own


def _run_compiled(conn: Connection, statement, params: dict | tuple):
    """``params`` by name, or a tuple already in the statement's positional order (a statement
    that binds no value of its own, on a positional paramstyle: SQLite)."""
    sql, positions, own = _compiled(statement, conn.dialect)
    if type(params) is dict:
        if own:
            params = {**own, **params}
        if positions is not None:
            params = tuple(params[name] for name in positions)
    driver = conn.connection.dbapi_connection  # the driver's own (no adapter on these dialects)
    try:
        return driver.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as error:
        # As SQLAlchemy raises it, so Store.run still knows a conflict (busy, unique violation).
        raise sa.exc.DBAPIError.instance(sql, params, error, conn.dialect.loaded_dbapi.Error) from error


def read(conn: Connection, statement, params: dict):
    """A hot read built once with its bind parameters, run on the DBAPI connection (SQLAlchemy's
    statement building, compiling and execution cost as much as a page of a thousand rows): the
    driver's cursor, its rows plain tuples."""
    return _run_compiled(conn, statement, params)


def write(conn: Connection, statement, params: dict, *, json_params: tuple[str, ...] = ()) -> None:
    """A hot write built once with its bind parameters: on SQLite run on the DBAPI connection
    (SQLAlchemy's execution machinery cost three times the INSERT itself), the ``json_params``
    serialized as ``sa.JSON`` does and the write noted as the engine's event notes it;
    elsewhere through SQLAlchemy."""
    if conn.dialect.name != "sqlite":
        conn.execute(statement, params)
        return
    _writing(conn)
    _run_compiled(conn, statement, {**params, **{name: json.dumps(params[name]) for name in json_params}})


class _Reading:
    """``Store.reading()``: a class rather than a generator, as it is entered for every read-only
    request (a generator's context manager costs more than the rest of it)."""

    __slots__ = ("store", "conn", "pooled")

    def __init__(self, store: Store):
        self.store = store
        self.pooled: Connection | None = None  # PostgreSQL: checked out of the pool, given back on exit

    def __enter__(self) -> Connection:
        store = self.store
        store._serial.__enter__()
        try:
            if store.shared:
                self.pooled = store.engine.connect()
                conn = self.pooled.execution_options(isolation_level="AUTOCOMMIT")
                conn.info.pop(_VERSIONS, None)
                conn.info[_LOCK_READS] = False
            else:
                conn = store._thread_connection()
            conn.info[_READ_ONLY] = True
        except BaseException:
            self._release()
            raise
        self.conn = conn
        return conn

    def __exit__(self, *exc_info) -> bool:
        try:
            conn = self.conn
            conn.info.pop(_READ_ONLY, None)
            if self.pooled is None and conn.in_transaction():  # SQLite began one for a SELECT: end it
                conn.rollback()
        finally:
            self._release()
        return False

    def _release(self) -> None:
        try:
            if self.pooled is not None:
                self.pooled.close()
        finally:
            self.store._serial.__exit__(None, None, None)


class Resources:
    """The resources of one (account, region), inside one transaction (a request's, or a
    transition's), and what is scheduled to happen to them (``schedule_at``)."""

    def __init__(self, conn: Connection, account: str, region: str, scheduler=None):
        self.conn = conn
        self.account = account
        self.region = region
        self._scheduler = scheduler  # core.lifecycle.Scheduler; None where nothing is scheduled
        self._versioned = conn.dialect.name == "postgresql"   # see "concurrency" above

    def schedule_at(self, due_at: float, kind: str, id: str, action: str = "update", **args: Any) -> None:
        """Apply transition ``action`` to a resource at ``due_at`` (epoch seconds): from a
        request, or from a transition action scheduling what follows it."""
        self._scheduler.schedule(self.conn, self.account, self.region, due_at, action, kind, id, args)

    @property
    def objects(self):
        """The S3 stand-in (core.objectstore.ObjectStore) of the emulator these resources belong
        to: what a transition writes to a customer's bucket (files exported when a session
        ends). Writing is not part of the transaction: write what a retry would write again."""
        return self._scheduler.objects

    def delay(self, name: str) -> float:
        """A named, configurable lifecycle delay in seconds (core.lifecycle.Delays)."""
        return self._scheduler.delays[name]

    def _scope(self, kind: str):
        return sa.and_(
            resources.c.account == self.account,
            resources.c.region == self.region,
            resources.c.kind == kind,
        )

    def _one(self, kind: str, id: str) -> dict:
        return {"key_account": self.account, "key_region": self.region, "key_kind": kind, "key_id": id}

    def _version_key(self, kind: str, id: str) -> tuple:
        return (self.account, self.region, kind, id)

    def get(self, kind: str, id: str) -> dict | None:
        # The hottest statement of all: run on the transaction's own DBAPI connection, compiled
        # once per dialect (SQLAlchemy's execution machinery costs several times the query).
        if self._versioned:
            statement = _GET_ONE_LOCKED if self.conn.info.get(_LOCK_READS) else _GET_ONE_VERSIONED
            row = _run_compiled(self.conn, statement, self._one(kind, id)).fetchone()
            if row is None:
                _versions(self.conn).pop(self._version_key(kind, id), None)
                return None
            _versions(self.conn)[self._version_key(kind, id)] = row[1]
            return row[0]
        # SQLite: the identity in _IDENTITY's order; the document is text as sa.JSON (json.dumps)
        # wrote it, one JSON value with nothing around it, which raw_decode reads whole.
        row = _run_compiled(self.conn, _GET_ONE, (self.account, self.region, kind, id)).fetchone()
        if row is None:
            return None
        data = row[0]
        if type(data) is str:
            return _DOCUMENT(data)[0]
        return json.loads(data) if isinstance(data, bytes) else data

    def _kind_key(self, kind: str) -> dict:
        return {"key_account": self.account, "key_region": self.region, "key_kind": kind}

    def insert(self, kind: str, id: str, data: dict, *, parent: str = "") -> None:
        write(self.conn, _INSERT_ONE, {"account": self.account, "region": self.region,
                                       "kind": kind, "id": id, "parent": parent, "data": data},
              json_params=("data",))
        # After the row: an insert refused as a duplicate counts nothing.
        write(self.conn, _count_up(self.conn.dialect.name), self._kind_key(kind))

    def update(self, kind: str, id: str, data: dict) -> None:
        if not self._versioned:
            write(self.conn, _UPDATE_ONE, {**self._one(kind, id), "new_data": data}, json_params=("new_data",))
            return
        # Written back only over the version read in this transaction, if it read one.
        versions = _versions(self.conn)
        key = self._version_key(kind, id)
        seen = versions.get(key)
        params = {**self._one(kind, id), "new_data": data}
        if seen is None:
            row = self.conn.execute(_UPDATE_VERSIONED, params).first()
        else:
            row = self.conn.execute(_UPDATE_IF_SAME, {**params, "seen_version": seen}).first()
            if row is None:
                raise Conflict(f"{kind} {id} changed since this request read it")
        if row is not None:
            versions[key] = row[0]

    def delete(self, kind: str, id: str) -> bool:
        # Its pending transitions go with it: they must not act on a new resource of the same id.
        self.conn.execute(_DELETE_TRANSITIONS, self._one(kind, id))
        seen = _versions(self.conn).pop(self._version_key(kind, id), None) if self._versioned else None
        if seen is None:
            if self.conn.execute(_DELETE_ONE, self._one(kind, id)).rowcount == 0:
                return False
        elif self.conn.execute(_DELETE_IF_SAME, {**self._one(kind, id), "seen_version": seen}).rowcount == 0:
            raise Conflict(f"{kind} {id} changed since this request read it")
        write(self.conn, _COUNT_DOWN, self._kind_key(kind))
        return True

    def _select(self, columns, kind: str, parent: str | None, where: dict[str, Any] | None,
                id_prefix: str | None = None):
        """A query over one kind, filtered on its parent, on top-level fields (``where``
        compares typed values: a bool, int or float as the JSON value, anything else as text)
        and on how ids start (a range of the identity index)."""
        query = sa.select(*columns).select_from(resources).where(self._scope(kind))
        if parent is not None:
            query = query.where(resources.c.parent == parent)
        for field, value in (where or {}).items():
            query = query.where(_typed(resources.c.data[field], value) == value)
        if id_prefix:
            # Ids between the prefix and the first text after every id starting with it. Not
            # LIKE (SQLite's ignores ASCII case) and in code point order on both: SQLite compares
            # text as UTF-8 bytes, PostgreSQL does so under the "C" collation.
            column = resources.c.id if self.conn.dialect.name == "sqlite" else resources.c.id.collate("C")
            query = query.where(column >= id_prefix)
            end = _after_prefix(id_prefix)
            if end is not None:
                query = query.where(column < end)
        return query

    def list(
        self,
        kind: str,
        *,
        parent: str | None = None,
        where: dict[str, Any] | None = None,
        id_prefix: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[tuple[int, dict]]:
        """(pk, data) in creation order (``newest_first``: the reverse, ``after`` then being the
        keyset to go below); ``where`` tests top-level fields, ``id_prefix`` how ids start.
        Locks the collection (kind, parent) for the transaction (see "concurrency")."""
        lock_collection(self.conn, self.account, self.region, kind, parent or "")
        columns = (resources.c.pk, resources.c.data) + ((resources.c.id, _XMIN) if self._versioned else ())
        order = resources.c.pk.desc() if newest_first else resources.c.pk
        if id_prefix:
            # The ids of a prefix are one stretch of the identity index (account, region, kind,
            # id), and SQLite keeps the pk in each of its entries: the page's pks are picked and
            # ordered there, reading no row, then only the page's rows are read. Its cost follows
            # the ids in the prefix, not the kind's rows (the kind's index in pk order, read row
            # by row, reached a sparse prefix's page after reading every row before it). pk + 0:
            # a keyset that is a plain range of pk makes SQLite walk that index instead.
            keys = self._select((resources.c.pk,), kind, parent, where, id_prefix)
            if after is not None:
                keys = keys.where(resources.c.pk + 0 < after if newest_first else resources.c.pk + 0 > after)
            keys = keys.order_by(order)
            if limit is not None:
                keys = keys.limit(limit)
            query = sa.select(*columns).where(resources.c.pk.in_(keys.scalar_subquery())).order_by(order)
        else:
            query = self._select(columns, kind, parent, where)
            if after is not None:
                query = query.where(resources.c.pk < after if newest_first else resources.c.pk > after)
            query = query.order_by(order)
            if limit is not None:
                query = query.limit(limit)
        rows = self.conn.execute(query).all()
        if self._versioned:  # what is listed may be written back: the same rule as get
            versions = _versions(self.conn)
            for row in rows:
                versions[self._version_key(kind, row.id)] = row[3]
        return [(row.pk, row.data) for row in rows]

    def scan(self, kind: str, *, keep: Callable[[dict], bool], limit: int, after: int | None = None,
             parent: str | None = None, where: dict[str, Any] | None = None,
             batch: int = 200) -> list[tuple[int, dict]]:
        """Up to ``limit`` (pk, data) after ``after`` that ``keep`` accepts (a filter the store
        cannot express), read in batches."""
        found: list[tuple[int, dict]] = []
        batch = max(batch, limit)
        while len(found) < limit:
            rows = self.list(kind, parent=parent, where=where, after=after, limit=batch)
            found.extend((pk, data) for pk, data in rows if keep(data))
            if len(rows) < batch:
                break
            after = rows[-1][0]
        return found[:limit]

    def require_room(self, kind: str, limit: int, error: Callable[[int], Exception], *,
                     parent: str | None = None, where: dict[str, Any] | None = None) -> None:
        """A quota before an insert: raise ``error(limit)`` when ``limit`` of a kind (under
        ``parent``, matching ``where``) are there already; atomic as ``count`` is. A kind-wide
        quota reads the kind's count (one row); under a parent or with ``where``, no more than
        ``limit`` rows are read whatever the store holds."""
        if self.count(kind, parent=parent, where=where, at_most=limit) >= limit:
            raise error(limit)

    def count(self, kind: str, *, parent: str | None = None, where: dict[str, Any] | None = None,
              at_most: int | None = None) -> int:
        """How many of a kind (under ``parent``, matching ``where``); locks the collection, so a
        count-then-insert (a quota) is atomic across processes. A whole kind's is its kept count
        (``resource_counts``, one row); ``at_most``: count no further (under a parent or with
        ``where`` no more than that many rows are read, whatever the store holds)."""
        lock_collection(self.conn, self.account, self.region, kind, parent or "")
        if parent is None and not where:  # a whole kind (quotas): its kept count, one row
            row = _run_compiled(self.conn, _KIND_COUNT, self._kind_key(kind)).fetchone()
            total = row[0] if row is not None else 0
            return total if at_most is None else min(total, at_most)
        if at_most is None:
            return self.conn.execute(self._select((sa.func.count(),), kind, parent, where)).scalar_one()
        rows = self._select((resources.c.pk,), kind, parent, where).limit(at_most).subquery()
        return self.conn.execute(sa.select(sa.func.count()).select_from(rows)).scalar_one()


def _after_prefix(prefix: str) -> str | None:
    """The first text (in code point order) after every text starting with ``prefix``; None when
    there is none (a prefix of U+10FFFF only)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:  # surrogates are no text: the next code point is U+E000
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _typed(element, value):
    if isinstance(value, bool):
        return element.as_boolean()
    if isinstance(value, int):
        return element.as_integer()
    if isinstance(value, float):
        return element.as_float()
    return element.as_string()


def dialect_insert(conn_or_dialect, table: sa.Table):
    """An INSERT of the connection's dialect, for ``on_conflict_do_nothing``/``_do_update``
    (PostgreSQL and SQLite spell them alike)."""
    name = getattr(getattr(conn_or_dialect, "dialect", conn_or_dialect), "name", conn_or_dialect)
    if name == "postgresql":
        # Imported where used: the PostgreSQL dialect is a tenth of the server's start on SQLite.
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert
        return postgresql_insert(table)
    return sqlite_insert(table)


# name -> rewrite(conn): changes to stored documents that a new release reads differently, run
# once per store when it opens (under the upgrade lock), so no getter has to write on read.
_UPGRADES: dict[str, Callable[[Connection], None]] = {}


def upgrade(name: str):
    """Register a one-time rewrite of stored data (``@store.upgrade("kinesisvideo.stream.media-key")``);
    services register theirs at import, before any store opens."""

    def register(rewrite: Callable[[Connection], None]) -> Callable[[Connection], None]:
        _UPGRADES[name] = rewrite
        return rewrite

    return register


def rewrite_documents(conn: Connection, kind: str, change: Callable[[dict], dict | None]) -> None:
    """Every document of a kind, in every account and region, through ``change`` (the new
    document, or None to keep it as it is)."""
    rewrite_rows(conn, resources, lambda row: change(dict(row.data)), resources.c.kind == kind)


def rewrite_transitions(conn: Connection, action: str, change: Callable[[dict, Any], dict | None]) -> None:
    """The arguments of every pending transition ``action`` through ``change(args, pending)`` (as
    above; ``pending.due_at`` for steps that stamp it, ``pending.resource_id``)."""
    rewrite_rows(conn, transitions, lambda row: change(dict(row.args), row), transitions.c.action == action,
                 column="args")


def rewrite_rows(conn: Connection, table: sa.Table, change: Callable, where=sa.true(), *, column: str = "data") -> None:
    """The JSON ``column`` of every row of ``table`` (``where``) through ``change(row)``: the new
    value, or None to keep it (a service's own ``scoped_table`` upgrades its documents so)."""
    for row in conn.execute(sa.select(table).where(where)).all():
        changed = change(row)
        if changed is not None:
            conn.execute(table.update().where(table.c.pk == row.pk).values({column: changed}))


@upgrade("store.resource-counts")
def _count_stored_resources(conn: Connection) -> None:
    """Stores made before kinds were counted: count what they hold, once."""
    conn.execute(resource_counts.delete())
    conn.execute(resource_counts.insert().from_select(
        ["account", "region", "kind", "count"],
        sa.select(resources.c.account, resources.c.region, resources.c.kind, sa.func.count())
        .group_by(resources.c.account, resources.c.region, resources.c.kind)))


def documents(conn: Connection, kind: str) -> Iterator[dict]:
    """Every document of a kind, in every account and region (store-wide upkeep, e.g. which
    media keys are still in use)."""
    for row in conn.execute(sa.select(resources.c.data).where(resources.c.kind == kind)):
        yield row.data
