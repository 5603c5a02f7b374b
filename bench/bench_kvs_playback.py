"""Kinesis Video playback, on loopback.

1. Segment cost: the time to produce one 2-second fMP4 media segment divided by the fragment's
   duration (target <= 0.01), (a) through the real route: GET getMP4MediaFragment.mp4 of an
   ON_DEMAND HLS session on ``greenroom serve --ephemeral --port 0``, from the request's first byte
   to the response's last, on a keep-alive connection; (b) the bare call the route makes,
   ``remux.fmp4_media`` (the video track, absolute start), in this process. Median of ``--requests``
   after a warm-up; both on the same fragments (real H.264 of noisy frames, ``--width`` x
   ``--height`` at ``--kbps``, a keyframe every 2 s, so one fragment per 2 s).
2. LIVE playlist latency: one 1-second fragment per PutMedia request (RELATIVE timecodes from
   now); when the PERSISTED acknowledgement arrives, GET the LIVE session's media playlist until
   it lists the new fragment: the time from the acknowledgement to the first byte of that
   playlist, median and p90 of ``--samples``. Context: first byte of the same playlist when
   nothing changed.

    python bench/bench_kvs_playback.py [--requests 30] [--samples 30] [--width 1280] [--height 720]
                                       [--kbps 2500]

Everything talks to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import LOOPBACK, greenroom_command, source_state, start_server  # noqa: E402

TARGET_RATIO = 0.01


# ---------------------------------------------------------------------------- helpers

def make_media(path: Path, *, seconds: float, width: int, height: int, kbps: int, gop_seconds: int) -> None:
    """Real H.264; noisy frames, so the encoder spends the whole bitrate (a flat test pattern
    would compress to a third of it)."""
    from greenroom.media.testsrc import synthetic_video
    path.write_bytes(synthetic_video(seconds=seconds, fps=25, width=width, height=height, gop=25 * gop_seconds,
                                     bitrate=kbps * 1000, noise=True))


def body_pieces(path: Path) -> list[bytes]:
    """A PutMedia body: the producer header, then one Cluster + end-of-fragment Tags per fragment."""
    from greenroom.media.source import putmedia_body
    return list(putmedia_body(str(path), audio=False))


def split_fragments(pieces: list[bytes]) -> tuple[bytes, bytes, list[bytes]]:
    """(EBML header, Segment head = Info + Tracks, Clusters) of a PutMedia body, as stored."""
    from greenroom.media import mkv
    parser = mkv.MkvStreamParser()
    ebml_header, head, clusters = b"", b"", []
    for event in parser.feed(b"".join(pieces)) + parser.end():
        if isinstance(event, mkv.HeaderRead):
            ebml_header = bytes(event.raw)
        elif isinstance(event, (mkv.InfoRead, mkv.TracksRead)):
            head += bytes(event.raw)
        elif isinstance(event, mkv.ClusterEnded):
            clusters.append(event.raw)
    return ebml_header, head, clusters


class KeepAlive:
    """GETs on one keep-alive connection: (status, body, seconds to first byte, seconds to last)."""

    def __init__(self, port: int):
        self.port = port
        self.sock = socket.create_connection((LOOPBACK, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get(self, path: str) -> tuple[int, bytes, float, float]:
        started = time.perf_counter()
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}:{self.port}\r\n\r\n".encode())
        buffer = self.sock.recv(65536)
        first = time.perf_counter()
        if not buffer:
            raise ConnectionError("connection closed before the response")
        while b"\r\n\r\n" not in buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside the response head")
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection closed inside the response body")
            rest += chunk
        return int(lines[0].split()[1]), rest[:length], first - started, time.perf_counter() - started

    def close(self) -> None:
        self.sock.close()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_active(kinesisvideo, name: str) -> None:
    deadline = time.monotonic() + 30
    while kinesisvideo.describe_stream(StreamName=name)["StreamInfo"]["Status"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise RuntimeError(f"stream {name} never became ACTIVE")
        time.sleep(0.05)


def clients(base_url: str):
    import boto3
    from botocore.config import Config
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    config = Config(retries={"max_attempts": 1})
    return (session.client("kinesisvideo", endpoint_url=base_url, config=config),
            session.client("kinesis-video-archived-media", endpoint_url=base_url, config=config))


# ---------------------------------------------------------------------------- 1. segment cost

def segment_cost(base_url: str, port: int, pieces: list[bytes], requests: int) -> None:
    from greenroom.media import remux
    from greenroom.media.producer import put_media_bytes

    kinesisvideo, archived = clients(base_url)
    kinesisvideo.create_stream(StreamName="segments", DataRetentionInHours=24)
    wait_active(kinesisvideo, "segments")
    start_ms = 1_700_000_000_000
    acks = put_media_bytes(base_url, pieces, stream_name="segments", timecode_type="RELATIVE",
                           producer_start_ms=start_ms).acks
    persisted = [a for a in acks if a.get("EventType") == "PERSISTED"]
    ebml_header, segment_head, clusters = split_fragments(pieces)
    if len(persisted) != len(clusters):
        raise RuntimeError(f"expected {len(clusters)} PERSISTED acknowledgements, got {acks}")
    everything = {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
                  "TimestampRange": {"StartTimestamp": dt.datetime.fromtimestamp(start_ms / 1000, dt.timezone.utc),
                                     "EndTimestamp": dt.datetime.fromtimestamp(start_ms / 1000 + 3600,
                                                                               dt.timezone.utc)}}
    master = archived.get_hls_streaming_session_url(StreamName="segments", PlaybackMode="ON_DEMAND",
                                                    HLSFragmentSelector=everything)["HLSStreamingSessionURL"]
    connection = KeepAlive(port)
    try:
        status, body, _, _ = connection.get(path_of(master))
        media_url = urljoin(master, next(l for l in body.decode().splitlines() if l and not l.startswith("#")))
        status, body, _, _ = connection.get(path_of(media_url))
        text = body.decode()
        durations = [float(v) for v in re.findall(r"#EXTINF:([0-9.]+),", text)]
        uris = [l for l in text.splitlines() if l and not l.startswith("#")]
        # The middle fragment: a whole 2 s (the last one may end a frame short of it).
        index = len(uris) // 2
        segment_path = path_of(urljoin(media_url, uris[index]))
        duration = durations[index]
        fragment_ms = start_ms + sum(round(d * 1000) for d in durations[:index])
        status, segment, _, _ = connection.get(segment_path)
        if status != 200 or b"moof" not in segment[:4096]:
            raise RuntimeError(f"media segment: {status} {segment[:200]!r}")
        route_times = []
        for round_number in range(requests + 3):
            status, data, _, total = connection.get(segment_path)
            if status != 200 or len(data) != len(segment):
                raise RuntimeError(f"media segment changed: {status}")
            if round_number >= 3:
                route_times.append(total)
    finally:
        connection.close()
    cluster = clusters[index]
    bare_segment = remux.fmp4_media(segment_head, cluster, 1, fragment_ms, index + 1)
    bare_times = []
    for round_number in range(requests + 3):
        started = time.perf_counter()
        remux.fmp4_media(segment_head, cluster, 1, fragment_ms, index + 1)
        if round_number >= 3:
            bare_times.append(time.perf_counter() - started)
    route = statistics.median(route_times)
    bare = statistics.median(bare_times)
    print(f"fragment: {duration:.3f} s, {len(cluster) / 1024:.0f} KiB of Matroska -> "
          f"{len(segment) / 1024:.0f} KiB fMP4 segment (route) / {len(bare_segment) / 1024:.0f} KiB (bare call)")
    print(f"route   GET getMP4MediaFragment.mp4: median {route * 1000:7.2f} ms"
          f"  p90 {quantile(route_times, 0.9) * 1000:7.2f} ms"
          f"  -> ratio to the fragment's duration {route / duration:.4f}")
    print(f"bare    remux.fmp4_media:            median {bare * 1000:7.2f} ms"
          f"  p90 {quantile(bare_times, 0.9) * 1000:7.2f} ms  -> ratio {bare / duration:.4f}")
    print(f"route / bare call: {route / bare:.2f}")
    print(f"target route ratio <= {TARGET_RATIO}: {'met' if route / duration <= TARGET_RATIO else 'not met'}")


# ---------------------------------------------------------------------------- 2. LIVE playlist

def live_playlist_latency(base_url: str, port: int, pieces: list[bytes], samples: int) -> None:
    from greenroom.media.producer import put_media_bytes

    kinesisvideo, archived = clients(base_url)
    kinesisvideo.create_stream(StreamName="live", DataRetentionInHours=24)
    wait_active(kinesisvideo, "live")
    one_fragment = pieces[:2]   # the header and the first 1-second fragment

    def put(on_ack=None) -> None:
        acks = put_media_bytes(base_url, one_fragment, stream_name="live", timecode_type="RELATIVE",
                               producer_start_ms=int(time.time() * 1000), on_ack=on_ack).acks
        if not any(a.get("EventType") == "PERSISTED" for a in acks):
            raise RuntimeError(f"no PERSISTED acknowledgement: {acks}")

    put()   # a LIVE session needs a recent fragment
    master = archived.get_hls_streaming_session_url(StreamName="live", PlaybackMode="LIVE")["HLSStreamingSessionURL"]
    connection = KeepAlive(port)
    status, body, _, _ = connection.get(path_of(master))
    media_path = path_of(urljoin(master, next(l for l in body.decode().splitlines() if l and not l.startswith("#"))))
    latencies, polls, idle = [], [], []

    def on_ack(ack: dict) -> None:
        if ack.get("EventType") != "PERSISTED":
            return
        acknowledged = time.perf_counter()
        number = ack["FragmentNumber"]
        for attempt in range(1, 1000):
            sent = time.perf_counter()
            status, body, first_byte, _ = connection.get(media_path)
            if status == 200 and f"FragmentNumber={number}".encode() in body:
                latencies.append(sent + first_byte - acknowledged)
                polls.append(attempt)
                return
        raise RuntimeError(f"fragment {number} never appeared in the LIVE playlist")

    try:
        for round_number in range(samples + 2):
            put(on_ack if round_number >= 2 else None)
            idle.append(connection.get(media_path)[2])
            time.sleep(0.05)
    finally:
        connection.close()
    median = statistics.median(latencies)
    print(f"LIVE media playlist, PERSISTED ack -> first byte of a playlist listing the fragment: "
          f"median {median * 1000:.2f} ms  p90 {quantile(latencies, 0.9) * 1000:.2f} ms  "
          f"max {max(latencies) * 1000:.2f} ms  ({len(latencies)} samples, "
          f"{sum(p > 1 for p in polls)} needed more than one GET)")
    print(f"context: first byte of the same playlist, nothing new: median {statistics.median(idle) * 1000:.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--kbps", type=int, default=2500)
    args = parser.parse_args()
    print(f"greenroom: {source_state()}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-playback-") as scratch:
        scratch_path = Path(scratch)
        segments_media = scratch_path / "segments.mkv"
        live_media = scratch_path / "live.mkv"
        made = time.perf_counter()
        make_media(segments_media, seconds=6, width=args.width, height=args.height, kbps=args.kbps, gop_seconds=2)
        make_media(live_media, seconds=2, width=args.width, height=args.height, kbps=args.kbps, gop_seconds=1)
        print(f"media: {args.width}x{args.height} H.264 at {args.kbps} kbit/s, 25 fps "
              f"(encoded in {time.perf_counter() - made:.1f} s)")
        server = start_server("greenroom", greenroom_command() + ["serve", "--ephemeral", "--port", "0"],
                              scratch_path / "greenroom.stderr")
        try:
            base_url = f"http://{LOOPBACK}:{server.port}"
            print("\n== 2-second fMP4 media segment ==")
            segment_cost(base_url, server.port, body_pieces(segments_media), args.requests)
            print("\n== LIVE media playlist after PERSISTED ==")
            live_playlist_latency(base_url, server.port, body_pieces(live_media), args.samples)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
