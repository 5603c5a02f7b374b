"""The store (greenroom.core.store) seen through real clients, on a SQLite file and PostgreSQL:
schema creation and upgrade, one transaction per request, per-(account, region) state,
durability across kill -9, and several servers sharing one PostgreSQL store."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from core_support import in_process, error_of, names, store_args, store_engine
from greenroom.core import store as store_module
from greenroom.core.errors import ServiceError
from greenroom.core.operations import HANDLERS
from greenroom.core.store import SCHEMA_VERSION, Store

KIND = "kinesisvideo:stream"


def list_all(kv, **params) -> list[dict]:
    return [stream for page in kv.get_paginator("list_streams").paginate(**params)
            for stream in page["StreamInfoList"]]


def stored(db_url: str, table=store_module.resources, **where) -> list:
    """Rows of a greenroom table, read behind greenroom's back."""
    engine = store_engine(db_url)
    try:
        with engine.connect() as conn:
            query = sa.select(table)
            for column, value in where.items():
                query = query.where(table.c[column] == value)
            return conn.execute(query).all()
    finally:
        engine.dispose()


def table_names(db_url: str) -> set[str]:
    engine = store_engine(db_url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# ------------------------------------------------------------------------- schema

def test_schema_is_created_on_first_use_and_reopening_is_idempotent(db_url):
    assert table_names(db_url) == set()

    first = in_process(db_url)  # an emulator on an empty store: the first request must just work
    try:
        kv = first.client("kinesisvideo")
        arn = kv.create_stream(StreamName="kept")["StreamARN"]
        pagination_key = first.emulator.store.setting("pagination_key", lambda: "unused")
    finally:
        first.close()
    assert {"resources", "transitions", "settings"} <= table_names(db_url)

    # Re-opening runs the upgrade again, twice: nothing is duplicated, lost or regenerated.
    for _ in range(2):
        again = Store(db_url)
        again.engine.dispose()
    second = in_process(db_url)
    try:
        info = second.client("kinesisvideo").describe_stream(StreamARN=arn)["StreamInfo"]
        assert info["StreamName"] == "kept"
        assert second.emulator.store.setting("pagination_key", lambda: "new") == pagination_key
    finally:
        second.close()
    versions = stored(db_url, store_module.settings, name="schema_version")
    assert [row.value for row in versions] == [SCHEMA_VERSION]


def test_concurrent_first_use_of_one_postgres_store(postgres_url):
    """Several processes opening a new shared store at once (servers started together) must all
    come up: creating the schema is serialized, not a race on PostgreSQL's catalog."""
    barrier = threading.Barrier(4)
    errors, stores = [], []

    def open_store():
        barrier.wait()
        try:
            stores.append(Store(postgres_url))
        except Exception as error:  # what the test reports
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.engine.dispose()
    assert errors == []
    assert [row.value for row in stored(postgres_url, store_module.settings, name="schema_version")] == [SCHEMA_VERSION]


# ------------------------------------------------------------------------- one transaction per request

def test_a_handler_failing_half_way_leaves_nothing_behind(db_url, monkeypatch):
    emulator = in_process(db_url)
    try:
        real_create = HANDLERS[("kinesisvideo", "CreateStream")]

        def create_then_fail(ctx, request):
            output = real_create(ctx, request)  # inserted the stream, scheduled its activation
            if request["StreamName"].startswith("crash"):
                raise RuntimeError("failing half-way")
            if request["StreamName"].startswith("refuse"):
                raise ServiceError("ClientLimitExceededException", "refused half-way")
            return output

        monkeypatch.setitem(HANDLERS, ("kinesisvideo", "CreateStream"), create_then_fail)
        kv = emulator.client("kinesisvideo")
        kv.create_stream(StreamName="fine")  # due to become ACTIVE after 1 s

        with pytest.raises(ClientError) as crashed:
            kv.create_stream(StreamName="crash-1")
        code, message, status = error_of(crashed)
        assert status == 500 and code == "InternalFailure"
        assert "Internal error in greenroom while handling CreateStream" in message

        emulator.emulator.clock.advance(1)  # "fine" is due; the next (failing) request applies it
        with pytest.raises(ClientError) as refused:
            kv.create_stream(StreamName="refuse-1")
        assert error_of(refused)[:2] == ("ClientLimitExceededException", "refused half-way")

        # Nothing of the failed requests: no stream, no scheduled transition...
        assert [(row.id, row.data["Status"]) for row in stored(db_url, kind=KIND)] == [("fine", "ACTIVE")]
        assert [row for row in stored(db_url) if row.id != "fine"] == []
        assert stored(db_url, store_module.transitions) == []
        # ...and the clients agree, even once the failed streams' activation would be due.
        emulator.emulator.clock.advance(5)
        assert names(list_all(kv)) == ["fine"]
        for name in ("crash-1", "refuse-1"):
            with pytest.raises(ClientError) as missing:
                kv.describe_stream(StreamName=name)
            assert error_of(missing)[0] == "ResourceNotFoundException"
        # The names were never taken.
        monkeypatch.setitem(HANDLERS, ("kinesisvideo", "CreateStream"), real_create)
        kv.create_stream(StreamName="crash-1")
        assert kv.describe_stream(StreamName="crash-1")["StreamInfo"]["Status"] == "CREATING"
    finally:
        emulator.close()


@pytest.mark.parametrize("store", ["memory", "sqlite", "postgresql"])
def test_concurrent_requests_in_process_keep_their_transactions_apart(store, request, monkeypatch):
    """Threads sharing one in-process emulator: a request failing half-way while others
    succeed must neither leak its writes nor take acknowledged writes down with it."""
    db_url = {"memory": lambda: None,
              "sqlite": lambda: f"sqlite:///{request.getfixturevalue('tmp_path') / 'greenroom.db'}",
              "postgresql": lambda: request.getfixturevalue("postgres_url")}[store]()
    emulator = in_process(db_url)
    try:
        real_create = HANDLERS[("kinesisvideo", "CreateStream")]

        def create_then_fail(ctx, request_):
            output = real_create(ctx, request_)
            if request_["StreamName"].startswith("fail"):
                time.sleep(0.02)  # hold the unfinished transaction while the other thread works
                raise RuntimeError("failing half-way")
            return output

        monkeypatch.setitem(HANDLERS, ("kinesisvideo", "CreateStream"), create_then_fail)
        failing, succeeding = emulator.client("kinesisvideo"), emulator.client("kinesisvideo")
        acknowledged = []

        def fail_repeatedly():
            for number in range(15):
                with pytest.raises(ClientError):
                    failing.create_stream(StreamName=f"fail-{number}")

        def succeed_repeatedly():
            for number in range(150):
                succeeding.create_stream(StreamName=f"good-{number}")
                acknowledged.append(f"good-{number}")

        problems = []

        def run(work):
            try:
                work()
            except BaseException as error:  # reported by the assertion below
                problems.append(repr(error))

        threads = [threading.Thread(target=run, args=(work,)) for work in (fail_repeatedly, succeed_repeatedly)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert problems == []
        assert names(list_all(succeeding)) == acknowledged
    finally:
        emulator.close()


# ------------------------------------------------------------------------- accounts and regions

def test_state_is_isolated_per_account_and_region(anywhere):
    def kv(key, region="us-east-1"):
        return anywhere.client("kinesisvideo", region=region, aws_access_key_id=key)

    scopes = {
        ("111111111111", "us-east-1"): kv("111111111111"),
        ("222222222222", "us-east-1"): kv("222222222222"),
        ("111111111111", "us-west-2"): kv("111111111111", "us-west-2"),
        ("000000000000", "us-east-1"): kv("AKIDEXAMPLE"),
    }
    for (account, region), client in scopes.items():
        arn = client.create_stream(StreamName="cam")["StreamARN"]  # the same name everywhere
        assert arn.startswith(f"arn:aws:kinesisvideo:{region}:{account}:stream/cam/")
    for (account, region), client in scopes.items():
        streams = list_all(client)
        assert names(streams) == ["cam"]
        assert f":{region}:{account}:" in streams[0]["StreamARN"]

    # Keys that are not 12-digit numbers are all the default account.
    for key in ("AKIDOTHERKEY", "12345678901", "1234567890123", "12345678901a"):
        with pytest.raises(ClientError) as taken:
            kv(key).create_stream(StreamName="cam")
        assert error_of(taken)[0] == "ResourceInUseException"

    # Another account or region cannot see or delete a stream, even by its ARN.
    mine = scopes[("111111111111", "us-east-1")]
    arn = mine.create_stream(StreamName="private")["StreamARN"]
    for (account, region), other in scopes.items():
        if (account, region) == ("111111111111", "us-east-1"):
            continue
        for call in (lambda: other.describe_stream(StreamName="private"),
                     lambda: other.describe_stream(StreamARN=arn),
                     lambda: other.delete_stream(StreamARN=arn)):
            with pytest.raises(ClientError) as missing:
                call()
            assert error_of(missing)[0] == "ResourceNotFoundException"
        assert names(list_all(other)) == ["cam"]
    assert mine.describe_stream(StreamARN=arn)["StreamInfo"]["Status"] == "CREATING"


def test_account_option_names_the_default_account(launch):
    server = launch("--ephemeral", "--account", "999999999999", "--log-level", "warning")
    arn = server.client("kinesisvideo").create_stream(StreamName="cam")["StreamARN"]
    assert ":us-east-1:999999999999:stream/cam/" in arn
    own = server.client("kinesisvideo", aws_access_key_id="123456789012", region="eu-west-1")
    assert ":eu-west-1:123456789012:stream/cam/" in own.create_stream(StreamName="cam")["StreamARN"]


# ------------------------------------------------------------------------- durability

def test_acknowledged_writes_survive_kill_9(db_url, launch):
    """Create streams from several clients, SIGKILL the server mid-stream, start another on the
    same store: every acknowledged stream is there, and its pending activation still happens."""
    first = launch(*store_args(db_url), "--log-level", "warning")
    first.admin("POST", "delays", {"kinesisvideo.stream.create": 0.4}).raise_for_status()
    acknowledged: list[str] = []
    attempted: list[str] = []
    stop = threading.Event()

    def writer(number: int):
        kv = first.client("kinesisvideo")
        for sequence in range(10_000):
            if stop.is_set():
                return
            name = f"w{number}-{sequence}"
            attempted.append(name)
            try:
                kv.create_stream(StreamName=name)
            except Exception:  # the server died under this request: not acknowledged
                return
            acknowledged.append(name)

    writers = [threading.Thread(target=writer, args=(number,)) for number in range(4)]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.stop(kill=True)  # SIGKILL while the writers are still sending
    assert first.process.returncode == -9
    stop.set()
    for thread in writers:
        thread.join(timeout=30)
    assert len(acknowledged) >= 60

    second = launch(*store_args(db_url), "--log-level", "warning")
    kv = second.client("kinesisvideo")
    found = {stream["StreamName"]: stream["Status"] for stream in list_all(kv)}
    assert set(acknowledged) <= set(found)
    assert set(found) <= set(attempted)  # nothing invented; at most the in-flight ones besides
    # The activations scheduled by the killed server are carried out by the new one.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and set(found.values()) != {"ACTIVE"}:
        time.sleep(0.1)
        found = {stream["StreamName"]: stream["Status"] for stream in list_all(kv)}
    assert set(found.values()) == {"ACTIVE"}


# ------------------------------------------------------------------------- shared PostgreSQL

def test_two_servers_share_one_postgres_store(postgres_url, launch):
    # Started at the same moment on an empty schema: both create it, both must come up.
    a, b = launch.many([["--db-url", postgres_url, "--log-level", "warning"]] * 2)
    kv_a, kv_b = a.client("kinesisvideo"), b.client("kinesisvideo")

    arn = kv_a.create_stream(StreamName="from-a")["StreamARN"]
    assert kv_b.describe_stream(StreamName="from-a")["StreamInfo"]["StreamARN"] == arn
    kv_b.create_stream(StreamName="from-b")
    assert names(list_all(kv_a)) == names(list_all(kv_b)) == ["from-a", "from-b"]
    with pytest.raises(ClientError) as taken:
        kv_b.create_stream(StreamName="from-a")
    assert error_of(taken)[0] == "ResourceInUseException"

    # One pagination key for the store: a token from one server continues on the other.
    first_page = kv_a.list_streams(MaxResults=1)
    assert names(first_page["StreamInfoList"]) == ["from-a"]
    second_page = kv_b.list_streams(MaxResults=1, NextToken=first_page["NextToken"])
    assert names(second_page["StreamInfoList"]) == ["from-b"]
    assert "NextToken" not in second_page

    # Transitions scheduled by one server are applied for (and seen by) the other: b's
    # deletion with no delay is already done when a answers its next request.
    b.admin("POST", "delays", {"kinesisvideo.stream.delete": 0}).raise_for_status()
    kv_b.delete_stream(StreamARN=arn)
    with pytest.raises(ClientError) as gone:
        kv_a.describe_stream(StreamName="from-a")
    assert error_of(gone)[0] == "ResourceNotFoundException"
    # b's activation of "from-b" (due 1 s after its creation) shows on a too.
    deadline = time.monotonic() + 5
    while kv_a.describe_stream(StreamName="from-b")["StreamInfo"]["Status"] != "ACTIVE":
        assert time.monotonic() < deadline, "from-b never became ACTIVE"
        time.sleep(0.1)
    assert [row.id for row in stored(postgres_url, kind=KIND)] == ["from-b"]
