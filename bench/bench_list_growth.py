"""Growth: does a list page cost the same whatever the store holds?

For each size (``--sizes``, default 10^2, 10^4, 10^6 rows), an in-process greenroom
(``greenroom.mock``) on a fresh SQLite file gets one real resource of each kind through the API
(a stream, a stream with fragments, an IVS stage with one joined participant, a GameLift Streams
stream group with one session); the rest of the rows are copies of those written straight into
the store's tables (setup only: creating a million resources through the API would take an
hour). Then, per operation, the per-call median over ``--rounds`` rounds (the sizes interleaved in each
round, so that the machine's load weighs on all alike) of one page through a boto3 client
(botocore's work included, the same at every size):

- kinesisvideo ListStreams, MaxResults 100 (top-level resources of one kind);
- ListFragments, MaxResults 100, a 1-minute window in the middle of the stream (PRODUCER_TIMESTAMP
  and SERVER_TIMESTAMP selectors);
- ivs-realtime ListParticipants, maxResults 50 (one session's participants);
- gameliftstreams ListStreamSessions, MaxResults 50 (one stream group's sessions).

Ratio: the largest size's median divided by the smallest's, per operation. Target: <= 2 each.

    python bench/bench_list_growth.py [--sizes 100,10000,1000000] [--rounds 7] [--calls 5]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import source_state  # noqa: E402

FRAGMENT_MS = 500
BATCH = 20_000
UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}
OPERATIONS = ("ListStreams", "ListFragments PRODUCER_TIMESTAMP", "ListFragments SERVER_TIMESTAMP",
              "ListParticipants", "ListStreamSessions")


def _insert_copies(conn, table, template: dict, count: int, vary) -> None:
    """``count`` copies of a row, ``vary(row, index)`` making each one distinct, in batches."""
    batch = []
    for index in range(count):
        batch.append(vary(dict(template), index))
        if len(batch) == BATCH:
            conn.execute(table.insert(), batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)


def build(mock, size: int) -> dict:
    """Real resources through the API, then copies up to ``size`` rows of each; what to list."""
    import sqlalchemy as sa

    from greenroom.core.store import resources
    from greenroom.services.ivs_realtime import tables as ivs_tables
    from greenroom.services.kinesisvideo import storage

    from greenroom.protocol.http import HttpRequest

    kvs = mock.client("kinesisvideo")
    kvs.create_stream(StreamName="s0000000", DataRetentionInHours=24 * 365)
    kvs.create_stream(StreamName="big", DataRetentionInHours=24 * 365)
    ivs = mock.client("ivs-realtime")
    stage = ivs.create_stage(name="stage")["stage"]
    token = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]["token"]
    joined = mock.emulator.handle(HttpRequest("POST", "/_greenroom/ivs-realtime/join", host="localhost",
                                              headers={"content-type": "application/json"},
                                              body=json.dumps({"token": token}).encode()))
    assert joined.status == 200, joined.body
    gls = mock.client("gameliftstreams")
    app = gls.create_application(Description="game", RuntimeEnvironment=UBUNTU, ExecutablePath="bin/game",
                                 ApplicationSourceUri="s3://game-bucket/builds/1/")
    mock.clock.advance(2)
    group = gls.create_stream_group(Description="group", StreamClass="gen4n_high", DefaultApplicationIdentifier=app["Arn"])
    mock.clock.advance(0.001)
    gls.start_stream_session(Identifier=group["Arn"], ApplicationIdentifier=app["Arn"], Protocol="WebRTC",
                             SignalRequest="NO_CLIENT_CONNECTION")
    mock.clock.advance(5)

    end_ms = int(mock.emulator.clock.now() * 1000) - 60_000
    first_ms = end_ms - size * FRAGMENT_MS
    with mock.emulator.store.engine.begin() as conn:
        def row_of(kind: str, where=None):
            query = sa.select(resources).where(resources.c.kind == kind)
            if where is not None:
                query = query.where(where)
            found = conn.execute(query).mappings().first()
            row = dict(found)
            row.pop("pk")
            return row

        stream = row_of("kinesisvideo:stream", resources.c.id == "s0000000")

        def vary_stream(row, index):
            name = f"s{index + 1:07d}"
            row["id"] = name
            row["data"] = {**stream["data"], "StreamName": name,
                           "StreamARN": stream["data"]["StreamARN"].replace("s0000000", name)}
            return row
        _insert_copies(conn, resources, stream, size - 1, vary_stream)

        big = row_of("kinesisvideo:stream", resources.c.id == "big")["data"]
        header = conn.execute(storage.headers.insert().values(stream=big["_media_key"], digest="bench",
                                                              ebml_length=0, data=b"")).inserted_primary_key[0]
        fragment = {"stream": big["_media_key"], "duration_ms": FRAGMENT_MS, "size": 150_000, "persisted": True,
                    "header": header, "blob_offset": None, "tags": None}

        def vary_fragment(row, index):
            row.update(seq=index + 1, producer_ms=first_ms + index * FRAGMENT_MS,
                       server_ms=first_ms + index * FRAGMENT_MS + 40)
            return row
        _insert_copies(conn, storage.fragments, fragment, size, vary_fragment)

        participant = dict(conn.execute(sa.select(ivs_tables.participants)).mappings().first())
        participant.pop("pk")

        def vary_participant(row, index):
            pid = f"bench{index:07d}"
            row["participant_id"] = pid
            row["data"] = {**participant["data"], "participantId": pid}
            return row
        _insert_copies(conn, ivs_tables.participants, participant, size - 1, vary_participant)

        session = row_of("gameliftstreams:streamsession")

        def vary_session(row, index):
            sid = f"bench{index:07d}"
            row["id"] = sid
            row["data"] = {**session["data"], "Id": sid, "Arn": session["data"]["Arn"].rsplit("/", 1)[0] + "/" + sid}
            return row
        _insert_copies(conn, resources, session, size - 1, vary_session)
    conn = None
    middle_ms = first_ms + (size // 2) * FRAGMENT_MS - 30_000 if size > 200 else first_ms
    return {"stage": stage["arn"], "session": participant["session_id"], "group": group["Id"],
            "window": (max(first_ms, middle_ms), max(first_ms, middle_ms) + 60_000)}


def pages(mock, built: dict) -> dict:
    """One page of each operation, as a function (clients made while ``mock`` is active)."""
    kvs = mock.client("kinesisvideo")
    archived = mock.client("kinesis-video-archived-media")
    ivs = mock.client("ivs-realtime")
    gls = mock.client("gameliftstreams")
    start, end = (dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc) for ms in built["window"])

    def fragments(kind):
        # Server timestamps are the producer's + 40 ms here: the same window, shifted.
        shift = dt.timedelta(milliseconds=40 if kind == "SERVER_TIMESTAMP" else 0)
        return lambda: archived.list_fragments(StreamName="big", MaxResults=100, FragmentSelector={
            "FragmentSelectorType": kind, "TimestampRange": {"StartTimestamp": start + shift,
                                                              "EndTimestamp": end + shift}})["Fragments"]

    return {
        "ListStreams": lambda: kvs.list_streams(MaxResults=100)["StreamInfoList"],
        "ListFragments PRODUCER_TIMESTAMP": fragments("PRODUCER_TIMESTAMP"),
        "ListFragments SERVER_TIMESTAMP": fragments("SERVER_TIMESTAMP"),
        "ListParticipants": lambda: ivs.list_participants(stageArn=built["stage"], sessionId=built["session"],
                                                          maxResults=50)["participants"],
        "ListStreamSessions": lambda: gls.list_stream_sessions(Identifier=built["group"], MaxResults=50)["Items"],
    }


def measure(by_size: dict[int, dict], rounds: int, calls: int) -> dict[int, dict[str, tuple[float, int]]]:
    """Per-call medians over rounds interleaving the sizes (the machine's load changes alike for all)."""
    samples: dict[tuple[int, str], list[float]] = {}
    items: dict[tuple[int, str], int] = {}
    sizes = list(by_size)
    for size, operations in by_size.items():
        for name, page in operations.items():
            items[size, name] = len(page())  # warm-up, and the page is not empty
            assert items[size, name] > 0, (size, name)
    for round_number in range(rounds):
        for name in OPERATIONS:
            for size in (sizes if round_number % 2 == 0 else sizes[::-1]):
                page = by_size[size][name]
                started = time.perf_counter()
                for _ in range(calls):
                    page()
                samples.setdefault((size, name), []).append((time.perf_counter() - started) / calls)
    return {size: {name: (statistics.median(samples[size, name]), items[size, name]) for name in OPERATIONS}
            for size in sizes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,10000,1000000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5, help="calls per round, size and operation")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    import greenroom

    print(f"bench_list_growth: page cost by rows stored; greenroom at {source_state()}; "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")
    by_size: dict[int, dict] = {}
    directories, mocks = [], []
    try:
        for size in sizes:
            directory = Path(tempfile.mkdtemp(prefix="greenroom-bench-growth-"))
            directories.append(directory)
            # Each size is its own in-process greenroom; its clients keep answering from it
            # after the mock stops patching new clients (the next size's mock makes its own).
            with greenroom.mock(db_url=f"sqlite:///{directory / 'greenroom.db'}") as mock:
                mocks.append(mock)
                mock.clock.freeze()
                started = time.perf_counter()
                built = build(mock, size)
                by_size[size] = pages(mock, built)
            print(f"  {size:>9} rows of each: built in {time.perf_counter() - started:.1f} s")
        results = measure(by_size, args.rounds, args.calls)
    finally:
        for directory in directories:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"{'operation':36}" + "".join(f"{size:>12}" for size in sizes) + "   largest/smallest")
    met = True
    for name in OPERATIONS:
        ratio = results[sizes[-1]][name][0] / results[sizes[0]][name][0]
        met = met and ratio <= 2
        print(f"{name:36}" + "".join(f"{results[size][name][0] * 1e6:>9.0f} us" for size in sizes)
              + f"   {ratio:5.2f}  (page of {results[sizes[-1]][name][1]})")
    print(f"target largest/smallest <= 2 on every operation: {'met' if met else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
