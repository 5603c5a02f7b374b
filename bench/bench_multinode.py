"""Writes per second with 1, 2 and 3 greenroom servers on one PostgreSQL store, same client load.

The load: ``--connections`` (16) keep-alive connections, one request in flight on each, spread
round-robin over the servers, each replaying one boto3 ``TagStream`` request (SigV4-signed once
by botocore) for ``--duration`` seconds. Every request is a read-modify-write of a stream row,
written back only over the version it read and run again by the server when another wrote
first (``core.store``: compare-and-swap, ``Store.run``), so the cost of that mechanism is what
changes between the rows:

* ``hot``: all connections tag the *same* stream (each its own tag key): every write conflicts
  with every other server's; the worst case.
* ``spread``: connection i tags stream i: writes to different rows, the common case.

Printed per configuration: writes/s, p50/p99 latency, failed requests (anything but 200: there
must be none), requests the servers ran again after a conflict (``conflicts_retried`` of
``/_greenroom/health``, per 100 writes), and the ratio to the 1-server PostgreSQL row of the same workload (the baseline,
measured in the same run). For context, one server on a SQLite file (no cross-process
concurrency to guard against). The client and the servers share this machine's cores: with two
cores, more servers cannot add throughput, so the ratio shows what the locking costs, not scaling.
The servers' PostgreSQL sessions run with ``synchronous_commit=off`` unless ``--sync-commit``
[inferred: a shared CI machine's disk flushes made runs differ by 2x; without them what is left
is the locking and the retries this benchmark is about].

    python bench/bench_multinode.py [--db-url postgresql://postgres@127.0.0.1:5432/test]
                                    [--duration 3] [--connections 16]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3

from _common import LOOPBACK, greenroom_command, run_targets, signed_request, source_state, start_server

DEFAULT_DB_URL = os.environ.get("GREENROOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
KEY = "greenroombench"
WORKLOADS = ("hot", "spread")


def _client(port: int):
    return boto3.session.Session().client(
        "kinesisvideo", endpoint_url=f"http://{LOOPBACK}:{port}", region_name="us-east-1",
        aws_access_key_id=KEY, aws_secret_access_key=KEY)


def signed_tag_stream(port: int, stream: str, key: str) -> bytes:
    """The exact bytes of boto3's TagStream request to 127.0.0.1:port, signed once."""
    return signed_request(_client(port), lambda client: client.tag_stream(StreamName=stream, Tags={key: "v"}))


def run(targets: list[tuple[int, bytes]], duration: float) -> dict:
    """A keep-alive connection per (port, request), one request in flight on each."""
    result = run_targets(targets, duration=duration)
    return {"writes": result.rps, "failed": result.errors, "p50": result.latency_ms(0.5),
            "p99": result.latency_ms(0.99)}


def fresh_schema(db_url: str) -> tuple[str, str]:
    import psycopg
    schema = "greenroom_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in db_url else "?"
    return schema, f"{db_url}{separator}options=-csearch_path%3D{schema}"


def retried(server) -> int:
    import json
    from _common import http_get
    status, body = http_get(server.port, "/_greenroom/health")
    return json.loads(body).get("conflicts_retried", 0) if status == 200 else 0


def drop_schema(db_url: str, schema: str) -> None:
    import psycopg
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def measure(name: str, store_args: list[str], count: int, args, tmp: Path) -> dict:
    servers = []
    try:
        for index in range(count):
            servers.append(start_server(
                f"{name}-{index}", greenroom_command() + ["serve", "--port", "0", "--log-level", "warning",
                                                          *store_args], tmp / f"{name}-{index}.stderr"))
        setup = _client(servers[0].port)
        streams = [f"bench-{index}" for index in range(args.connections)]
        for stream in streams:
            setup.create_stream(StreamName=stream)
        time.sleep(1.2)  # CREATING -> ACTIVE
        results = {}
        for workload in WORKLOADS:
            targets = []
            for index in range(args.connections):
                server = servers[index % count]
                stream = streams[0] if workload == "hot" else streams[index]
                targets.append((server.port, signed_tag_stream(server.port, stream, f"k{index}")))
            run(targets, min(1.0, args.duration))  # warm-up
            before = sum(retried(server) for server in servers)
            results[workload] = run(targets, args.duration)
            results[workload]["retried"] = sum(retried(server) for server in servers) - before
        for server in servers:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited: {server.stderr_text()}")
        return results
    finally:
        for server in servers:
            server.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default=DEFAULT_DB_URL)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sync-commit", action="store_true",
                        help="keep PostgreSQL's synchronous_commit (each commit waits for the disk)")
    args = parser.parse_args(argv)

    print(f"bench_multinode: TagStream, {args.connections} keep-alive connections spread over the "
          f"servers, one request in flight each, {args.duration:g} s per run")
    print(f"greenroom at {source_state()}; python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-") as tmp:
        tmp = Path(tmp)
        rows["sqlite, 1 server"] = measure("sqlite", ["--data-dir", str(tmp / "data")], 1, args, tmp)
        for count in (1, 2, 3):
            schema, url = fresh_schema(args.db_url)
            if not args.sync_commit:
                url += "%20-csynchronous_commit%3Doff"
            try:
                rows[f"postgresql, {count} server{'s' if count > 1 else ''}"] = measure(
                    f"pg{count}", ["--db-url", url], count, args, tmp)
            finally:
                drop_schema(args.db_url, schema)

    baseline = rows["postgresql, 1 server"]
    print(f"\n{'configuration':<24} {'workload':<8} {'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'failed':>7} {'retried%':>9} {'vs 1 pg':>8}")
    for name, results in rows.items():
        for workload, result in results.items():
            ratio = result["writes"] / baseline[workload]["writes"]
            writes = result["writes"] * args.duration
            print(f"{name:<24} {workload:<8} {result['writes']:>9.0f} {result['p50']:>8.1f} "
                  f"{result['p99']:>8.1f} {result['failed']:>7} {100 * result['retried'] / writes:>9.1f} "
                  f"{ratio:>8.2f}")
    failed = sum(result["failed"] for results in rows.values() for result in results.values())
    spread3 = rows["postgresql, 3 servers"]["spread"]["writes"] / baseline["spread"]["writes"]
    print(f"\n3 servers vs 1 (spread writes): {spread3:.2f}; failed requests: {failed} (must be 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
