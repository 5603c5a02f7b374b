"""In-process cost of greenroom: DescribeStream through ``greenroom.mock()`` vs the client's floor.

Two boto3 kinesisvideo clients are built identically (same region, credentials and config):

* ``greenroom``: created inside ``greenroom.mock()``, so its ``before-send`` is answered by the
  emulator (route, parse, validate, SQLite transaction, handler, serialize);
* ``canned``: created outside the mock, with a ``before-send`` hook that returns a fixed, valid
  DescribeStream response: the exact bytes and headers greenroom answered once. What is left is
  botocore's own per-call work (parameter validation, serialization, signing, parsing): the
  floor no in-process emulator can go below.

Rounds of both are interleaved after a warm-up; the ratio is median(greenroom) / median(canned)
per call. Nothing is sent over the network: the canned hook answers every request.

    python bench/bench_mock.py [--rounds 9] [--calls 300]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import boto3
from botocore.awsrequest import AWSResponse, HeadersDict

import greenroom
from _common import source_state

TARGET = 1.15
STREAM = "bench-stream"
CLIENT_OPTIONS = dict(region_name="us-east-1", aws_access_key_id="greenroomtesting",
                      aws_secret_access_key="greenroomtesting")


class _OneShotBody:
    """The minimal raw body botocore reads a response from (like urllib3's ``stream()``)."""

    __slots__ = ("_body",)

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, amt=65536, decode_content=True):
        body, self._body = self._body, b""
        if body:
            yield body

    def read(self, amt=None, decode_content=True):
        body, self._body = self._body, b""
        return body


def make_client():
    return boto3.session.Session().client("kinesisvideo", **CLIENT_OPTIONS)


CPU_TIME: dict[str, list[float]] = {}  # client name -> this thread's CPU seconds per call, per round


def time_calls(client, calls: int, name: str | None = None) -> float:
    """Seconds per call of DescribeStream (wall clock); the thread's CPU time per call is kept
    in CPU_TIME[name]: on a loaded machine it moves far less than the wall clock."""
    describe = client.describe_stream
    started, cpu_started = time.perf_counter(), time.thread_time()
    for _ in range(calls):
        describe(StreamName=STREAM)
    if name is not None:
        CPU_TIME.setdefault(name, []).append((time.thread_time() - cpu_started) / calls)
    return (time.perf_counter() - started) / calls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=300, help="calls per round and client")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)

    # Built before the mock starts, so greenroom never sees it.
    canned = make_client()

    with greenroom.mock() as gr:
        emulated = make_client()
        emulated.create_stream(StreamName=STREAM, DataRetentionInHours=24)
        gr.clock.advance(60)  # past the CREATING -> ACTIVE delay: steady state from here on

        # Capture one real answer of greenroom to replay byte for byte.
        captured = {}

        def capture(response_dict, **_):
            captured.update(status=response_dict["status_code"], body=response_dict["body"],
                            headers=dict(response_dict["headers"]))

        emulated.meta.events.register("before-parse.kinesis-video.DescribeStream", capture)
        answer = emulated.describe_stream(StreamName=STREAM)
        emulated.meta.events.unregister("before-parse.kinesis-video.DescribeStream", capture)
        assert answer["StreamInfo"]["Status"] == "ACTIVE", answer
        body, headers = captured["body"], captured["headers"]

        def canned_answer(request, **_):
            return AWSResponse(request.url, 200, HeadersDict(headers), _OneShotBody(body))

        canned.meta.events.register_first("before-send", canned_answer)
        same = canned.describe_stream(StreamName=STREAM)
        assert same["StreamInfo"] == answer["StreamInfo"], (same, answer)

        clients = {"greenroom": emulated, "canned": canned}
        for client in clients.values():
            time_calls(client, args.warmup)

        per_call: dict[str, list[float]] = {name: [] for name in clients}
        order = list(clients)
        for round_number in range(args.rounds):
            # Alternate which goes first, so drift (noisy neighbours, thermal) hits both alike.
            for name in (order if round_number % 2 == 0 else order[::-1]):
                gc.collect()
                per_call[name].append(time_calls(clients[name], args.calls, name))

    print(f"bench_mock: kinesisvideo DescribeStream, {args.rounds} interleaved rounds x "
          f"{args.calls} calls per client (warm-up {args.warmup}); response body {len(body)} bytes")
    print(f"greenroom at {source_state()}; python {sys.version.split()[0]}, boto3 {boto3.__version__}")
    for name, samples in per_call.items():
        us = [s * 1e6 for s in samples]
        print(f"  {name:<10} per call: median {statistics.median(us):8.1f} us   "
              f"min {min(us):8.1f}   max {max(us):8.1f}   rounds: {' '.join(f'{u:.0f}' for u in us)}")
    med_g = statistics.median(per_call["greenroom"])
    med_c = statistics.median(per_call["canned"])
    ratio = med_g / med_c
    per_round = [g / c for g, c in zip(per_call["greenroom"], per_call["canned"])]
    print(f"  greenroom's own cost per call (median difference): {(med_g - med_c) * 1e6:.1f} us")
    print(f"  per-round ratios: {' '.join(f'{r:.2f}' for r in per_round)}")
    cpu_g, cpu_c = statistics.median(CPU_TIME["greenroom"]), statistics.median(CPU_TIME["canned"])
    print(f"  for context, this thread's CPU time per call (medians): greenroom {cpu_g * 1e6:.1f} us, "
          f"canned {cpu_c * 1e6:.1f} us, ratio {cpu_g / cpu_c:.2f} (load average {os.getloadavg()[0]:.2f})")
    print(f"ratio greenroom / canned (medians): {ratio:.2f}   "
          f"target <= {TARGET}: {'met' if ratio <= TARGET else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
