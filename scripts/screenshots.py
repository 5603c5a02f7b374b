#!/usr/bin/env python3
"""Screenshots of each view of the web console; the Kinesis Video one is the README's
(``--readme`` copies it to docs/console.png).

Starts ``greenroom serve --ephemeral --port 0``, fills it through boto3 and the admin API (a
Kinesis Video stream fed by ``greenroom kvs put-media`` playing LIVE with its thumbnails, an IVS
stage with two participants, one publishing and one subscribed to it, a GameLift Streams
application made READY by advancing the clock with a stream group and a session, a Nimble
studio and an armed fault), then writes one PNG per view with headless Chromium (DevTools
protocol, as the tests drive it): ``kinesisvideo.png``, ``ivs-realtime.png`` (with the page's
test participant publishing over WHIP and its live tile), ``gameliftstreams.png``,
``gameliftstreams-stream.png`` (the session's stream opened in the page) and ``nimble.png``.

Needs chromium, ffmpeg and the console's hls.js (``python -m greenroom.vendored`` fetches it).

    python scripts/screenshots.py [--output DIR] [--width 1280] [--height 900] [--readme]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from support import DevToolsPage, Launcher, make_client  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-west-2"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(ROOT / "docs" / "screenshots"), help="directory of the PNGs")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--readme", action="store_true", help="also copy kinesisvideo.png to docs/console.png")
    args = parser.parse_args()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    launcher = Launcher()
    producer = None
    try:
        server = launcher("--ephemeral", env={"PYTHONPATH": str(ROOT / "src")})

        def client(name: str, endpoint: str = server.base_url):
            return make_client(name, endpoint, region=REGION, aws_access_key_id=ACCOUNT)

        client("kinesisvideo").create_stream(StreamName="front-door", DataRetentionInHours=24)
        client("kinesisvideo").create_stream(StreamName="garage", DataRetentionInHours=0)
        video = Path(tempfile.mkdtemp()) / "camera.mkv"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25",
                        "-t", "6", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", str(video)],
                       check=True, timeout=120)
        time.sleep(1.5)  # the streams become ACTIVE
        producer = subprocess.Popen(
            [sys.executable, "-m", "greenroom.cli", "kvs", "put-media", str(video), "--stream", "front-door",
             "--endpoint", server.base_url, "--region", REGION, "--realtime", "--loop"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, AWS_ACCESS_KEY_ID=ACCOUNT, AWS_SECRET_ACCESS_KEY="secret",
                     PYTHONPATH=str(ROOT / "src")))

        ivs = client("ivs-realtime")
        stage = ivs.create_stage(name="studio")["stage"]
        joined = []
        for user in ("alice", "bob"):
            token = ivs.create_participant_token(stageArn=stage["arn"], userId=user)["participantToken"]
            answer = server.admin("POST", "ivs-realtime/join", {"token": token["token"], "protocol": "WHIP"})
            joined.append(answer.json()["participantId"])
        server.admin("POST", f"ivs-realtime/participants/{joined[0]}/publish").raise_for_status()
        server.admin("POST", f"ivs-realtime/participants/{joined[1]}/subscribe",
                     {"publisherParticipantId": joined[0]}).raise_for_status()

        server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
        gls = client("gameliftstreams")
        app = gls.create_application(
            Description="My Game", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
            ExecutablePath="bin/game", ApplicationSourceUri="s3://game-bucket/builds/1/")
        server.admin("POST", "clock", {"advance": 3600}).raise_for_status()
        group = gls.create_stream_group(Description="arcade", StreamClass="gen4n_high",
                                        DefaultApplicationIdentifier=app["Arn"],
                                        LocationConfigurations=[{"LocationName": REGION, "AlwaysOnCapacity": 2}])
        server.admin("POST", "clock", {"advance": 60}).raise_for_status()
        gls.start_stream_session(Identifier=group["Arn"], ApplicationIdentifier=app["Arn"], Protocol="WebRTC",
                                 SignalRequest="NO_CLIENT_CONNECTION")
        server.admin("POST", "clock", {"advance": 5}).raise_for_status()
        server.admin("POST", "clock", {"mode": "real"}).raise_for_status()
        client("nimble").create_studio(
            adminRoleArn=f"arn:aws:iam::{ACCOUNT}:role/admin", userRoleArn=f"arn:aws:iam::{ACCOUNT}:role/user",
            displayName="Animation", studioName="animation")
        server.admin("POST", "nimble/faults", {"operation": "CreateStreamingSession", "statusCode": "INSUFFICIENT_CAPACITY",
                                               "count": 1, "account": ACCOUNT, "region": REGION}).raise_for_status()
        time.sleep(3)  # a few fragments for the player

        # Host candidates as addresses (no multicast DNS): the page's WebRTC peers (tiles, stream).
        page = DevToolsPage(server.base_url + "/_greenroom/console", args.width, args.height,
                            chromium_args=("--disable-features=WebRtcHideLocalIpsWithMdns",))
        try:
            for service in ("kinesisvideo", "ivs-realtime", "gameliftstreams", "nimble"):
                page.wait_for("document.getElementById('live-status').textContent === 'live'")
                page.evaluate(f"document.querySelector('#services button[data-service=\"{service}\"]').click()")
                page.wait_for("document.querySelector('#resources li.resource')")
                if service == "kinesisvideo":
                    page.evaluate("document.querySelector('li[data-name=\"front-door\"] button.play').click()")
                    page.wait_for("document.getElementById('player').currentTime > 1", 45)
                    page.evaluate("document.querySelector('li[data-name=\"front-door\"] button.thumbs').click()")
                    page.wait_for("document.querySelectorAll('li[data-name=\"front-door\"] .thumbnails img').length > 0", 30)
                if service == "ivs-realtime":
                    page.evaluate("document.querySelector('li[data-name=\"studio\"] button.join').click()")
                    page.wait_for("(function (v) { return v && v.videoWidth > 0 && v.currentTime > 0.5; })"
                                  "(document.querySelector('figure.tile:not([data-error]) video'))", 30)
                time.sleep(0.5)
                page.screenshot(output / f"{service}.png")
                print(output / f"{service}.png")
                if service == "gameliftstreams":
                    page.evaluate("document.querySelector('button.open-stream').click()")
                    page.wait_for("document.getElementById('stream').currentTime > 1", 30)
                    page.evaluate("document.getElementById('stream-box').scrollIntoView()")
                    time.sleep(0.5)
                    page.screenshot(output / "gameliftstreams-stream.png")
                    print(output / "gameliftstreams-stream.png")
            if args.readme:
                readme_image(output / "kinesisvideo.png", ROOT / "docs" / "console.png")
        finally:
            page.close()
    finally:
        if producer is not None:
            producer.kill()
        launcher.close()
    return 0


def readme_image(source: Path, target: Path) -> None:
    """The README's copy, made small (a 64-colour palette) when Pillow is there."""
    try:
        from PIL import Image
    except ImportError:
        shutil.copyfile(source, target)
        return
    Image.open(source).convert("RGB").quantize(64).save(target, optimize=True)


if __name__ == "__main__":
    sys.exit(main())
