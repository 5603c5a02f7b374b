"""Kinesis Video ListFragments on a stream with 1,000,000 fragments, on loopback.

A file-backed greenroom (``--data-dir``) gets one stream; its fragment rows are then written
straight into the store's SQLite file while the server is stopped (the same rows PutMedia writes:
fragments of 0.5 s, back to back, ending a minute ago; ingesting a million fragments through
PutMedia would take the better part of an hour), the server is started again, a few fragments are
put through PutMedia on top (they must list too), and then:

- ``--requests`` ListFragments calls, each for a random 10-minute window (1,200 fragments in it,
  by producer or server timestamp) with MaxResults 1000, over one kept-alive HTTP connection;
  p50/p99 latency of that page of 1,000 (target: p50 <= 10 ms and p99 <= 50 ms, issue 19) and of
  the next one (NextToken);
- the same through boto3 (what a Python client sees, parsing included);
- the server's memory (RSS) after the queries.

    python bench/bench_kvs_list_fragments.py [--fragments 1000000] [--requests 200]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import source_state  # noqa: E402

LOOPBACK = "127.0.0.1"
TARGET_P50_MS = 10   # a first page of 1,000 fragments over raw HTTP (issue 19)
TARGET_P99_MS = 50
FRAGMENT_MS = 500
WINDOW_MS = 600_000
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/20260101/us-east-1/kinesisvideo/aws4_request, "
                 "SignedHeaders=host, Signature=0")


class Server:
    def __init__(self, data_dir: Path):
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "greenroom.cli", "serve", "--host", LOOPBACK, "--port", "0",
             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = self.popen.stdout.readline()
        if "listening on " not in first:
            raise RuntimeError(f"greenroom serve did not start: {first}{self.popen.stdout.read()}")
        self.url = first.split("listening on ", 1)[1].split()[0]
        threading.Thread(target=lambda: [None for _ in self.popen.stdout], daemon=True).start()

    def rss_mb(self) -> float:
        with open(f"/proc/{self.popen.pid}/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait(10)


def client(url: str, service: str):
    import boto3
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDBENCHMARK", aws_secret_access_key="x")


def populate(data_dir: Path, count: int, end_ms: int) -> tuple[int, int]:
    """Write ``count`` fragment rows of the stream "big"; return (first fragment's ms, seconds taken)."""
    import sqlalchemy as sa

    from greenroom.core.store import create_engine, resources, sqlite_url
    from greenroom.services.kinesisvideo import storage

    engine = create_engine(sqlite_url(data_dir))
    started = time.perf_counter()
    first_ms = end_ms - count * FRAGMENT_MS
    with engine.begin() as conn:
        stream = conn.execute(sa.select(resources.c.data).where(resources.c.kind == "kinesisvideo:stream")).scalar()
        key = stream["_media_key"]
        header = conn.execute(storage.headers.insert().values(stream=key, digest="bench", ebml_length=0,
                                                              data=b"")).inserted_primary_key[0]
        batch = []
        for index in range(count):
            producer = first_ms + index * FRAGMENT_MS
            batch.append({"stream": key, "seq": index + 1, "server_ms": producer + 40, "producer_ms": producer,
                          "duration_ms": FRAGMENT_MS, "size": 150_000 + index % 5000, "persisted": True,
                          "header": header, "blob_offset": None, "tags": None})
            if len(batch) == 20_000:
                conn.execute(storage.fragments.insert(), batch)
                batch = []
        if batch:
            conn.execute(storage.fragments.insert(), batch)
    engine.dispose()
    return first_ms, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fragments", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="greenroom-bench-kvs-"))
    print(f"greenroom at {source_state()}; host: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")
    try:
        server = Server(data_dir)
        client(server.url, "kinesisvideo").create_stream(StreamName="big", DataRetentionInHours=24 * 365)
        server.stop()
        end_ms = int(time.time() * 1000) - 60_000
        first_ms, seconds = populate(data_dir, args.fragments, end_ms)
        size = sum(path.stat().st_size for path in data_dir.glob("greenroom.db*"))
        print(f"{args.fragments} fragment rows written in {seconds:.1f} s; store {size / 1e6:.0f} MB")

        server = Server(data_dir)
        try:
            # Real fragments on top, through PutMedia: they list with the others.
            from greenroom.media import ebml, mkv
            from greenroom.media.producer import put_media_bytes
            time.sleep(1.1)  # the stream becomes ACTIVE
            body = [ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT) + mkv.info()
                    + mkv.tracks(mkv.track_entry(1, "V_MPEG4/ISO/AVC", codec_private=b"\x01", width=64, height=48))]
            body += [mkv.cluster(end_ms + 1000 + second * 1000,
                                 [mkv.simple_block(1, frame * 40, 0x80 if frame == 0 else 0, b"x" * 500)
                                  for frame in range(25)]) for second in range(3)]
            put = put_media_bytes(server.url, body, stream_name="big", timecode_type="ABSOLUTE")
            assert len(put.of_type("PERSISTED")) == 3, put.acks
            archived = client(server.url, "kinesis-video-archived-media")
            import datetime as dt
            tail = archived.list_fragments(StreamName="big", FragmentSelector={
                "FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {
                    "StartTimestamp": dt.datetime.fromtimestamp((end_ms - 5000) / 1000, dt.timezone.utc),
                    "EndTimestamp": dt.datetime.fromtimestamp((end_ms + 10_000) / 1000, dt.timezone.utc)}})
            print(f"after PutMedia, the last 15 s list {len(tail['Fragments'])} fragments "
                  f"({5000 // FRAGMENT_MS + 1} written directly, 3 put)")

            host = urlsplit(server.url)
            connection = http.client.HTTPConnection(host.hostname, host.port)
            headers = {"Content-Type": "application/json", "Authorization": AUTHORIZATION}
            chooser = random.Random(6)

            def request(document: dict) -> tuple[float, dict]:
                started = time.perf_counter()
                connection.request("POST", "/listFragments", body=json.dumps(document), headers=headers)
                response = connection.getresponse()
                answer = json.loads(response.read())
                if response.status != 200:
                    raise RuntimeError(answer)
                return (time.perf_counter() - started) * 1000, answer

            def window() -> dict:
                start = first_ms + chooser.randrange(0, (args.fragments - 1300) * FRAGMENT_MS)
                kind = chooser.choice(["PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP"])
                return {"StreamName": "big", "MaxResults": 1000, "FragmentSelector": {
                    "FragmentSelectorType": kind,
                    "TimestampRange": {"StartTimestamp": start / 1000, "EndTimestamp": (start + WINDOW_MS) / 1000}}}

            for _ in range(10):  # warm up (the page cache, the connection)
                request(window())
            first_pages, next_pages, sizes = [], [], set()
            for _ in range(args.requests):
                document = window()
                elapsed, answer = request(document)
                first_pages.append(elapsed)
                sizes.add(len(answer["Fragments"]))
                elapsed, rest = request({**document, "NextToken": answer["NextToken"]})
                next_pages.append(elapsed)
            print(f"ListFragments, 10-minute window, page of {max(sizes)} (raw HTTP, {args.requests} requests):")
            p50, p99 = percentile(first_pages, 0.5), percentile(first_pages, 0.99)
            print(f"  first page  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
            print(f"  next page   p50 {percentile(next_pages, 0.5):6.1f} ms  p99 {percentile(next_pages, 0.99):6.1f} ms")

            boto_times = []
            for _ in range(max(20, args.requests // 4)):
                document = window()
                selector = document["FragmentSelector"]
                range_ = selector["TimestampRange"]
                started = time.perf_counter()
                archived.list_fragments(StreamName="big", MaxResults=1000, FragmentSelector={
                    "FragmentSelectorType": selector["FragmentSelectorType"], "TimestampRange": {
                        "StartTimestamp": dt.datetime.fromtimestamp(range_["StartTimestamp"], dt.timezone.utc),
                        "EndTimestamp": dt.datetime.fromtimestamp(range_["EndTimestamp"], dt.timezone.utc)}})
                boto_times.append((time.perf_counter() - started) * 1000)
            print(f"  via boto3   p50 {percentile(boto_times, 0.5):6.1f} ms  p99 {percentile(boto_times, 0.99):6.1f} ms"
                  f"   (client parsing included)")
            print(f"server RSS with {args.fragments} fragments: {server.rss_mb():.0f} MB")
            met = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS
            print(f"first page p50/target {p50 / TARGET_P50_MS:.2f}, p99/target {p99 / TARGET_P99_MS:.2f}")
            print(f"target p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms: {'met' if met else 'not met'}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
