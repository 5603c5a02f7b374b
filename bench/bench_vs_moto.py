"""greenroom side by side with moto: kinesisvideo CreateStream, DescribeStream, ListStreams.

moto is a bench-only dependency (``pip install -e '.[bench]'``). Both emulators hold 1,000
streams (created through their APIs) before anything is timed; every timed call goes through an
identically built boto3 client, so botocore's own work is in every figure. Three clients per
operation:

* ``floor``: a ``before-send`` hook (in process) or a bare uvicorn app (``_bareapp.py``, through
  a server) answering greenroom's own response, byte for byte: the cost of the client alone;
* ``greenroom``: ``greenroom.mock()`` in process; ``greenroom serve --ephemeral`` as a server;
* ``moto``: ``moto.mock_aws()`` in process; ``moto.server.ThreadedMotoServer`` as a server.

Rounds are interleaved (floor, greenroom, moto; reversed every other round), ``--calls`` calls
per client per round; printed: per-call medians over the rounds, greenroom/floor, moto/floor and
greenroom/moto. CreateStream creates a new stream on every call (its answer is the stream's
ARN); ListStreams lists all 1,000+ streams in one page (MaxResults 10000).
Target: greenroom/moto <= 0.8 on every row.

    python bench/bench_vs_moto.py [--rounds 7] [--calls 50] [--streams 1000] [--skip-server]
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.awsrequest import AWSResponse, HeadersDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bare_command, greenroom_command, source_state, start_server  # noqa: E402
from bench_mock import _OneShotBody  # noqa: E402

TARGET = 0.8
CLIENT_OPTIONS = dict(region_name="us-east-1", aws_access_key_id="AKIDBENCHMARK",
                      aws_secret_access_key="greenroomtesting")
OPERATIONS = ("CreateStream", "DescribeStream", "ListStreams")


def client(**options):
    return boto3.session.Session().client("kinesisvideo", **CLIENT_OPTIONS, **options)


class Calls:
    """The three operations on one client; CreateStream names are unique per client."""

    def __init__(self, kvs, prefix: str, active=contextlib.nullcontext):
        self.kvs = kvs
        self.names = (f"{prefix}-{n}" for n in itertools.count())
        self.active = active  # a context the calls must run in (moto's mock_aws is all or nothing)

    def __call__(self, operation: str):
        if operation == "CreateStream":
            return self.kvs.create_stream(StreamName=next(self.names), DataRetentionInHours=24)
        if operation == "DescribeStream":
            return self.kvs.describe_stream(StreamName="bench-0")
        return self.kvs.list_streams(MaxResults=10000)


def populate(kvs, count: int) -> None:
    for index in range(count):
        kvs.create_stream(StreamName=f"bench-{index}", DataRetentionInHours=24)


def captured_answers(kvs) -> dict[str, tuple[int, dict, bytes]]:
    """greenroom's answer to each operation (status, headers, body), for the floor to replay."""
    answers = {}
    for operation in OPERATIONS:
        def capture(response_dict, operation=operation, **_):
            answers[operation] = (response_dict["status_code"], dict(response_dict["headers"]),
                                  response_dict["body"])
        event = f"before-parse.kinesis-video.{operation}"
        kvs.meta.events.register(event, capture)
        Calls(kvs, "capture")(operation)
        kvs.meta.events.unregister(event, capture)
    return answers


def canned_client(kvs, answers) -> Calls:
    """``kvs`` answered by a hook replaying ``answers`` (a client made outside greenroom.mock())."""
    def answer(request, operation_name=None, **_):
        status, headers, body = answers[operation_name]
        return AWSResponse(request.url, status, HeadersDict(headers), _OneShotBody(body))

    def named(request, event_name, **kwargs):
        # before-send events carry no operation name: read it from the request's path.
        path = request.url.rsplit("/", 1)[-1].lower()
        return answer(request, {"createstream": "CreateStream", "describestream": "DescribeStream",
                                "liststreams": "ListStreams"}[path])

    kvs.meta.events.register_first("before-send", named)
    return Calls(kvs, "floor")


def timed_rounds(clients: dict[str, Calls], rounds: int, calls: int) -> dict[tuple[str, str], float]:
    """Per-call median (seconds) of each (operation, client) over interleaved rounds."""
    samples: dict[tuple[str, str], list[float]] = {}
    order = list(clients)
    for operation in OPERATIONS:
        for name in order:  # warm-up
            with clients[name].active():
                for _ in range(5):
                    clients[name](operation)
    for round_number in range(rounds):
        for operation in OPERATIONS:
            for name in (order if round_number % 2 == 0 else order[::-1]):
                call = clients[name]
                with call.active():
                    gc.collect()
                    started = time.perf_counter()
                    for _ in range(calls):
                        call(operation)
                    samples.setdefault((operation, name), []).append((time.perf_counter() - started) / calls)
    return {key: statistics.median(values) for key, values in samples.items()}


def report(title: str, medians: dict) -> bool:
    print(title)
    print(f"  {'operation':16}{'floor':>11}{'greenroom':>11}{'moto':>11}   greenroom/floor  moto/floor  greenroom/moto")
    met = True
    for operation in OPERATIONS:
        floor, ours, moto = (medians[(operation, name)] for name in ("floor", "greenroom", "moto"))
        met = met and ours / moto <= TARGET
        print(f"  {operation:16}{floor * 1e6:>8.0f} us{ours * 1e6:>8.0f} us{moto * 1e6:>8.0f} us"
              f"   {ours / floor:15.2f}  {moto / floor:10.2f}  {ours / moto:14.2f}")
    print(f"  target greenroom/moto <= {TARGET} on every row: {'met' if met else 'not met'}")
    return met


def in_process(args) -> bool:
    import greenroom
    from moto import mock_aws

    floor_kvs = client()  # made before greenroom.mock() starts: nothing of greenroom's in it
    # moto's before-send hook answers every client while mock_aws is on, whatever hooks come
    # first: it is on only around moto's own calls (its data kept in between).
    moto = mock_aws()

    @contextlib.contextmanager
    def moto_on():
        moto.start(reset=False)
        try:
            yield
        finally:
            moto.stop(remove_data=False)

    with moto_on():
        moto_kvs = client()
        populate(moto_kvs, args.streams)
    with greenroom.mock() as mock:
        ours = client()
        populate(ours, args.streams)
        mock.clock.advance(60)  # every stream ACTIVE
        answers = captured_answers(ours)
        clients = {"floor": canned_client(floor_kvs, answers), "greenroom": Calls(ours, "greenroom"),
                   "moto": Calls(moto_kvs, "moto", moto_on)}
        medians = timed_rounds(clients, args.rounds, args.calls)
    moto.start(reset=False)
    moto.stop()  # its data goes: moto's server (same process, same backends) starts empty
    return report(f"in process ({args.rounds} rounds x {args.calls} calls, {args.streams} streams):", medians)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def through_servers(args) -> bool:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access-log line per request
    moto_port = _free_port()
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto_server.start()
    directory = Path(tempfile.mkdtemp(prefix="greenroom-bench-moto-"))
    ours = start_server("greenroom", greenroom_command() + ["serve", "--ephemeral", "--port", "0",
                                                            "--log-level", "warning"], directory / "greenroom.err")
    floors = {}
    try:
        moto_kvs = client(endpoint_url=f"http://127.0.0.1:{moto_port}")
        populate(moto_kvs, args.streams)
        our_kvs = client(endpoint_url=f"http://127.0.0.1:{ours.port}")
        populate(our_kvs, args.streams)
        time.sleep(1.2)  # past the CREATING delay: every stream ACTIVE
        answers = captured_answers(our_kvs)
        floor_clients = {}
        for operation, (_, _, body) in answers.items():
            body_file = directory / f"{operation}.json"
            body_file.write_bytes(body)
            floors[operation] = start_server(f"floor {operation}", bare_command() + ["--port", "0", "--body-file", str(body_file)],
                                            directory / f"{operation}.err")
            floor_clients[operation] = Calls(client(endpoint_url=f"http://127.0.0.1:{floors[operation].port}"), "floor")

        class Floor(Calls):
            def __call__(self, operation):
                return floor_clients[operation](operation)

        clients = {"floor": Floor(None, "floor"), "greenroom": Calls(our_kvs, "greenroom"), "moto": Calls(moto_kvs, "moto")}
        medians = timed_rounds(clients, args.rounds, args.calls)
    finally:
        ours.stop()
        for server in floors.values():
            server.stop()
        moto_server.stop()
    return report(f"through a server ({args.rounds} rounds x {args.calls} calls, {args.streams} streams; "
                  "greenroom serve --ephemeral --log-level warning, moto's ThreadedMotoServer, bare uvicorn app):",
                  medians)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=50, help="calls per round, operation and client")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args(argv)
    import moto
    print(f"bench_vs_moto: greenroom at {source_state()}, moto {moto.__version__}, boto3 {boto3.__version__}; "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")
    met = in_process(args)
    if not args.skip_server:
        met = through_servers(args) and met
    print(f"target greenroom/moto <= {TARGET} on every row (all): {'met' if met else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
