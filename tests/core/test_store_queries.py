"""The store's queries services use instead of touching tables: typed filters, conditional
counts, batched scans with a Python filter, newest-first child listings, store-wide reads; on
SQLite and PostgreSQL."""
from __future__ import annotations

import concurrent.futures

import sqlalchemy as sa

from greenroom.core import store as store_module
from greenroom.core.store import Resources, Store

KIND = "test:thing"


def _filled(db_url: str):
    store = Store(db_url)
    store.upgrade()
    return store


def test_typed_filters_counts_scans_and_newest_first(db_url):
    store = _filled(db_url)
    with store.transaction() as conn:
        here = Resources(conn, "111111111111", "us-east-1")
        for number in range(7):
            here.insert(KIND, f"t{number}", {"n": number, "even": number % 2 == 0, "name": f"t{number}",
                                             "ratio": number / 2},
                        parent="p" if number < 5 else "q")
        Resources(conn, "222222222222", "us-east-1").insert(KIND, "other", {"n": 0, "even": True})

        assert here.count(KIND) == 7
        assert here.count(KIND, parent="p") == 5
        assert here.count(KIND, where={"even": True}) == 4
        assert here.count(KIND, where={"even": False, "n": 3}) == 1
        assert here.count(KIND, where={"ratio": 1.5}) == 1
        assert [d["name"] for _, d in here.list(KIND, where={"name": "t2"})] == ["t2"]

        odd = here.scan(KIND, keep=lambda d: d["n"] % 2 == 1, limit=2, batch=1)
        assert [d["n"] for _, d in odd] == [1, 3]
        rest = here.scan(KIND, keep=lambda d: d["n"] % 2 == 1, limit=5, after=odd[-1][0], batch=1)
        assert [d["n"] for _, d in rest] == [5]

        newest = here.list(KIND, parent="p", newest_first=True, limit=2)
        assert [d["n"] for _, d in newest] == [4, 3]
        older = here.list(KIND, parent="p", newest_first=True, after=newest[-1][0])
        assert [d["n"] for _, d in older] == [2, 1, 0]

        everywhere = sorted(d["n"] for d in store_module.documents(conn, KIND))
        assert everywhere == [0, 0, 1, 2, 3, 4, 5, 6]
    store.engine.dispose()


def test_require_room_refuses_at_the_quota_of_a_kind_only(db_url):
    """A kind-wide quota (one statement: is there a row past limit - 1?) and a quota under a
    parent (a bounded count) refuse exactly when ``limit`` rows are there, counting only the
    account's and region's rows of that kind."""
    store = _filled(db_url)

    class Full(Exception):
        pass

    with store.transaction() as conn:
        here = Resources(conn, "111111111111", "us-east-1")
        for number in range(3):
            here.insert(KIND, f"t{number}", {"n": number}, parent="p")
        Resources(conn, "222222222222", "us-east-1").insert(KIND, "other", {})
        Resources(conn, "111111111111", "us-west-2").insert(KIND, "west", {})
        here.insert("test:other", "x", {})

        for limit in (4, 5, 1000):
            here.require_room(KIND, limit, Full)
            here.require_room(KIND, limit, Full, parent="p")
        for limit in (0, 1, 2, 3):
            for parent in (None, "p"):
                try:
                    here.require_room(KIND, limit, lambda n: Full(n), parent=parent)
                except Full as refused:
                    assert refused.args == (limit,)
                else:
                    raise AssertionError(f"no refusal at {limit} (parent {parent})")
        here.require_room("test:none", 1, Full)
    store.engine.dispose()


def test_a_duplicate_insert_is_a_conflict_store_run_retries(db_url):
    """Writes run on the DBAPI connection (SQLite) fail as SQLAlchemy's would: a second insert
    of the same identity is a conflict ``Store.run`` runs again, where the handler's own
    "already exists" check answers."""
    store = _filled(db_url)
    with store.transaction() as conn:
        Resources(conn, "111111111111", "us-east-1").insert(KIND, "same", {"n": 1})
    try:
        with store.transaction() as conn:
            Resources(conn, "111111111111", "us-east-1").insert(KIND, "same", {"n": 2})
    except sa.exc.IntegrityError as error:
        assert store_module.is_conflict(error)
    else:
        raise AssertionError("the duplicate was stored")
    with store.transaction() as conn:
        assert Resources(conn, "111111111111", "us-east-1").get(KIND, "same") == {"n": 1}
    store.engine.dispose()


def test_reading_sees_what_is_committed_and_refuses_writes(db_url):
    """Store.reading (read-only operations: no BEGIN/COMMIT) reads committed rows, and a write
    in it is refused before it runs, through SQLAlchemy or on the DBAPI connection alike."""
    store = _filled(db_url)
    with store.transaction() as conn:
        Resources(conn, "111111111111", "us-east-1").insert(KIND, "kept", {"n": 1})
    with store.reading() as conn:
        here = Resources(conn, "111111111111", "us-east-1")
        assert here.get(KIND, "kept") == {"n": 1}
        assert [d for _, d in here.list(KIND)] == [{"n": 1}]
        for write in (lambda: here.insert(KIND, "new", {}), lambda: here.update(KIND, "kept", {"n": 2}),
                      lambda: here.delete(KIND, "kept")):
            try:
                write()
            except (store_module.ReadOnlyViolation, sa.exc.StatementError) as refused:
                assert "read-only" in str(refused)
            else:
                raise AssertionError("a write was let through")
    with store.transaction() as conn:  # the thread's connection is usable again, nothing changed
        here = Resources(conn, "111111111111", "us-east-1")
        assert [d for _, d in here.list(KIND)] == [{"n": 1}]
        here.insert(KIND, "after", {})
    store.engine.dispose()


def test_a_kind_count_follows_inserts_and_deletes_and_is_made_for_an_older_store(db_url):
    """A kind's count (what a kind-wide quota reads instead of its rows) moves with every insert
    and delete, not with a refused duplicate or the delete of a missing row, and a store made
    before kinds were counted gets its counts once when it opens."""
    store = _filled(db_url)
    with store.transaction() as conn:
        here = Resources(conn, "111111111111", "us-east-1")
        for number in range(5):
            here.insert(KIND, f"t{number}", {}, parent="p" if number % 2 else "")
        Resources(conn, "111111111111", "eu-west-1").insert(KIND, "elsewhere", {})
        assert here.delete(KIND, "t0") and not here.delete(KIND, "missing")
    try:
        with store.transaction() as conn:
            Resources(conn, "111111111111", "us-east-1").insert(KIND, "t1", {})
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("the duplicate was stored")

    def counts() -> tuple[int, int, int]:
        with store.transaction() as conn:
            here = Resources(conn, "111111111111", "us-east-1")
            return here.count(KIND), here.count(KIND, at_most=2), Resources(conn, "111111111111", "eu-west-1").count(KIND)
    assert counts() == (4, 2, 1)
    assert store.inventory() == [  # the console's, from the same counts
        {"account": "111111111111", "region": "eu-west-1", "kind": KIND, "count": 1},
        {"account": "111111111111", "region": "us-east-1", "kind": KIND, "count": 4}]

    with store.transaction() as conn:  # as an earlier release left it: no counts
        conn.execute(store_module.resource_counts.delete())
        conn.execute(store_module.settings.delete().where(store_module.settings.c.name == "upgrade:store.resource-counts"))
    assert counts() == (0, 0, 0)
    store.engine.dispose()
    store = Store(db_url)
    assert counts() == (4, 2, 1)
    store.engine.dispose()


def test_racing_inserts_count_every_row_and_never_overshoot_a_quota(db_url):
    """Threads inserting one kind at once, each through Store.run as requests are (the server
    answers large requests, and every request on PostgreSQL, on worker threads): the kind's
    count is the number of rows, and a quota checked by each insert is reached, never passed."""
    store = _filled(db_url)

    class Full(Exception):
        pass

    def insert(name: str, limit: int | None) -> bool:
        def work() -> None:
            with store.transaction() as conn:
                here = Resources(conn, "111111111111", "us-east-1")
                if limit is not None:
                    here.require_room("test:quota", limit, Full)
                here.insert("test:quota" if limit is not None else KIND, name, {})
        try:
            store.run(work)
            return True
        except Full:
            return False

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        free = list(pool.map(lambda n: insert(f"free{n}", None), range(40)))
        quota = list(pool.map(lambda n: insert(f"quota{n}", 25), range(40)))
    assert all(free) and quota.count(True) == 25
    with store.transaction() as conn:
        here = Resources(conn, "111111111111", "us-east-1")
        assert here.count(KIND) == 40 == len(here.list(KIND))
        assert here.count("test:quota") == 25 == len(here.list("test:quota"))
    store.engine.dispose()


def test_ids_starting_with_a_prefix_list_in_creation_order_page_by_page(db_url):
    """``id_prefix`` (a range of the identity index) lists exactly the ids starting with the
    prefix, in code point order's sense of "starting with" (case counts; characters beyond
    ASCII too), in creation order and newest first, page by page through the keyset."""
    store = _filled(db_url)
    ids = ["ab1", "AB2", "ab", "abé", "ac", "aa", "ab\U0010ffff", "a", "abz", "b", "ab-", "é", "éa", "ab2"]
    with store.transaction() as conn:
        here = Resources(conn, "111111111111", "us-east-1")
        for name in ids:
            here.insert(KIND, name, {"id": name})
        Resources(conn, "222222222222", "us-east-1").insert(KIND, "ab-elsewhere", {"id": "ab-elsewhere"})
        here.insert("test:other", "ab-other", {"id": "ab-other"})
    for prefix in ("ab", "a", "é", "ab\U0010ffff", "abc", "A"):
        expected = [name for name in ids if name.startswith(prefix)]
        with store.reading() as conn:
            here = Resources(conn, "111111111111", "us-east-1")
            assert [d["id"] for _, d in here.list(KIND, id_prefix=prefix)] == expected, prefix
            assert [d["id"] for _, d in here.list(KIND, id_prefix=prefix, newest_first=True)] == expected[::-1]
            pages, after = [], None
            while True:
                page = here.list(KIND, id_prefix=prefix, after=after, limit=2)
                pages.extend(d["id"] for _, d in page)
                if len(page) < 2:
                    break
                after = page[-1][0]
            assert pages == expected, prefix
    assert store_module._after_prefix("ab") == "ac" and store_module._after_prefix("\U0010ffff") is None
    assert store_module._after_prefix("a\U0010ffff") == "b" and store_module._after_prefix("\ud7ff") == "\ue000"
    store.engine.dispose()
