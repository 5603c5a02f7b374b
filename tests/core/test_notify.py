"""core.notify: a topic published in a committed transaction wakes waiters and subscribers in
this process and, on PostgreSQL, of another store on the same database (another process); a
rolled-back transaction notifies nobody."""
from __future__ import annotations

import asyncio
import threading

import pytest

from greenroom.core import notify
from greenroom.core.store import Store


def _publish(store: Store, topic: str, commit: bool = True) -> None:
    class Rollback(Exception):
        pass

    try:
        with store.transaction() as conn:
            notify.publish(conn, topic)
            if not commit:
                raise Rollback()
    except Rollback:
        pass


async def _wait(store: Store, topic: str, timeout: float) -> bool:
    return await store.notifier.wait(topic, timeout)


@pytest.mark.parametrize("where", ["memory", "sqlite-file", "postgresql"])
def test_commit_wakes_local_waiters_and_rollback_does_not(where, request, tmp_path):
    url = {"memory": None, "sqlite-file": f"sqlite:///{tmp_path / 'g.db'}"}.get(where) \
        or request.getfixturevalue("postgres_url")
    store = Store(url)
    try:
        async def scenario():
            version = store.notifier.version("t:1")
            waiter = asyncio.ensure_future(_wait(store, "t:1", 5))
            await asyncio.sleep(0.05)
            await asyncio.to_thread(_publish, store, "t:1", False)
            await asyncio.sleep(0.2)
            assert not waiter.done()                      # rolled back: nothing
            await asyncio.to_thread(_publish, store, "t:1")
            assert await asyncio.wait_for(waiter, 2)      # committed: woken
            assert store.notifier.version("t:1") == version + 1
            # A notification between taking the version and waiting is not missed.
            await asyncio.to_thread(_publish, store, "t:1")
            assert await store.notifier.wait("t:1", 0.01, since=version + 1)
        asyncio.run(scenario())
    finally:
        store.notifier.close()
        store.engine.dispose()


def test_postgres_notifications_reach_another_store(postgres_url):
    """Two stores on one database stand for two processes: waiters and subscribers of one are
    woken by the other's commits."""
    here, there = Store(postgres_url), Store(postgres_url)
    assert here.notifier is not there.notifier
    heard: list[str] = []
    heard_event = threading.Event()

    def on_join(topic: str) -> None:
        heard.append(topic)
        heard_event.set()

    unsubscribe = there.notifier.subscribe("ivs.stage:s1", on_join)
    try:
        async def scenario():
            # The waiter would give up after 30 s; woken by the other store's commit, it
            # answers True (well within the 5 s allowed here).
            waiter = asyncio.ensure_future(_wait(there, "kinesisvideo.fragment:7", 30))
            await asyncio.sleep(0.05)
            await asyncio.to_thread(_publish, here, "kinesisvideo.fragment:7")
            assert await asyncio.wait_for(waiter, 5)

        asyncio.run(scenario())
        here.notifier.publish_now("ivs.stage:s1")
        assert heard_event.wait(2) and heard == ["ivs.stage:s1"]
        # Another topic wakes nobody here.
        heard_event.clear()
        _publish(here, "ivs.stage:other")
        assert not heard_event.wait(0.3)
    finally:
        unsubscribe()
        for store in (here, there):
            store.notifier.close()
            store.engine.dispose()


@pytest.mark.parametrize("where", ["memory", "postgresql"])
def test_a_transaction_that_writes_publishes_store_changed(where, request):
    """What the console's live view wakes on: any committed write of this process; a read-only
    transaction publishes nothing; on PostgreSQL nothing goes to other processes (no pg_notify
    on the write path)."""
    from greenroom.core.store import Resources
    url = None if where == "memory" else request.getfixturevalue("postgres_url")
    store = Store(url)
    other = Store(url) if url else None
    try:
        async def scenario():
            wake = store.notifier.wakeup(notify.STORE_CHANGED)
            elsewhere = other.notifier.wakeup(notify.STORE_CHANGED) if other else None
            try:
                def read():
                    with store.transaction() as conn:
                        Resources(conn, "123456789012", "us-east-1").list("test:thing")
                await asyncio.to_thread(read)
                assert not await wake.wait(0.3)
                def write():
                    with store.transaction() as conn:
                        Resources(conn, "123456789012", "us-east-1").insert("test:thing", "a", {"n": 1})
                await asyncio.to_thread(write)
                assert await wake.wait(5)
                if elsewhere is not None:
                    assert not await elsewhere.wait(0.5)
            finally:
                wake.close()
                if elsewhere is not None:
                    elsewhere.close()
        asyncio.run(scenario())
    finally:
        for each in filter(None, (store, other)):
            each.notifier.close()
            each.engine.dispose()
