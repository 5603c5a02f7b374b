"""Kinesis Video PutMedia ingest, on loopback.

1. Throughput: one stream, a PutMedia body of ``--megabytes`` MB (1-second fragments of 25
   frames of ``--frame-kb`` KB) sent as fast as the client can, to greenroom and to a bare
   chunked-upload sink on the same server stack (uvicorn with greenroom's settings, an ASGI app
   that reads the body and discards it), in alternating rounds with the same client code.
   Prints MB/s of each (median of the rounds) and the ratio greenroom / sink (target >= 0.5).
2. Real time: ``--streams`` streams (20) at ``--kbps`` (2000 kbit/s) each for ``--seconds``,
   every frame sent when a 25 fps camera would have it, each fragment closed with the producer
   SDK's end-of-fragment tag. Prints the acknowledgement latency (from the fragment's last byte
   sent to its RECEIVED / PERSISTED) p50/p99, how late the senders ran, and the server's memory.

    python bench/bench_kvs_ingest.py [--store ephemeral|file|both] [--rounds 5] [--megabytes 200]
                                     [--streams 20] [--kbps 2000] [--seconds 20]

The frames are structurally valid Matroska blocks of filler bytes (the server does not decode
video; what it costs is per byte and per element). Everything talks to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------- the bare sink

def run_sink() -> None:
    """A chunked-upload sink on greenroom's server stack (see greenroom.cli.serve)."""
    import uvicorn

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        received = 0
        while True:
            message = await receive()
            received += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"EventType":"IDLE"}\n'})

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, 0))
    listener.listen(2048)
    print(f"sink listening on http://{LOOPBACK}:{listener.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")).run(sockets=[listener])


# ---------------------------------------------------------------------------- processes

class Process:
    def __init__(self, command: list[str]):
        self.popen = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = self.popen.stdout.readline()
        if "listening on " not in first:
            self.popen.kill()
            raise RuntimeError(f"{command} did not start: {first}{self.popen.stdout.read()}")
        self.url = first.split("listening on ", 1)[1].split()[0]
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for _ in self.popen.stdout:
            pass

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.popen.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.popen.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def greenroom(store: str, data_dir: Path) -> Process:
    where = ["--ephemeral"] if store == "ephemeral" else ["--data-dir", str(data_dir)]
    return Process([sys.executable, "-m", "greenroom.cli", "serve", "--host", LOOPBACK, "--port", "0", *where])


def client(url: str, service: str):
    import boto3
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDBENCHMARK", aws_secret_access_key="x")


def active_streams(url: str, names: list[str]) -> None:
    import requests
    kv = client(url, "kinesisvideo")
    requests.post(f"{url}/_greenroom/delays", json={"kinesisvideo.stream.create": 0, "kinesisvideo.stream.delete": 0},
                  timeout=10).raise_for_status()
    for name in names:
        kv.create_stream(StreamName=name, DataRetentionInHours=1)
    deadline = time.monotonic() + 10
    while any(kv.describe_stream(StreamName=n)["StreamInfo"]["Status"] != "ACTIVE" for n in names):
        if time.monotonic() > deadline:
            raise RuntimeError("streams did not become ACTIVE")
        time.sleep(0.1)


# ---------------------------------------------------------------------------- media

def header() -> bytes:
    from greenroom.media import ebml, mkv
    return (ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT) + mkv.info()
            + mkv.tracks(mkv.track_entry(1, "V_MPEG4/ISO/AVC", codec_private=b"\x01\x42\xc0\x1e", width=1920,
                                         height=1080)))


def frame(track_timecode: int, keyframe: bool, size: int, fill: int) -> bytes:
    from greenroom.media import mkv
    return mkv.simple_block(1, track_timecode, 0x80 if keyframe else 0, bytes([fill % 256]) * size)


def fragment(timecode: int, frames: int, frame_bytes: int) -> bytes:
    from greenroom.media import ebml
    blocks = b"".join(frame(index * 40, index == 0, frame_bytes, index) for index in range(frames))
    end = ebml.tags([("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")])
    return ebml.unknown_size_start(ebml.CLUSTER) + ebml.uint(ebml.TIMECODE, timecode) + blocks + end


# ---------------------------------------------------------------------------- 1. throughput

def throughput_round(url: str, body: list[bytes], stream: str) -> tuple[float, int]:
    from greenroom.media.producer import put_media_stream
    total = sum(map(len, body))
    started = time.perf_counter()
    result = asyncio.run(put_media_stream(url, body, stream_name=stream, timecode_type="ABSOLUTE"))
    elapsed = time.perf_counter() - started
    if result.errors:
        raise RuntimeError(f"PutMedia failed: {result.errors[0]}")
    return total / 1e6 / elapsed, len(result.of_type("RECEIVED"))


def throughput(args, store: str, data_dir: Path) -> dict:
    sink = Process([sys.executable, __file__, "--sink"])
    server = greenroom(store, data_dir)
    try:
        fragments = max(1, round(args.megabytes * 1e6 / (25 * args.frame_kb * 1000)))
        streams = [f"bench-{index}" for index in range(args.rounds)]
        active_streams(server.url, streams)
        sink_rates, greenroom_rates, cpu = [], [], []
        body = [header()] + [fragment(i * 1000, 25, args.frame_kb * 1000) for i in range(fragments)]
        for index in range(args.rounds):
            # A fresh stream per round (its timecodes start over), the same bytes every time.
            sink_rates.append(throughput_round(sink.url, body, "sink")[0])
            before = server.cpu_seconds()
            rate, received = throughput_round(server.url, body, streams[index])
            cpu.append(server.cpu_seconds() - before)
            if received != fragments:
                raise RuntimeError(f"{received} of {fragments} fragments acknowledged")
            greenroom_rates.append(rate)
            # Drop what was stored before the next round: a process whose memory (or page
            # cache) keeps growing slows down on this kind of host whatever it runs (a sink
            # that keeps what it reads shows the same), and that is not what is measured here.
            kv = client(server.url, "kinesisvideo")
            kv.delete_stream(StreamARN=kv.describe_stream(StreamName=streams[index])["StreamInfo"]["StreamARN"])
            time.sleep(0.5)  # the removal is applied by the server's background tick
        megabytes = sum(map(len, body)) / 1e6
        return {"store": store, "megabytes": megabytes, "fragments": fragments,
                "sink": statistics.median(sink_rates), "greenroom": statistics.median(greenroom_rates),
                "server_cpu_s_per_gb": statistics.median(cpu) / megabytes * 1000,
                "sink_rounds": sink_rates, "greenroom_rounds": greenroom_rates,
                "rss_mb": server.rss_mb()}
    finally:
        sink.stop()
        server.stop()


# ---------------------------------------------------------------------------- 2. real time

async def realtime_stream(url: str, stream: str, seconds: int, frame_bytes: int, latencies: dict,
                          lateness: list) -> dict:
    from greenroom.media import ebml
    from greenroom.media.producer import put_media_stream
    closed_at: dict[int, float] = {}
    started = time.monotonic()
    end_of_fragment = ebml.tags([("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")])

    async def body():
        yield header()
        for second in range(seconds):
            for index in range(25):
                due = started + second + index * 0.04
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    lateness.append(-delay)
                piece = frame(index * 40, index == 0, frame_bytes, index)
                if index == 0:
                    piece = ebml.unknown_size_start(ebml.CLUSTER) + ebml.uint(ebml.TIMECODE, second * 1000) + piece
                yield piece
            # The fragment is complete when its last frame's time is over.
            delay = started + second + 1.0 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            yield end_of_fragment
            closed_at[second * 1000] = time.monotonic()

    def on_ack(ack: dict) -> None:
        kind = ack.get("EventType")
        if kind in ("RECEIVED", "PERSISTED") and ack.get("FragmentTimecode") in closed_at:
            latencies[kind].append((time.monotonic() - closed_at[ack["FragmentTimecode"]]) * 1000)

    result = await put_media_stream(url, body(), stream_name=stream, timecode_type="RELATIVE",
                                    producer_start_ms=int(time.time() * 1000), on_ack=on_ack)
    return {"received": len(result.of_type("RECEIVED")), "errors": result.errors}


def realtime(args, store: str, data_dir: Path) -> dict:
    server = greenroom(store, data_dir)
    try:
        names = [f"live-{index}" for index in range(args.streams)]
        active_streams(server.url, names)
        frame_bytes = int(args.kbps * 1000 / 8 / 25)
        latencies: dict[str, list[float]] = {"RECEIVED": [], "PERSISTED": []}
        lateness: list[float] = []

        async def everything():
            return await asyncio.gather(*[realtime_stream(server.url, name, args.seconds, frame_bytes, latencies,
                                                          lateness) for name in names])

        before = server.cpu_seconds()
        started = time.monotonic()
        results = asyncio.run(everything())
        elapsed = time.monotonic() - started
        errors = [error for result in results for error in result["errors"]]
        received = sum(result["received"] for result in results)

        def percentile(values: list[float], share: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")

        return {"store": store, "streams": args.streams, "seconds": args.seconds, "elapsed": elapsed,
                "fragments": received, "expected": args.streams * args.seconds, "errors": errors,
                "received_p50": percentile(latencies["RECEIVED"], 0.5),
                "received_p99": percentile(latencies["RECEIVED"], 0.99),
                "persisted_p50": percentile(latencies["PERSISTED"], 0.5),
                "persisted_p99": percentile(latencies["PERSISTED"], 0.99),
                "late_sends_ms_max": max(lateness, default=0.0) * 1000,
                "server_cpu_share": (server.cpu_seconds() - before) / elapsed,
                "rss_mb": server.rss_mb()}
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", choices=["ephemeral", "file", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--frame-kb", type=int, default=50)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--kbps", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--skip-realtime", action="store_true")
    args = parser.parse_args()
    if args.sink:
        run_sink()
        return 0
    stores = ["ephemeral", "file"] if args.store == "both" else [args.store]
    print(f"host: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")
    for store in stores:
        data_dir = Path(tempfile.mkdtemp(prefix="greenroom-bench-kvs-"))
        try:
            result = throughput(args, store, data_dir)
            print(f"[throughput, {store} store] {result['megabytes']:.0f} MB in {result['fragments']} fragments, "
                  f"{args.rounds} alternating rounds:")
            print(f"  bare chunked-upload sink  {result['sink']:7.0f} MB/s   (rounds: "
                  + ", ".join(f"{rate:.0f}" for rate in result["sink_rounds"]) + ")")
            print(f"  greenroom PutMedia        {result['greenroom']:7.0f} MB/s   (rounds: "
                  + ", ".join(f"{rate:.0f}" for rate in result["greenroom_rounds"]) + ")")
            print(f"  ratio {result['greenroom'] / result['sink']:.2f} (target >= 0.5); server CPU "
                  f"{result['server_cpu_s_per_gb']:.2f} s per GB; server RSS {result['rss_mb']:.0f} MB")
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        if args.skip_realtime:
            continue
        data_dir = Path(tempfile.mkdtemp(prefix="greenroom-bench-kvs-"))
        try:
            live = realtime(args, store, data_dir)
            print(f"[real time, {store} store] {live['streams']} streams x {args.kbps} kbit/s x {live['seconds']} s "
                  f"(took {live['elapsed']:.1f} s): {live['fragments']}/{live['expected']} fragments, "
                  f"{len(live['errors'])} errors")
            print(f"  ack latency after a fragment's last byte: RECEIVED p50 {live['received_p50']:.1f} ms "
                  f"p99 {live['received_p99']:.1f} ms; PERSISTED p50 {live['persisted_p50']:.1f} ms "
                  f"p99 {live['persisted_p99']:.1f} ms")
            print(f"  senders at most {live['late_sends_ms_max']:.1f} ms late; server CPU "
                  f"{live['server_cpu_share'] * 100:.0f}% of a core; server RSS {live['rss_mb']:.0f} MB")
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
