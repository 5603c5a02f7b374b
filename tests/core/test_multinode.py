"""Several greenroom servers on one PostgreSQL store, written to from 16 client threads spread
over them: no acknowledged write is lost, no version is accepted twice, a quota is never
overshot, and of racing creates exactly one succeeds while the others get the service's own
conflict error. The same load on one SQLite-backed server loses nothing either.

(The Kinesis Video media side, two producers and a live tail across servers, is in
tests/services/kinesisvideo/test_kinesisvideo_multinode.py.)"""
from __future__ import annotations

import collections
import threading

import pytest
from botocore.exceptions import ClientError

from core_support import make_client

THREADS = 16
RETENTION_UPDATES_PER_THREAD = 4
STREAM_UPDATES_PER_THREAD = 2
TAGS_PER_THREAD = 3          # 16 x 3 = 48 tags: under both services' limit of 50
RACES = 3
STAGE_QUOTA = 5


@pytest.fixture(params=["postgresql-3-servers", "sqlite-1-server"])
def servers(request, launch, tmp_path):
    if request.param.startswith("postgresql"):
        store = ["--db-url", request.getfixturevalue("postgres_url")]
        count = 3
    else:
        store = ["--data-dir", str(tmp_path)]
        count = 1
    running = launch.many([[*store, "--log-level", "warning"]] * count)
    for server in running:  # delays are each process's own: no UPDATING window anywhere
        server.admin("POST", "delays", {"kinesisvideo.stream.update": 0,
                                        "kinesisvideo.stream.create": 0}).raise_for_status()
    return running


def _in_threads(servers, work) -> list:
    """``work(index, server)`` in THREADS threads, thread i on server i mod len(servers);
    their results in thread order (an exception in one fails the test)."""
    results: list = [None] * THREADS
    errors: list = []
    start = threading.Barrier(THREADS)

    def run(index: int) -> None:
        try:
            server = servers[index % len(servers)]
            start.wait(timeout=30)
            results[index] = work(index, server)
        except BaseException as error:  # reported below, with its thread
            errors.append((index, error))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def _created_or_code(create) -> str:
    """"created" if ``create()`` succeeds, else the error code it was refused with."""
    try:
        create()
        return "created"
    except ClientError as error:
        return _code(error)


def _code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_concurrent_writes_from_sixteen_threads_lose_nothing(servers):
    kv = make_client("kinesisvideo", servers[0].base_url)
    arn = kv.create_stream(StreamName="shared", DataRetentionInHours=1)["StreamARN"]
    kv.describe_stream(StreamARN=arn)

    # Optimistic concurrency: each thread reads the version and updates with it until it has
    # made its updates; a stale version is refused (VersionMismatchException), never accepted.
    def update(index, server, times, call):
        client = make_client("kinesisvideo", server.base_url)
        accepted, refused = [], 0
        while len(accepted) < times:
            version = client.describe_stream(StreamARN=arn)["StreamInfo"]["Version"]
            try:
                call(client, version, index)
            except ClientError as error:
                assert _code(error) in ("VersionMismatchException", "ResourceInUseException"), error.response
                refused += 1
                continue
            accepted.append(version)
        return accepted

    retention = _in_threads(servers, lambda index, server: update(
        index, server, RETENTION_UPDATES_PER_THREAD, lambda client, version, _: client.update_data_retention(
            StreamARN=arn, CurrentVersion=version, Operation="INCREASE_DATA_RETENTION",
            DataRetentionChangeInHours=1)))
    accepted = [version for versions in retention for version in versions]
    assert len(accepted) == THREADS * RETENTION_UPDATES_PER_THREAD
    duplicates = [v for v, n in collections.Counter(accepted).items() if n > 1]
    assert duplicates == [], "a version was accepted twice"
    info = kv.describe_stream(StreamARN=arn)["StreamInfo"]
    assert info["DataRetentionInHours"] == 1 + len(accepted), "acknowledged updates were lost"

    device_names = _in_threads(servers, lambda index, server: update(
        index, server, STREAM_UPDATES_PER_THREAD, lambda client, version, i: client.update_stream(
            StreamARN=arn, CurrentVersion=version, DeviceName=f"device-{i}")))
    accepted = [version for versions in device_names for version in versions]
    assert len(accepted) == len(set(accepted)) == THREADS * STREAM_UPDATES_PER_THREAD
    assert kv.describe_stream(StreamARN=arn)["StreamInfo"]["DataRetentionInHours"] == 1 + THREADS * RETENTION_UPDATES_PER_THREAD

    # Tagging: every acknowledged tag is there afterwards (KVS TagStream, IVS TagResource).
    ivs = make_client("ivs-realtime", servers[0].base_url)
    stage_arn = ivs.create_stage(name="shared")["stage"]["arn"]

    def tag(index, server):
        kv_client = make_client("kinesisvideo", server.base_url)
        ivs_client = make_client("ivs-realtime", server.base_url)
        for n in range(TAGS_PER_THREAD):
            kv_client.tag_stream(StreamARN=arn, Tags={f"t{index}-{n}": str(n)})
            ivs_client.tag_resource(resourceArn=stage_arn, tags={f"t{index}-{n}": str(n)})

    _in_threads(servers, tag)
    expected = {f"t{index}-{n}": str(n) for index in range(THREADS) for n in range(TAGS_PER_THREAD)}
    assert kv.list_tags_for_stream(StreamARN=arn)["Tags"] == expected
    assert ivs.list_tags_for_resource(resourceArn=stage_arn)["tags"] == expected

    # Racing creates of one name: exactly one succeeds, the others are the service's conflict.
    for race in range(RACES):
        def create(index, server, race=race):
            return _created_or_code(lambda: make_client("kinesisvideo", server.base_url).create_stream(
                StreamName=f"race-{race}"))

        outcomes = collections.Counter(_in_threads(servers, create))
        assert outcomes == {"created": 1, "ResourceInUseException": THREADS - 1}, outcomes

    # A count-then-insert quota is never overshot: of 16 racing CreateStage calls with room
    # for STAGE_QUOTA - 1 more stages, exactly that many succeed.
    servers[0].admin("POST", "ivs-realtime/quotas", {"quotas": {"stages": STAGE_QUOTA}}).raise_for_status()

    def create_stage(index, server):
        return _created_or_code(lambda: make_client("ivs-realtime", server.base_url).create_stage(
            name=f"racer-{index}"))

    outcomes = collections.Counter(_in_threads(servers, create_stage))
    assert outcomes == {"created": STAGE_QUOTA - 1, "ServiceQuotaExceededException": THREADS - STAGE_QUOTA + 1}, outcomes
    assert len(ivs.list_stages(maxResults=100)["stages"]) == STAGE_QUOTA

    # Publishers per stage (counted in IVS's own participants table): of 16 participants
    # joining and publishing at once through the servers, exactly the quota's number publish.
    servers[0].admin("POST", "ivs-realtime/quotas", {"quotas": {"stages": 100, "publishers_per_stage": 3}}
                     ).raise_for_status()
    stage = ivs.create_stage(name="publishers")["stage"]["arn"]
    tokens = [ivs.create_participant_token(stageArn=stage, capabilities=["PUBLISH", "SUBSCRIBE"])
              ["participantToken"]["token"] for _ in range(THREADS)]

    def publish(index, server):
        joined = server.admin("POST", "ivs-realtime/join", {"token": tokens[index]})
        joined.raise_for_status()
        answer = server.admin("POST", f"ivs-realtime/participants/{joined.json()['participantId']}/publish")
        return answer.status_code, answer.json().get("code")

    outcomes = collections.Counter(_in_threads(servers, publish))
    assert outcomes == {(200, None): 3, (429, "QUOTA_EXCEEDED"): THREADS - 3}, outcomes

    for server in servers:
        assert "Traceback" not in server.log(), server.log()


def test_a_timer_set_on_one_server_fires_on_another(launch, postgres_url):
    """A lifecycle transition scheduled by a server that is gone by its due time is applied by
    another server on its own (its background tick), once."""
    a, b = launch.many([["--db-url", postgres_url, "--log-level", "warning"]] * 2)
    a.admin("POST", "delays", {"kinesisvideo.stream.create": 1.5}).raise_for_status()
    make_client("kinesisvideo", a.base_url).create_stream(StreamName="timed")
    a.stop(kill=True)
    import time

    import sqlalchemy as sa
    from core_support import store_engine
    from greenroom.core.store import resources, transitions

    engine = store_engine(postgres_url)
    try:
        deadline = time.monotonic() + 10
        while True:  # read behind greenroom's back: nobody asks b anything
            with engine.connect() as conn:
                status = conn.execute(sa.select(resources.c.data).where(resources.c.id == "timed")).scalar_one()["Status"]
                pending = conn.execute(sa.select(sa.func.count()).select_from(transitions)).scalar_one()
            if status == "ACTIVE":
                break
            assert time.monotonic() < deadline, "the transition set on a was never applied"
            time.sleep(0.1)
        assert pending == 0
    finally:
        engine.dispose()
    assert make_client("kinesisvideo", b.base_url).describe_stream(StreamName="timed")["StreamInfo"]["Status"] == "ACTIVE"
