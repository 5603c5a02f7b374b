"""Live notifications: wake whoever waits on a *topic* when something it cares about committed,
in this process and, on a PostgreSQL store, in every process sharing it.

``STORE_CHANGED`` is published by the store itself with every transaction that writes (the
console's live view); it, ``REQUESTS`` and ``CLOCK`` are delivered in this process only.

A topic is a short string naming what changed (``kinesisvideo.fragment:<media key>``; later,
say, ``ivs.stage:<account>:<stage id>`` when a participant joins). A notification carries no
data: whoever wakes reads the store, which is the truth. So a lost or duplicated notification
costs a delay or a spare read, never a wrong answer.

- ``publish(conn, topic)`` inside a store transaction: delivered when (and only if) it commits.
  ``Notifier.publish_now(topic)`` outside of one.
- ``Notifier.version(topic)`` then ``await Notifier.wait(topic, timeout, since=version)``:
  taking the version *before* reading the store means a notification that lands between the
  read and the wait is not missed.
- ``Notifier.subscribe(topic, callback)``: ``callback(topic)`` on every notification (from the
  committing thread or the listener thread: it must be quick and thread-safe).

On PostgreSQL a committed transaction runs ``pg_notify`` on one channel per schema (channels are
database-wide; tests put each store in a schema of its own), and a listener thread per process
(one connection of its own, started on the first wait or subscription) hands remote
notifications to the local waiters. A process's own notifications are delivered locally at
commit and skipped when they come back from the server.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .engines import PerEngine

log = logging.getLogger("greenroom")

# Topics of the core itself, delivered in this process only. STORE_CHANGED: a transaction that
# wrote anything committed (the store publishes it; the console re-reads). Not sent through
# pg_notify: PostgreSQL serializes the commits of notifying transactions, one more per write
# cost multi-server write throughput (bench_multinode), so readers of a shared store also look
# again now and then for other processes' writes. REQUESTS and CLOCK: the request log and the
# clock live in process memory.
STORE_CHANGED = "greenroom.store"
REQUESTS = "greenroom.requests"
CLOCK = "greenroom.clock"

_PENDING = "greenroom.notify.pending"   # key in a connection's info: topics published in its transaction
LISTENER_POLL_SECONDS = 1.0             # how often the listener thread checks it should stop
RECONNECT_SECONDS = 1.0


def publish(conn: Connection, topic: str) -> None:
    """Notify ``topic`` when the transaction of ``conn`` commits (nothing if it rolls back)."""
    pending = conn.info.setdefault(_PENDING, [])
    if topic not in pending:
        pending.append(topic)


def take_pending(conn: Connection) -> list[str]:
    """The topics published in the transaction of ``conn``, forgotten there (core.store)."""
    return conn.info.pop(_PENDING, None) or []


class Notifier:
    """In-process delivery; the base of the PostgreSQL notifier."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future]]] = {}
        self._subscribers: dict[str, list[Callable[[str], None]]] = {}

    # ---- sending
    def before_commit(self, conn: Connection, topics: list[str]) -> None:
        """Called by the store just before a transaction holding ``topics`` commits."""

    def publish_now(self, topic: str) -> None:
        """Notify ``topic`` now, outside any transaction."""
        self.deliver(topic)

    def deliver(self, topic: str) -> None:
        """Wake this process's waiters and subscribers of ``topic``."""
        with self._lock:
            self._versions[topic] = self._versions.get(topic, 0) + 1
            waiters = self._waiters.pop(topic, [])
            subscribers = list(self._subscribers.get(topic, ()))
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                pass
        for callback in subscribers:
            try:
                callback(topic)
            except Exception:
                log.exception("notification subscriber of %s failed", topic)

    def deliver_everything(self) -> None:
        """Wake every waiter and subscriber (notifications may have been missed)."""
        with self._lock:
            topics = set(self._waiters) | set(self._subscribers)
        for topic in topics:
            self.deliver(topic)

    # ---- receiving
    def version(self, topic: str) -> int:
        with self._lock:
            return self._versions.get(topic, 0)

    async def wait(self, topic: str, timeout: float, since: int | None = None) -> bool:
        """Until ``topic`` is notified (after version ``since``, if given) or ``timeout`` seconds
        pass; True when notified."""
        self._start_listening()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if since is not None and self._versions.get(topic, 0) != since:
                return True
            self._waiters.setdefault(topic, []).append(entry)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                waiting = self._waiters.get(topic, [])
                if entry in waiting:
                    waiting.remove(entry)
                    if not waiting:
                        del self._waiters[topic]

    def subscribe(self, topic: str, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(topic)`` on each notification of ``topic``; returns the unsubscribe."""
        self._start_listening()
        with self._lock:
            self._subscribers.setdefault(topic, []).append(callback)

        def unsubscribe() -> None:
            with self._lock:
                callbacks = self._subscribers.get(topic, [])
                if callback in callbacks:
                    callbacks.remove(callback)
                if not callbacks:
                    self._subscribers.pop(topic, None)

        return unsubscribe

    def wakeup(self, *topics: str) -> "Wakeup":
        """An asyncio event set by notifications of ``topics`` (for the running loop)."""
        return Wakeup(self, topics)

    def _start_listening(self) -> None:
        """Nothing to listen to in one process."""

    def close(self) -> None:
        pass


class Wakeup:
    """For a socket that pushes what changed: ``clear()``, read the store, send, ``await
    wait()``; a notification landing meanwhile leaves the event set, so nothing is missed.
    ``close()`` unsubscribes."""

    def __init__(self, notifier: Notifier, topics) -> None:
        self._loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self._unsubscribe = [notifier.subscribe(topic, self._poke) for topic in topics]

    def _poke(self, topic: str) -> None:
        try:
            self._loop.call_soon_threadsafe(self.event.set)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def clear(self) -> None:
        self.event.clear()

    async def wait(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []


class PostgresNotifier(Notifier):
    """LISTEN/NOTIFY: every process sharing the store hears every other's commits."""

    def __init__(self, engine: Engine):
        super().__init__()
        self._engine = engine
        self._origin = secrets.token_hex(6)   # skips our own notifications coming back
        self._channel: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.listening = threading.Event()     # set while the listener holds its LISTEN

    def channel(self, conn: Connection | None = None) -> str:
        if self._channel is None:
            if conn is None:
                with self._engine.connect() as own:
                    schema = own.execute(sa.text("SELECT current_schema()")).scalar()
            else:
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
            self._channel = f"greenroom.{schema}"[:63]  # identifiers are at most 63 bytes
        return self._channel

    def before_commit(self, conn: Connection, topics: list[str]) -> None:
        channel = self.channel(conn)
        for topic in dict.fromkeys(topics):  # once each, in order
            if topic == STORE_CHANGED:
                continue  # this process only (see STORE_CHANGED)
            conn.execute(sa.text("SELECT pg_notify(:channel, :payload)"),
                         {"channel": channel, "payload": f"{self._origin} {topic}"})

    def publish_now(self, topic: str) -> None:
        with self._engine.connect() as conn:
            self.before_commit(conn, [topic])
            conn.commit()
        self.deliver(topic)

    def _start_listening(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._listen, name="greenroom-notify", daemon=True)
        channel = self.channel()
        self._thread.start()
        # The first waiter should not miss what commits while the listener connects.
        if not self.listening.wait(5):
            log.warning("notification listener on %s is not connected yet", channel)

    def _listen(self) -> None:
        import psycopg
        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        channel = self.channel()
        while not self._stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{channel}"')
                    self.listening.set()
                    # Whatever committed while we were not listening: let everyone look again.
                    self.deliver_everything()
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=LISTENER_POLL_SECONDS):
                            origin, _, topic = note.payload.partition(" ")
                            if origin != self._origin:
                                self.deliver(topic)
            except Exception as error:
                self.listening.clear()
                if self._stopping.is_set():
                    return
                log.warning("notification listener lost its connection (%s); reconnecting", error)
                self._stopping.wait(RECONNECT_SECONDS)
        self.listening.clear()

    def close(self) -> None:
        self._stopping.set()


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _make_notifier(engine: Engine) -> Notifier:
    return PostgresNotifier(engine) if engine.dialect.name == "postgresql" else Notifier()


# The notifier of a store (one per SQLAlchemy engine): notifier(conn_or_engine).
notifier = PerEngine(_make_notifier)
