"""IVS Real-Time media relay (greenroom's SFU, greenroom.media.sfu), on loopback.

One publisher sends 720p VP8 video (30 fps, about ``--kbps`` kbit/s, encoded once before the
run by libvpx and then sent in a loop, so the publisher costs no encoding) over WHIP to a
``greenroom serve --ephemeral`` stage; N subscribers subscribe over WHIP and count what arrives
without decoding it (aiortc peers whose RTP packets are only counted, after SRTP). For each N
in ``--steps``: ``--warmup`` s to settle, then ``--seconds`` s measured: RTP packet loss of
every subscriber over the window (its video packets' sequence numbers: expected from the
highest one's progress, received as unique ones; no retransmission is asked for, so loss is raw),
the pictures each received per second (marker bits; for context: a starved publisher lowers it
on a busy machine) and the server process's CPU time. Stops at the first N whose worst
subscriber loses 1 % or more.

Baseline, measured in the same run: the server's CPU with the publisher alone (N = 0), so
"CPU per subscriber" = (CPU(N) - CPU(0)) / N, in % of one core. Prints the largest N with
< 1 % loss, its ratio to the target 25, and "target N >= 25: met / not met". Subscribers run
in ``--per-process`` peers per client process, so one Python client process is not the
bottleneck; client and server share the machine's cores (the figure is for this machine).

    python bench/bench_ivs_sfu.py [--steps 1,5,10,15,20,25,30,40] [--seconds 8] [--warmup 4]
                                  [--kbps 1500] [--per-process 5]
"""
from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import LOOPBACK, greenroom_command, source_state, start_server  # noqa: E402

TARGET = 25
WIDTH, HEIGHT, FPS = 1280, 720, 30


# ---------------------------------------------------------------------------- roles (subprocesses)

def encoded_loop(kbps: int, seconds: int = 4) -> list[tuple[bytes, bool]]:
    """``seconds`` of a moving 720p pattern encoded once as VP8 (keyframe every second)."""
    import av
    import numpy as np

    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base = fractions.Fraction(1, FPS)
    encoder.bit_rate = kbps * 1000
    encoder.gop_size = FPS
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets = []
    rows = np.arange(HEIGHT, dtype=np.uint16)[:, None]
    columns = np.arange(WIDTH, dtype=np.uint16)[None, :]
    for index in range(seconds * FPS):
        picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        picture[..., 0] = ((columns + index * 8) % 256).astype(np.uint8)
        picture[..., 1] = ((rows + index * 4) % 256).astype(np.uint8)
        picture[..., 2] = ((rows * columns // 64 + index * 16) % 256).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        packets += [(bytes(p), p.is_keyframe) for p in encoder.encode(frame)]
    packets += [(bytes(p), p.is_keyframe) for p in encoder.encode(None)]
    return packets


def whip(url: str, token: str, offer: str) -> tuple[int, str]:
    import urllib.request
    request = urllib.request.Request(url, data=offer.encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/sdp"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.read().decode()


async def run_publisher(whip_url: str, participant_id: str, token: str, kbps: int) -> None:
    import av
    from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    packets = encoded_loop(kbps)

    class Looped(MediaStreamTrack):
        kind = "video"

        def __init__(self):
            super().__init__()
            self.index, self.started = 0, None

        async def recv(self):
            if self.started is None:
                self.started = time.monotonic()
            due = self.started + self.index / FPS
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            data, _ = packets[self.index % len(packets)]
            packet = av.Packet(data)
            packet.pts, packet.time_base = self.index * (90000 // FPS), fractions.Fraction(1, 90000)
            self.index += 1
            return packet

    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.addTrack(Looped())
    await peer.setLocalDescription(await peer.createOffer())
    status, answer = await asyncio.to_thread(whip, f"{whip_url}/publish/{participant_id}", token,
                                             peer.localDescription.sdp)
    await peer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    print(json.dumps({"published": status}), flush=True)
    await asyncio.Event().wait()   # until killed


class PacketCounter:
    """What a subscriber receives, counted per RTP packet without reassembling or decoding
    anything: unique sequence numbers of the video stream (retransmissions ignored), the
    highest extended sequence number, and pictures (marker bits)."""

    def __init__(self, payload_type: int):
        self.payload_type = payload_type
        self.seen: set[int] = set()
        self.highest = None
        self.last = None
        self.cycles = 0
        self.pictures = 0

    async def handle(self, packet, arrival_time_ms=None) -> None:
        if packet.payload_type != self.payload_type:
            return  # rtx and others
        sequence = packet.sequence_number
        if self.last is not None and sequence < self.last and self.last - sequence > 30000:
            self.cycles += 1
        self.last = sequence
        extended = self.cycles * 65536 + sequence
        self.seen.add(extended)
        self.highest = extended if self.highest is None else max(self.highest, extended)
        self.pictures += packet.marker

    def snapshot(self) -> tuple[int, int, int]:
        return len(self.seen), self.highest or 0, self.pictures


async def run_subscribers(whip_url: str, publisher_id: str, tokens: list[str], warmup: float, seconds: float) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    peers, counters = [], []

    async def subscribe(token: str):
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = peer.addTransceiver("video", direction="recvonly")
        await peer.setLocalDescription(await peer.createOffer())
        _, answer = await asyncio.to_thread(whip, f"{whip_url}/subscribe/{publisher_id}", token,
                                            peer.localDescription.sdp)
        await peer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        video = next(c for c in transceiver._codecs if c.name.lower() != "rtx")
        counter = PacketCounter(video.payloadType)
        transceiver.receiver._handle_rtp_packet = counter.handle   # count instead of receiving
        peers.append(peer)
        counters.append(counter)

    await asyncio.gather(*(subscribe(token) for token in tokens))
    await asyncio.sleep(warmup)
    before = [counter.snapshot() for counter in counters]
    print(json.dumps({"measuring": True}), flush=True)
    await asyncio.sleep(seconds)
    after = [counter.snapshot() for counter in counters]
    result = []
    for (seen0, highest0, pictures0), (seen1, highest1, pictures1) in zip(before, after):
        received, expected = seen1 - seen0, highest1 - highest0
        result.append({"received": received, "lost": max(0, expected - received), "frames": pictures1 - pictures0})
    print(json.dumps({"subscribers": result}), flush=True)
    for peer in peers:
        await peer.close()


# ---------------------------------------------------------------------------- the run

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="1,5,10,15,20,25,30,40")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--kbps", type=int, default=1500)
    parser.add_argument("--per-process", type=int, default=5)
    parser.add_argument("--role", choices=["publisher", "subscribers"], help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "publisher":
        asyncio.run(run_publisher(**json.loads(args.args)))
        return 0
    if args.role == "subscribers":
        asyncio.run(run_subscribers(**json.loads(args.args)))
        return 0

    import boto3

    print(f"greenroom: {source_state()}; {os.cpu_count()} CPUs")
    workdir = Path(tempfile.mkdtemp(prefix="bench-ivs-sfu-"))
    server = start_server("greenroom", greenroom_command() + ["serve", "--ephemeral", "--port", "0",
                                                                "--log-level", "warning"],
                          workdir / "server.log")
    endpoint = f"http://{LOOPBACK}:{server.port}"
    ivs = boto3.client("ivs-realtime", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    stage = ivs.create_stage(name="bench")["stage"]
    whip_url = stage["endpoints"]["whip"]
    steps = [int(step) for step in args.steps.split(",")]

    def token(**options):
        return ivs.create_participant_token(stageArn=stage["arn"], duration=120, **options)["participantToken"]

    publisher = token(capabilities=["PUBLISH"])
    me = [sys.executable, str(Path(__file__).resolve())]
    publishing = subprocess.Popen(me + ["--role", "publisher", "--args", json.dumps({
        "whip_url": whip_url, "participant_id": publisher["participantId"], "token": publisher["token"],
        "kbps": args.kbps})], stdout=subprocess.PIPE, text=True)
    results = []
    try:
        line = publishing.stdout.readline()
        if '"published": 201' not in line:
            raise RuntimeError(f"the publisher could not publish: {line!r}\n{server.stderr_text()}")
        time.sleep(args.warmup)
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        time.sleep(args.seconds)
        baseline = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0) * 100
        print(f"publisher alone (baseline): server CPU {baseline:.1f} % of a core")
        print(f"{'N':>4} {'worst loss %':>13} {'mean loss %':>12} {'frames/s':>9} {'server CPU %':>13} "
              f"{'CPU %/subscriber':>17}")
        for count in steps:
            tokens = [token(capabilities=["SUBSCRIBE"])["token"] for _ in range(count)]
            groups = [tokens[i:i + args.per_process] for i in range(0, count, args.per_process)]
            clients = [subprocess.Popen(me + ["--role", "subscribers", "--args", json.dumps({
                "whip_url": whip_url, "publisher_id": publisher["participantId"], "tokens": group,
                "warmup": args.warmup, "seconds": args.seconds})], stdout=subprocess.PIPE, text=True)
                for group in groups]
            for client in clients:                     # all measure over (about) the same window
                if '"measuring"' not in client.stdout.readline():
                    raise RuntimeError("a subscriber client failed:\n" + server.stderr_text())
            cpu0, wall0 = server.cpu_seconds(), time.monotonic()
            subscribers = []
            for client in clients:
                subscribers += json.loads(client.stdout.readline())["subscribers"]
                client.wait(timeout=60)
            cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0) * 100
            losses = [s["lost"] / max(1, s["received"] + s["lost"]) * 100 for s in subscribers]
            worst, mean = max(losses), sum(losses) / len(losses)
            rate = sum(s["frames"] for s in subscribers) / len(subscribers) / args.seconds
            per_subscriber = (cpu - baseline) / count
            print(f"{count:>4} {worst:>13.2f} {mean:>12.2f} {rate:>9.1f} {cpu:>13.1f} {per_subscriber:>17.2f}")
            results.append((count, worst, per_subscriber, rate))
            if worst >= 1.0:
                break
            time.sleep(1.0)                            # the previous subscribers leave
    finally:
        publishing.kill()
        publishing.wait()
        server.stop()
    good = [r for r in results if r[1] < 1.0]
    largest = good[-1] if good else (0, 0.0, 0.0, 0.0)
    print(f"largest N with < 1 % loss: {largest[0]}; "
          f"CPU per subscriber there: {largest[2]:.2f} % of a core")
    print(f"ratio N / {TARGET}: {largest[0] / TARGET:.2f}")
    print(f"target N >= {TARGET} on this machine: {'met' if largest[0] >= TARGET else 'not met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
