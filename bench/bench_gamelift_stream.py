"""GameLift Streams live streams: the CPU one streamed 720p30 session costs greenroom, and how
many sessions this machine streams at full frame rate at once.

1. Baseline (this process, before any server): the generated application's 720p pictures
   (``media.application.Screen``, drawn beforehand) encoded by aiortc's own H.264 encoder as fast
   as it goes: CPU seconds per second of video, the floor of anything that streams this picture
   with aiortc.
2. One session: ``greenroom serve --ephemeral --port 0``; a stream group, an application, and a
   session started with an offer from an aiortc client in this process (H.264 only, recvonly
   video and audio, an input data channel); once its frames flow, the server's CPU (user +
   system, /proc) over ``--seconds``, less the idle server's CPU over the same time, in cores.
   Printed: cores, the ratio to the baseline, the ratio to the target, and
   "target one 720p30 session <= 0.5 core: met / not met".
3. Sessions at once: one more session at a time (up to ``--max-sessions``), each measured for
   ``--window`` seconds: the frames every session's client received per second. A count is
   sustained while every session gets at least 95 % of 30 frames a second.

The clients count encoded video frames instead of decoding them (aiortc's receiver decoder is
replaced, in this process only, by a counter), so their CPU stays out of the server's way; the
tests decode and check the pictures. Everything talks to 127.0.0.1 only. The machine's other
load shows in the figures: run it on an otherwise idle machine.

    python bench/bench_gamelift_stream.py [--seconds 10] [--window 6] [--max-sessions 8]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import aiortc.rtcrtpreceiver
import boto3
import botocore.config
import botocore.session
import requests
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCRtpSender

from _common import greenroom_command, source_state, start_server
from greenroom.media.application import Screen
from greenroom.protocol.models import MODELS_DIR

WIDTH, HEIGHT, FPS = 1280, 720, 30
TARGET_CORES = 0.5
SUSTAINED = 0.95


# ---------------------------------------------------------------------------- frame counting

class CountingDecoder:
    """Stands in for aiortc's decoder in the bench's clients: counts encoded frames."""

    made: list["CountingDecoder"] = []

    def __init__(self, codec):
        self.kind = codec.mimeType.split("/")[0]
        self.frames = 0
        CountingDecoder.made.append(self)

    def decode(self, encoded_frame):
        self.frames += 1
        return []


aiortc.rtcrtpreceiver.get_decoder = CountingDecoder


# ---------------------------------------------------------------------------- 1. baseline

def encoder_baseline(seconds: float) -> float:
    """CPU seconds per second of 720p30 video for aiortc's H.264 encoder alone."""
    screen = Screen(["Bench application", "session 0000000000000", "gen6n_small 1280x720 @ 30 fps"],
                    WIDTH, HEIGHT, FPS)
    frames = []
    for index in range(int(seconds * FPS)):
        frame = screen.draw(index)
        frame.pts, frame.time_base = index * 3000, aiortc.mediastreams.VIDEO_TIME_BASE
        frames.append(frame)
        screen.started -= 1 / FPS         # the clock moves as it would in real time
    encoder = get_encoder(RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102,
                                                parameters={"packetization-mode": "1",
                                                            "profile-level-id": "42e01f"}))
    started = time.process_time()
    for frame in frames:
        encoder.encode(frame)
    return (time.process_time() - started) / seconds


# ---------------------------------------------------------------------------- the server side

def gameliftstreams(port: int):
    core = botocore.session.Session()
    core.get_component("data_loader").search_paths.insert(0, str(MODELS_DIR))
    return boto3.session.Session(botocore_session=core).client(
        "gameliftstreams", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="AKIDBENCH", aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"max_attempts": 1}))


def setup(port: int, sessions: int) -> tuple[object, dict, dict]:
    requests.post(f"http://127.0.0.1:{port}/_greenroom/delays", json={
        "gameliftstreams.application.initialize": 0, "gameliftstreams.application.process": 0,
        "gameliftstreams.session.activate": 0}, timeout=10).raise_for_status()
    client = gameliftstreams(port)
    app = client.create_application(
        Description="Bench application", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
        ExecutablePath="bin/game", ApplicationSourceUri="s3://bench-bucket/game/")
    while client.get_application(Identifier=app["Id"])["Status"] != "READY":
        time.sleep(0.1)
    capacity = -(-sessions // 12) * 12
    group = client.create_stream_group(
        Description="bench", StreamClass="gen6n_small", DefaultApplicationIdentifier=app["Arn"],
        LocationConfigurations=[{"LocationName": "us-east-1", "AlwaysOnCapacity": capacity}])
    while client.get_stream_group(Identifier=group["Id"])["Status"] != "ACTIVE":
        time.sleep(0.1)
    return client, app, group


async def open_session(client, app: dict, group: dict) -> tuple[RTCPeerConnection, CountingDecoder]:
    peer = RTCPeerConnection()
    peer.createDataChannel("input")
    video = peer.addTransceiver("video", direction="recvonly")
    video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                               if c.mimeType in ("video/H264", "video/rtx")])
    peer.addTransceiver("audio", direction="recvonly")
    await peer.setLocalDescription(await peer.createOffer())
    offer = json.dumps({"type": "offer", "sdp": peer.localDescription.sdp})
    decoders_before = len(CountingDecoder.made)
    session = await asyncio.to_thread(client.start_stream_session, Identifier=group["Id"],
                                      ApplicationIdentifier=app["Arn"], Protocol="WebRTC", SignalRequest=offer)
    while True:
        found = await asyncio.to_thread(client.get_stream_session, Identifier=group["Id"],
                                        StreamSessionIdentifier=session["Arn"])
        if found["Status"] == "ACTIVE":
            break
        await asyncio.sleep(0.1)
    await peer.setRemoteDescription(RTCSessionDescription(sdp=json.loads(found["SignalResponse"])["sdp"],
                                                          type="answer"))
    deadline = time.monotonic() + 20
    while True:
        videos = [d for d in CountingDecoder.made[decoders_before:] if d.kind == "video" and d.frames]
        if videos:
            return peer, videos[0]
        if time.monotonic() > deadline:
            raise RuntimeError("no video frame arrived in 20 s")
        await asyncio.sleep(0.1)


async def measure(server, seconds: float) -> float:
    """Cores the server used over ``seconds``."""
    cpu, wall = server.cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    return (server.cpu_seconds() - cpu) / (time.monotonic() - wall)


async def rates(decoders: list[CountingDecoder], seconds: float) -> list[float]:
    counts, wall = [d.frames for d in decoders], time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - wall
    return [(d.frames - count) / elapsed for d, count in zip(decoders, counts)]


async def bench(args) -> None:
    print(f"greenroom: {source_state()}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    baseline = encoder_baseline(args.seconds)
    print(f"baseline: aiortc's H.264 encoder alone, 720p30 pictures: {baseline:.3f} cores")

    with tempfile.TemporaryDirectory() as scratch:
        server = start_server("greenroom", greenroom_command() + ["serve", "--ephemeral", "--port", "0"],
                              Path(scratch) / "server.err")
        peers = []
        try:
            client, app, group = setup(server.port, args.max_sessions)
            idle = await measure(server, args.seconds / 2)
            peer, decoder = await open_session(client, app, group)
            peers.append(peer)
            await asyncio.sleep(3)                               # past the first keyframes
            used = await measure(server, args.seconds)
            fps = (await rates([decoder], 2))[0]
            per_session = max(0.0, used - idle)
            print(f"one 720p30 session: server {used:.3f} cores, idle {idle:.3f} -> {per_session:.3f} cores "
                  f"for the session ({fps:.1f} frames/s received)")
            print(f"ratio session / encoder baseline: {per_session / baseline:.2f}")
            print(f"ratio session / target ({TARGET_CORES} core): {per_session / TARGET_CORES:.2f}")
            print(f"target one 720p30 session <= {TARGET_CORES} core: "
                  f"{'met' if per_session <= TARGET_CORES else 'not met'}")

            decoders = [decoder]
            sustained = 0
            for count in range(1, args.max_sessions + 1):
                if count > 1:
                    more, decoder = await open_session(client, app, group)
                    peers.append(more)
                    decoders.append(decoder)
                    await asyncio.sleep(2)
                cpu, wall = server.cpu_seconds(), time.monotonic()
                measured = await rates(decoders, args.window)
                cores = (server.cpu_seconds() - cpu) / (time.monotonic() - wall)
                full = all(rate >= SUSTAINED * FPS for rate in measured)
                print(f"{count} sessions: frames/s per session min {min(measured):.1f} "
                      f"mean {sum(measured) / len(measured):.1f}; server {cores:.2f} cores"
                      f"{'' if full else '  <- below full frame rate'}")
                if not full:
                    break
                sustained = count
            print(f"sessions at full frame rate (>= {SUSTAINED * FPS:.1f} frames/s each) at once: {sustained}"
                  f"{' (the most tried)' if sustained == args.max_sessions else ''}")
        finally:
            for peer in peers:
                await peer.close()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--max-sessions", type=int, default=8)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
