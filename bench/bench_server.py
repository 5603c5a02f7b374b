"""Server throughput: DescribeStream requests per second against ``greenroom serve``, relative to a
bare ASGI app on the same server stack.

* ``greenroom``: ``greenroom serve --ephemeral --port 0`` in a subprocess, as shipped (default
  log level, so its per-request access log goes to stderr, here a file).
* ``bare``: ``bench/_bareapp.py`` in a subprocess: uvicorn with greenroom's settings and socket
  setup, answering every request with greenroom's own DescribeStream answer (same bytes).
* ``greenroom-quiet`` (for context, not the target): the same server with ``--log-level warning``.

The request is what boto3 sends for ``describe_stream(StreamName=...)``, signed once by
botocore's SigV4 signer and replayed byte for byte. The load generator (bench/_common.py) keeps
8 keep-alive connections with one request in flight on each (no pipelining) from an epoll loop
over raw sockets, for ``--duration`` seconds per run; the servers are warmed up, then measured
in alternating order for ``--rounds`` rounds. Ratio: median rps(greenroom) / median rps(bare).
Both the client and the servers share this machine's cores, so the CPU time each server spent per
request is printed as well (from /proc), which is less sensitive to that contention.

    python bench/bench_server.py [--rounds 3] [--duration 3] [--connections 8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
import botocore
import uvicorn

from _common import (LOOPBACK, bare_command, exchange, greenroom_command, run_load, signed_request,
                     source_state, start_server)

TARGET = 0.4
STREAM = "bench-stream"


def signed_describe_stream(port: int) -> bytes:
    """The exact bytes of boto3's DescribeStream request to 127.0.0.1:port, signed once (SigV4)."""
    client = boto3.session.Session().client(
        "kinesisvideo", endpoint_url=f"http://{LOOPBACK}:{port}", region_name="us-east-1",
        aws_access_key_id="greenroombench", aws_secret_access_key="greenroombench")
    client.create_stream(StreamName=STREAM, DataRetentionInHours=24)
    deadline = time.monotonic() + 10
    while client.describe_stream(StreamName=STREAM)["StreamInfo"]["Status"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise RuntimeError("the stream did not become ACTIVE")
        time.sleep(0.1)
    return signed_request(client, lambda c: c.describe_stream(StreamName=STREAM))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=500_000, help="per run")
    parser.add_argument("--no-quiet", action="store_true",
                        help="skip the greenroom --log-level warning run (context only)")
    args = parser.parse_args(argv)

    servers = {}
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-") as tmp:
        tmp = Path(tmp)
        try:
            servers["greenroom"] = start_server(
                "greenroom", greenroom_command() + ["serve", "--ephemeral", "--port", "0"],
                tmp / "greenroom.stderr")
            request = signed_describe_stream(servers["greenroom"].port)
            status, headers, body = exchange(servers["greenroom"].port, request)
            if status != 200:
                raise RuntimeError(f"greenroom answered {status}: {body[:500]!r}")
            (tmp / "body.json").write_bytes(body)
            servers["bare"] = start_server(
                "bare", bare_command() + ["--port", "0", "--body-file", str(tmp / "body.json")],
                tmp / "bare.stderr")
            if not args.no_quiet:
                quiet = start_server(
                    "greenroom-quiet",
                    greenroom_command() + ["serve", "--ephemeral", "--port", "0", "--log-level", "warning"],
                    tmp / "greenroom-quiet.stderr")
                servers["greenroom-quiet"] = quiet
                # Same account and region as the signed request: the stream must exist there too.
                signed_describe_stream(quiet.port)
            for name, server in servers.items():
                status, _, answer = exchange(server.port, request)
                if status != 200 or (name != "bare" and b'"ACTIVE"' not in answer):
                    raise RuntimeError(f"{name} answered {status}: {answer[:500]!r}")

            print(f"bench_server: DescribeStream, {args.connections} keep-alive connections, one "
                  f"request in flight each, {args.duration:g} s per run, {args.rounds} rounds "
                  f"(warm-up {args.warmup:g} s each)")
            print(f"greenroom at {source_state()}; python {sys.version.split()[0]}, "
                  f"uvicorn {uvicorn.__version__} (loop=auto, http=auto), botocore {botocore.__version__}, {os.cpu_count()} CPUs, "
                  f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"request {len(request)} bytes, response body {len(body)} bytes")

            for server in servers.values():
                run_load(server.port, request, connections=args.connections, duration=args.warmup,
                         max_requests=args.max_requests)

            results = {name: [] for name in servers}
            order = list(servers)
            for round_number in range(args.rounds):
                for name in (order if round_number % 2 == 0 else order[::-1]):
                    server = servers[name]
                    cpu_before = server.cpu_seconds()
                    result = run_load(server.port, request, connections=args.connections,
                                      duration=args.duration, max_requests=args.max_requests)
                    server_cpu = server.cpu_seconds() - cpu_before
                    results[name].append((result, server_cpu))
                    print(f"  round {round_number + 1} {name:<16} {result.rps:8.0f} rps  "
                          f"{result.requests:7d} requests in {result.seconds:.2f} s  "
                          f"errors {result.errors}  p50 {result.latency_ms(0.5):.2f} ms  "
                          f"p99 {result.latency_ms(0.99):.2f} ms  "
                          f"server CPU {server_cpu / max(result.requests, 1) * 1e6:.0f} us/req  "
                          f"client CPU {result.client_cpu / max(result.requests, 1) * 1e6:.0f} us/req",
                          flush=True)
        except Exception as error:
            print(f"bench_server: measurement failed: {error!r}", file=sys.stderr)
            for server in servers.values():
                print(f"--- {server.name} stderr (tail) ---\n{server.stderr_text(3000)}", file=sys.stderr)
            return 1
        finally:
            for server in servers.values():
                server.stop()
        log_size = (tmp / "greenroom.stderr").stat().st_size if (tmp / "greenroom.stderr").exists() else 0

    print("summary (medians over rounds):")
    medians = {}
    for name, runs in results.items():
        rps = statistics.median(result.rps for result, _ in runs)
        cpu = statistics.median(cpu / max(result.requests, 1) for result, cpu in runs)
        p50 = statistics.median(result.latency_ms(0.5) for result, _ in runs)
        errors = sum(result.errors for result, _ in runs)
        medians[name] = (rps, cpu)
        print(f"  {name:<16} {rps:8.0f} rps   p50 {p50:.2f} ms   server CPU {cpu * 1e6:.0f} us/req   "
              f"errors {errors}")
    print(f"  greenroom stderr (access log) written during the run: {log_size / 1e6:.1f} MB")
    ratio = medians["greenroom"][0] / medians["bare"][0]
    cpu_ratio = medians["bare"][1] / medians["greenroom"][1]
    if "greenroom-quiet" in medians:
        print(f"  context: greenroom --log-level warning / bare: "
              f"{medians['greenroom-quiet'][0] / medians['bare'][0]:.2f} (rps)")
    print(f"  by server CPU per request, bare / greenroom: {cpu_ratio:.2f}")
    print(f"ratio greenroom / bare (median rps): {ratio:.2f}   "
          f"target >= {TARGET}: {'met' if ratio >= TARGET else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
