"""Where Kinesis Video media lives: fragment metadata in a table of its own, fragment bytes in a
blob store, and the per-process state of live streams (fragment number allocation, waiters of
GetMedia tails, GetMedia connection counts).

Tables (SQLAlchemy Core, SQLite and PostgreSQL alike):

- ``kinesisvideo_fragments``: one row per fragment, keyed by (stream media key, sequence). The
  media key is a private random number per stream incarnation (a stream created again under an
  old name starts empty). Indexed by (stream, producer_ms, seq) and (stream, server_ms, seq) for
  ListFragments and the timestamp start selectors; the primary key serves fragment numbers.
- ``kinesisvideo_headers``: the producer's EBML header, Info and Tracks, stored once per distinct
  content per stream; fragments point at theirs (GetMedia repeats it before every fragment).
- ``kinesisvideo_fragment_data``: fragment bytes, for PostgreSQL (see the blob stores below).
- ``kinesisvideo_sequences`` (shared stores): the last (seq, server_ms) allocated per stream, one
  atomic upsert per fragment, so processes sharing the store never hand out a number twice.
- ``kinesisvideo_producers`` (shared stores): which process has PutMedia connections open to which
  stream (with a lease renewed as fragments arrive), so a GetMedia tail on any process knows to
  keep waiting.

Live tails wait on the topic ``kinesisvideo.fragment:<media key>`` (core.notify), published in
the transaction that stores a fragment: on PostgreSQL a tail on any process wakes when a
fragment lands on any other.

Blob stores, by kind of store:
- a file-backed SQLite store keeps fragment bytes in files under its data directory,
  ``kinesisvideo-media/<stream key>/<bucket>.bin``, appended in arrival order (``writev`` of the
  pieces they arrived in), one file per five minutes of server time, so retention deletes whole
  files;
- an in-memory store (``--ephemeral``, the in-process mock) keeps them in memory as the pieces
  they arrived in (no copy at all);
- PostgreSQL (shared by several processes) keeps them in ``kinesisvideo_fragment_data``.

Fragment numbers are 47 decimal digits like the real ones: a fixed prefix, the server timestamp in
milliseconds (13 digits) and the stream's sequence number (23 digits). Server timestamps never go
backwards within a stream, so numbers increase in ingest order.

Retention: a fragment is *persisted* when its stream had retention > 0 when it arrived. Persisted
fragments are kept for DataRetentionInHours (as it is now, so a decrease applies to old data at
once); the others live only in the 5-minute buffer GetMedia reads. Reads apply these windows
exactly; rows and bytes outside them are deleted as streams are written, when retention decreases
and when a stream is deleted.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...core import notify
from ...core.lifecycle import transition
from ...core.engines import PerEngine
from ...core.store import ROW_KEY, dialect_insert, documents, metadata

STREAM_KIND = "kinesisvideo:stream"
FRAGMENT_NUMBER_PREFIX = "91343852333"
BUFFER_SECONDS = 300            # what a stream without retention keeps (GetMedia's buffer)
BUFFER_BYTES = 200 * 1024 * 1024
BUCKET_MS = 300_000             # one blob file per stream per five minutes of server time
PURGE_INTERVAL_SECONDS = 5.0    # how often a written stream drops what expired
# [inferred] A producer's presence in a shared store lasts this long unless renewed (renewed as
# its fragments arrive; PutMedia closes a connection idle for 30 s), so one of a killed
# process keeps tails waiting at most this long.
PRODUCER_LEASE_SECONDS = 60.0
IOV_MAX = 1024                  # pieces per writev

fragments = sa.Table(
    "kinesisvideo_fragments",
    metadata,
    sa.Column("stream", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("server_ms", sa.BigInteger, nullable=False),
    sa.Column("producer_ms", sa.BigInteger, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("persisted", sa.Boolean, nullable=False),
    sa.Column("header", sa.BigInteger, nullable=False),
    sa.Column("blob_offset", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.JSON(none_as_null=True), nullable=True),
    sa.Index("kinesisvideo_fragments_by_producer", "stream", "producer_ms", "seq"),
    sa.Index("kinesisvideo_fragments_by_server", "stream", "server_ms", "seq"),
    sqlite_with_rowid=False,
)

headers = sa.Table(
    "kinesisvideo_headers",
    metadata,
    sa.Column("pk", ROW_KEY, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("ebml_length", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("stream", "digest", name="kinesisvideo_headers_identity"),
)

fragment_data = sa.Table(
    "kinesisvideo_fragment_data",
    metadata,
    sa.Column("stream", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


sequences = sa.Table(
    "kinesisvideo_sequences",
    metadata,
    sa.Column("stream", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("server_ms", sa.BigInteger, nullable=False),
)

producers = sa.Table(
    "kinesisvideo_producers",
    metadata,
    sa.Column("node", sa.String(32), primary_key=True),
    sa.Column("stream", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("alive_until", sa.Float, nullable=False),   # epoch seconds, real time
)

# One statement allocates the next (seq, server_ms) of a stream, atomically across processes:
# the first time from the fragments already stored, then by incrementing the row (its row lock
# serializes concurrent allocations for one stream).
_ALLOCATE = sa.text("""
    INSERT INTO kinesisvideo_sequences (stream, seq, server_ms)
    SELECT :stream, COALESCE(MAX(seq), 0) + 1, GREATEST(COALESCE(MAX(server_ms), 0), :now_ms)
      FROM kinesisvideo_fragments WHERE stream = :stream
    ON CONFLICT (stream) DO UPDATE
       SET seq = kinesisvideo_sequences.seq + 1,
           server_ms = GREATEST(kinesisvideo_sequences.server_ms, :now_ms)
    RETURNING seq, server_ms
""")


def topic(stream: int) -> str:
    """The notification topic of a stream's new fragments (and of its producers leaving)."""
    return f"kinesisvideo.fragment:{stream}"


# ---------------------------------------------------------------------------- fragment numbers

def fragment_number(server_ms: int, seq: int) -> str:
    return f"{FRAGMENT_NUMBER_PREFIX}{server_ms:013d}{seq:023d}"


def parse_fragment_number(text: str) -> tuple[int, int] | None:
    """(server_ms, seq) of a number greenroom issued; None for anything else."""
    if len(text) != 47 or not text.isdigit() or not text.startswith(FRAGMENT_NUMBER_PREFIX):
        return None
    return int(text[11:24]), int(text[24:])


@dataclass
class Fragment:
    seq: int
    server_ms: int
    producer_ms: int
    duration_ms: int
    size: int
    persisted: bool
    header: int
    blob_offset: int | None
    tags: list | None

    @property
    def number(self) -> str:
        return fragment_number(self.server_ms, self.seq)


_FRAGMENT_COLUMNS = (fragments.c.seq, fragments.c.server_ms, fragments.c.producer_ms,
                     fragments.c.duration_ms, fragments.c.size, fragments.c.persisted,
                     fragments.c.header, fragments.c.blob_offset, fragments.c.tags)


def _fragment(row) -> Fragment:
    return Fragment(row.seq, row.server_ms, row.producer_ms, row.duration_ms, row.size,
                    bool(row.persisted), row.header, row.blob_offset, row.tags)


# ---------------------------------------------------------------------------- blob stores

class TableBlobs:
    """Fragment bytes in ``kinesisvideo_fragment_data`` (in-memory and shared stores)."""

    def write(self, conn: Connection, stream: int, seq: int, server_ms: int, parts: list) -> int | None:
        conn.execute(fragment_data.insert(), {"stream": stream, "seq": seq, "data": b"".join(parts)})
        return None

    def read(self, conn: Connection, stream: int, fragment: Fragment) -> bytes | None:
        return conn.execute(sa.select(fragment_data.c.data).where(
            fragment_data.c.stream == stream, fragment_data.c.seq == fragment.seq)).scalar()

    def forget(self, conn: Connection, stream: int, seqs: list[int], keep_from_ms: int) -> None:
        for start in range(0, len(seqs), 500):
            conn.execute(fragment_data.delete().where(
                fragment_data.c.stream == stream, fragment_data.c.seq.in_(seqs[start:start + 500])))

    def drop_stream(self, conn: Connection, stream: int) -> None:
        conn.execute(fragment_data.delete().where(fragment_data.c.stream == stream))


class MemoryBlobs:
    """Fragment bytes kept as the pieces they arrived in (in-memory stores: ``--ephemeral`` and
    the in-process mock): nothing is copied on the way in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[int, dict[int, tuple]] = {}

    def write(self, conn: Connection, stream: int, seq: int, server_ms: int, parts: list) -> None:
        with self._lock:
            fresh = stream not in self._streams
            self._streams.setdefault(stream, {})[seq] = tuple(parts)
        if fresh:
            # A new stream: forget those gone without a word (a reset of the whole store).
            live = _live_media_keys(conn) | {stream}
            with self._lock:
                for key in [key for key in self._streams if key not in live]:
                    del self._streams[key]
        return None

    def read(self, conn: Connection, stream: int, fragment: Fragment) -> bytes | None:
        with self._lock:
            parts = self._streams.get(stream, {}).get(fragment.seq)
        return None if parts is None else b"".join(parts)

    def forget(self, conn: Connection, stream: int, seqs: list[int], keep_from_ms: int) -> None:
        with self._lock:
            stored = self._streams.get(stream, {})
            for seq in seqs:
                stored.pop(seq, None)

    def drop_stream(self, conn: Connection, stream: int) -> None:
        with self._lock:
            self._streams.pop(stream, None)


class FileBlobs:
    """Fragment bytes appended to files, one per stream per BUCKET_MS of server time."""

    MAX_OPEN_FILES = 128

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._files: dict[Path, int] = {}   # path -> file descriptor (read/append)

    def _path(self, stream: int, bucket: int) -> Path:
        return self.root / f"{stream:016x}" / f"{bucket}.bin"

    def _descriptor(self, path: Path, create: bool) -> int | None:
        descriptor = self._files.get(path)
        if descriptor is None:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = os.open(path, os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0), 0o644)
            except FileNotFoundError:
                return None
            if len(self._files) >= self.MAX_OPEN_FILES:
                oldest = next(iter(self._files))
                os.close(self._files.pop(oldest))
            self._files[path] = descriptor
        return descriptor

    def write(self, conn: Connection, stream: int, seq: int, server_ms: int, parts: list) -> int:
        if not (self.root / f"{stream:016x}").is_dir():
            # A new stream: remove the files of streams gone without a word (a reset).
            self.sweep_orphans(_live_media_keys(conn) | {stream})
        with self._lock:
            descriptor = self._descriptor(self._path(stream, server_ms // BUCKET_MS), create=True)
            offset = os.lseek(descriptor, 0, os.SEEK_END)
            pending = [memoryview(part) for part in parts if len(part)]
            while pending:
                written = os.writev(descriptor, pending[:IOV_MAX])
                while written:  # drop what was written, keep the rest of a partial part
                    if written >= len(pending[0]):
                        written -= len(pending.pop(0))
                    else:
                        pending[0] = pending[0][written:]
                        written = 0
            return offset

    def read(self, conn: Connection, stream: int, fragment: Fragment) -> bytes | None:
        with self._lock:
            descriptor = self._descriptor(self._path(stream, fragment.server_ms // BUCKET_MS), create=False)
            if descriptor is None:
                return None
            data = os.pread(descriptor, fragment.size, fragment.blob_offset)
        return data if len(data) == fragment.size else None

    def forget(self, conn: Connection, stream: int, seqs: list[int], keep_from_ms: int) -> None:
        """Remove the files holding nothing kept any more: those before the bucket of
        ``keep_from_ms`` (the oldest kept fragment's server time, or now when none is kept:
        fragments to come are never older)."""
        directory = self.root / f"{stream:016x}"
        if not directory.is_dir():
            return
        buckets = sorted(int(path.stem) for path in directory.glob("*.bin") if path.stem.isdigit())
        doomed = [b for b in buckets if b < keep_from_ms // BUCKET_MS]
        with self._lock:
            for bucket in doomed:
                path = self._path(stream, bucket)
                descriptor = self._files.pop(path, None)
                if descriptor is not None:
                    os.close(descriptor)
                path.unlink(missing_ok=True)

    def drop_stream(self, conn: Connection, stream: int) -> None:
        directory = self.root / f"{stream:016x}"
        with self._lock:
            for path in [p for p in self._files if p.parent == directory]:
                os.close(self._files.pop(path))
        shutil.rmtree(directory, ignore_errors=True)

    def sweep_orphans(self, live_keys: set[int]) -> None:
        """Remove the directories of streams that no longer exist (after a reset, say)."""
        if not self.root.is_dir():
            return
        for directory in self.root.iterdir():
            try:
                key = int(directory.name, 16)
            except ValueError:
                continue
            if key not in live_keys:
                self.drop_stream(None, key)


# ---------------------------------------------------------------------------- per-store state

def _release(counts: dict, key) -> int:
    """One fewer of ``key`` in ``counts`` (forgotten at none); how many are left."""
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
    return left


class MediaStore:
    """The media state of one store (one per SQLAlchemy engine): blobs, fragment number
    allocation, live-tail waiters and GetMedia connection counts."""

    def __init__(self, engine: Engine):
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if database and database != ":memory:":
            self.blobs = FileBlobs(Path(database).resolve().parent / "kinesisvideo-media")
            with engine.connect() as conn:
                self.blobs.sweep_orphans(_live_media_keys(conn))
        elif engine.dialect.name == "sqlite":
            self.blobs = MemoryBlobs()
        else:
            self.blobs = TableBlobs()
        # A shared store (PostgreSQL) may be written by other processes: ask it every time.
        self.shared = engine.dialect.name != "sqlite"
        self.engine = engine
        self.notifier = notify.notifier(engine)
        self.node = secrets.token_hex(8)                        # this process, in ``producers``
        self._lease_renewed: dict[int, float] = {}
        self._lock = threading.Lock()
        self._last: dict[int, tuple[int, int]] = {}          # stream -> (seq, server_ms) allocated
        self._last_purge: dict[int, float] = {}
        self.get_media_connections: dict[int, int] = {}
        self._expiry_due: dict[int, float] = {}              # stream -> latest expiry check scheduled
        self._producers: dict[int, int] = {}                  # stream -> open PutMedia connections

    # ---- producers (a live tail keeps waiting while one is connected)
    def put_media_started(self, stream: int) -> None:
        with self._lock:
            self._producers[stream] = self._producers.get(stream, 0) + 1
        self._renew_lease(stream, force=True)

    def put_media_ended(self, stream: int) -> None:
        with self._lock:
            left = _release(self._producers, stream)
        if self.shared and left <= 0:
            with self._lock:
                self._lease_renewed.pop(stream, None)
            with self.engine.connect() as conn:
                conn.execute(producers.delete().where(producers.c.node == self.node, producers.c.stream == stream))
                conn.commit()
        # Tails waiting for this producer (on any process) may end now.
        self.notifier.publish_now(topic(stream))

    def has_producer(self, stream: int) -> bool:
        """A PutMedia connection to ``stream`` is open, in this process or (shared store) another."""
        if stream in self._producers or not self.shared:
            return stream in self._producers
        with self.engine.connect() as conn:
            return conn.execute(sa.select(producers.c.node).where(
                producers.c.stream == stream, producers.c.alive_until > time.time()).limit(1)).first() is not None

    def _renew_lease(self, stream: int, force: bool = False) -> None:
        """Record (shared store) that this process has a producer on ``stream``, for a while."""
        if not self.shared:
            return
        now = time.time()
        with self._lock:
            if stream not in self._producers:
                return
            if not force and self._lease_renewed.get(stream, 0) + PRODUCER_LEASE_SECONDS / 4 > now:
                return
            self._lease_renewed[stream] = now
        upsert = dialect_insert(self.engine, producers).values(node=self.node, stream=stream,
                                                               alive_until=now + PRODUCER_LEASE_SECONDS)
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(upsert.on_conflict_do_update(index_elements=[producers.c.node, producers.c.stream],
                                                      set_={"alive_until": upsert.excluded.alive_until}))

    # ---- GetMedia connections
    def open_get_media(self, stream: int, limit: int) -> bool:
        with self._lock:
            count = self.get_media_connections.get(stream, 0)
            if count >= limit:
                return False
            self.get_media_connections[stream] = count + 1
            return True

    def close_get_media(self, stream: int) -> None:
        with self._lock:
            _release(self.get_media_connections, stream)

    # ---- fragment numbers
    def allocate(self, engine: Engine, stream: int, now_ms: int) -> tuple[int, int]:
        """The next (seq, server_ms) of a stream: sequences increase, timestamps never go back.
        A shared store allocates it (one atomic statement, whichever process asks); otherwise
        the last allocation is remembered and the store is asked only the first time."""
        if self.shared:
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                row = conn.execute(_ALLOCATE, {"stream": stream, "now_ms": now_ms}).one()
            return row.seq, row.server_ms
        with self._lock:
            last = self._last.get(stream)
            if last is None:
                with engine.connect() as conn:
                    row = conn.execute(
                        sa.select(fragments.c.seq, fragments.c.server_ms).where(fragments.c.stream == stream)
                        .order_by(fragments.c.seq.desc()).limit(1)).first()
                stored = (row.seq, row.server_ms) if row else (0, 0)
                last = max(last or (0, 0), stored)
            allocated = (last[0] + 1, max(now_ms, last[1]))
            self._last[stream] = allocated
            return allocated

    # ---- live tails
    def notify(self, stream: int) -> None:
        """Wake this process's GetMedia tails waiting on a stream (a fragment it stored
        committed; other processes hear of it through the fragment's transaction)."""
        self._renew_lease(stream)
        self.notifier.deliver(topic(stream))

    def version(self, stream: int) -> int:
        """Take before reading the stream; pass to ``wait`` (nothing is missed in between)."""
        return self.notifier.version(topic(stream))

    async def wait(self, stream: int, timeout: float, since: int | None = None) -> bool:
        """Until a fragment arrives on ``stream`` (in any process sharing the store; after
        ``version`` ``since``, if given) or ``timeout`` seconds pass."""
        return await self.notifier.wait(topic(stream), timeout, since)

    def claim_expiry_check(self, stream: int, due: float) -> bool:
        """True when no expiry check of ``stream`` is scheduled within EXPIRY_SLACK_SECONDS
        before ``due`` (the caller then schedules one)."""
        with self._lock:
            if self._expiry_due.get(stream, 0) + EXPIRY_SLACK_SECONDS > due:
                return False
            self._expiry_due[stream] = due
            return True

    def should_purge(self, stream: int, now: float) -> bool:
        with self._lock:
            last = self._last_purge.get(stream)
            if last is not None and last <= now < last + PURGE_INTERVAL_SECONDS:
                return False
            self._last_purge[stream] = now
            return True


def _live_media_keys(conn: Connection) -> set[int]:
    return {data["_media_key"] for data in documents(conn, STREAM_KIND) if data.get("_media_key") is not None}


# The media bytes of a store (one MediaStore per SQLAlchemy engine): media_store(conn_or_engine).
media_store = PerEngine(MediaStore)


# ---------------------------------------------------------------------------- writing

def header_id(conn: Connection, stream: int, ebml_header: bytes, segment_head: bytes) -> int:
    """The id of this producer header (EBML header + Info + Tracks), stored once per stream."""
    data = ebml_header + segment_head
    digest = hashlib.sha256(data).hexdigest()
    query = sa.select(headers.c.pk).where(headers.c.stream == stream, headers.c.digest == digest)
    found = conn.execute(query).scalar()
    if found is not None:
        return found
    # Two producers of one stream may store the same header at once: the second one's insert
    # does nothing (or, in a SERIALIZABLE transaction, fails as a conflict and runs again).
    conn.execute(dialect_insert(conn, headers).values(stream=stream, digest=digest, ebml_length=len(ebml_header), data=data)
                 .on_conflict_do_nothing(index_elements=[headers.c.stream, headers.c.digest]))
    return conn.execute(query).scalar_one()


def read_header(conn: Connection, header: int) -> tuple[bytes, bytes]:
    """(EBML header, Info + Tracks) of a stored producer header."""
    row = conn.execute(sa.select(headers.c.ebml_length, headers.c.data).where(headers.c.pk == header)).one()
    data = bytes(row.data)
    return data[:row.ebml_length], data[row.ebml_length:]


def store_fragment(conn: Connection, stream: dict, *, seq: int, server_ms: int, producer_ms: int,
                   duration_ms: int, header: int, data, tags: list | None) -> Fragment:
    """Store a fragment: ``data`` is its Cluster, as bytes or a list of bytes-like pieces."""
    parts = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
    size = sum(len(part) for part in parts)
    key = stream["_media_key"]
    store = media_store(conn)
    persisted = stream["DataRetentionInHours"] > 0
    offset = store.blobs.write(conn, key, seq, server_ms, parts)
    conn.execute(fragments.insert(), {
        "stream": key, "seq": seq, "server_ms": server_ms, "producer_ms": producer_ms,
        "duration_ms": duration_ms, "size": size, "persisted": persisted, "header": header,
        "blob_offset": offset, "tags": tags or None,
    })
    notify.publish(conn, topic(key))  # live tails everywhere wake when this commits
    return Fragment(seq, server_ms, producer_ms, duration_ms, size, persisted, header, offset, tags)


def fragment_bytes(conn: Connection, stream: dict, fragment: Fragment) -> bytes | None:
    return media_store(conn).blobs.read(conn, stream["_media_key"], fragment)


# ---------------------------------------------------------------------------- retention

def windows(stream: dict, now: float) -> tuple[int, int]:
    """(oldest server_ms a persisted fragment may have, oldest server_ms of the buffer)."""
    now_ms = int(now * 1000)
    return now_ms - stream["DataRetentionInHours"] * 3_600_000, now_ms - BUFFER_SECONDS * 1000


def archived_from(stream: dict, now: float, on_server_ms: bool, start_ms: int | None) -> tuple[int, int | None]:
    """The lower bounds of archived fragments from ``start_ms``: (on server_ms, on the other
    column or None). On server_ms the retention bound and ``start_ms`` are one bound."""
    persisted_from, _ = windows(stream, now)
    if on_server_ms:
        return (persisted_from if start_ms is None else max(persisted_from, start_ms)), None
    return persisted_from, start_ms


def archived(stream: dict, now: float, column=None, start_ms: int | None = None, end_ms: int | None = None):
    """The condition for fragments the archived-media APIs see (persisted, within retention),
    optionally within [start_ms, end_ms] of ``column`` (producer_ms or server_ms). On server_ms
    the retention bound and ``start_ms`` are merged into one lower bound: with two, SQLite opens
    the index range at the first and scans the whole retention window."""
    column = fragments.c.server_ms if column is None else column
    server_from, column_from = archived_from(stream, now, column is fragments.c.server_ms, start_ms)
    conditions = [fragments.c.stream == stream["_media_key"], fragments.c.persisted.is_(True),
                  fragments.c.server_ms >= server_from]
    if column_from is not None:
        conditions.append(column >= column_from)
    if end_ms is not None:
        conditions.append(column <= end_ms)
    return sa.and_(*conditions)


def readable(stream: dict, now: float):
    """The condition for fragments GetMedia sees: archived ones and the live buffer."""
    persisted_from, buffer_from = windows(stream, now)
    return sa.and_(fragments.c.stream == stream["_media_key"],
                   sa.or_(fragments.c.server_ms >= buffer_from,
                          sa.and_(fragments.c.persisted.is_(True), fragments.c.server_ms >= persisted_from)))


def expire(conn: Connection, stream: dict, now: float) -> int:
    """Delete the fragments (rows and bytes) no reader can see any more; return how many."""
    key = stream["_media_key"]
    persisted_from, buffer_from = windows(stream, now)
    gone = sa.and_(fragments.c.stream == key, fragments.c.server_ms < buffer_from,
                   sa.or_(fragments.c.persisted.is_(False), fragments.c.server_ms < persisted_from))
    seqs = [row.seq for row in conn.execute(sa.select(fragments.c.seq).where(gone))]
    if stream["DataRetentionInHours"] == 0:
        seqs += _over_buffer_bytes(conn, key, buffer_from)
    if not seqs:
        return 0
    for start in range(0, len(seqs), 500):
        conn.execute(fragments.delete().where(fragments.c.stream == key,
                                              fragments.c.seq.in_(seqs[start:start + 500])))
    oldest_kept = conn.execute(sa.select(sa.func.min(fragments.c.server_ms))
                               .where(fragments.c.stream == key)).scalar()
    media_store(conn).blobs.forget(conn, key, seqs, int(now * 1000) if oldest_kept is None else oldest_kept)
    return len(seqs)


def _over_buffer_bytes(conn: Connection, key: int, buffer_from: int) -> list[int]:
    """The oldest buffered fragments beyond the buffer's 200 MB."""
    rows = conn.execute(sa.select(fragments.c.seq, fragments.c.size).where(
        fragments.c.stream == key, fragments.c.server_ms >= buffer_from,
        fragments.c.persisted.is_(False)).order_by(fragments.c.seq.desc())).all()
    total, doomed = 0, []
    for row in rows:
        total += row.size
        if total > BUFFER_BYTES:
            doomed.append(row.seq)
    return doomed


EXPIRY_SLACK_SECONDS = 60  # expiry checks of a stream are at least this far apart


def schedule_expiry(ctx, stream: dict, server_ms: int) -> None:
    """Make sure the fragment just stored is deleted when it expires even if nothing is written
    to the stream after it: a transition at its expiry (one per EXPIRY_SLACK_SECONDS of
    writing; while a stream is written, expired fragments go at every write anyway)."""
    store = media_store(ctx.conn)
    seconds = stream["DataRetentionInHours"] * 3600 if stream["DataRetentionInHours"] else BUFFER_SECONDS
    due = server_ms / 1000 + max(seconds, BUFFER_SECONDS) + 1
    key = stream["_media_key"]
    if not store.claim_expiry_check(key, due):
        return
    ctx.schedule_at(due, STREAM_KIND, stream["StreamName"], "kinesisvideo.media.expire", key=key)


@transition("kinesisvideo.media.expire")
def expire_transition(resources, kind, resource_id, args, due_at) -> None:
    stream = resources.get(kind, resource_id)
    if stream is not None and stream.get("_media_key") == args["key"]:
        expire(resources.conn, stream, due_at)


def drop_stream(conn: Connection, stream: dict) -> None:
    """Forget all media of a deleted stream."""
    key = stream.get("_media_key")
    if key is None:
        return
    conn.execute(fragments.delete().where(fragments.c.stream == key))
    conn.execute(headers.delete().where(headers.c.stream == key))
    conn.execute(sequences.delete().where(sequences.c.stream == key))
    media_store(conn).blobs.drop_stream(conn, key)


# ---------------------------------------------------------------------------- reading

def select_fragments(condition, *order, limit: int | None = None):
    query = sa.select(*_FRAGMENT_COLUMNS).where(condition).order_by(*order)
    return query.limit(limit) if limit is not None else query


# What ListFragments shows of a fragment (a narrower row: a page holds a thousand of them).
LISTED_COLUMNS = (fragments.c.seq, fragments.c.server_ms, fragments.c.producer_ms, fragments.c.duration_ms,
                  fragments.c.size)


def fetch(conn: Connection, query) -> list[Fragment]:
    return [_fragment(row) for row in conn.execute(query)]
