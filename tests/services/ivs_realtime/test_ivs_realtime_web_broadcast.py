"""AWS's own IVS Web Broadcast SDK (npm ``amazon-ivs-web-broadcast``, its browser build) joins a
greenroom stage in headless Chromium with fake camera and microphone.

Page A joins with a publish token and publishes its camera and microphone; page B joins with a
subscribe-only token, sees A among the stage's participants, receives A's streams and decodes
them (video frames that are not black; audio samples with energy, as the receiver's stats count
them). Then A leaves and B is told.
GetParticipant and ListParticipantEvents show both real sessions. Bounded: at most 30 + 30 + 15 s
of waiting for the pages (about 13 s when all goes well).
"""
from __future__ import annotations

import http.server
import json
import threading

import pytest

from greenroom.tls import spki_sha256
from support import BRIGHTNESS_JS, PLAYERS_DIR, BrowserPage, chromium, need

SDK = PLAYERS_DIR / "node_modules" / "amazon-ivs-web-broadcast" / "dist" / "amazon-ivs-web-broadcast.js"
CHROMIUM_MEDIA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  # Host candidates as addresses, not mDNS names (no multicast DNS here).
                  "--disable-features=WebRtcHideLocalIpsWithMdns")

COMMON = """<script src="/ivs.js"></script><script>
const config = %s;
const {Stage, LocalStageStream, SubscribeType, StageEvents} = IVSBroadcastClient;
function fail(where, error) { report({failure: where + ": " + String(error && error.stack || error)}); }
</script>"""

PUBLISHER = """<script>
(async function () {
  try {
    const media = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}, audio: true});
    const streams = media.getTracks().map(function (track) { return new LocalStageStream(track); });
    const stage = new Stage(config.token, {
      stageStreamsToPublish: function () { return streams; },
      shouldPublishParticipant: function () { return true; },
      shouldSubscribeToParticipant: function () { return SubscribeType.NONE; }});
    stage.on(StageEvents.STAGE_CONNECTION_STATE_CHANGED, function (state) { report({a: "connection", state}); });
    stage.on(StageEvents.STAGE_PARTICIPANT_PUBLISH_STATE_CHANGED, function (participant, state) {
      report({a: "publish", local: participant.isLocal, state}); });
    stage.on(StageEvents.ERROR, function (error) { fail("stage error", JSON.stringify(error)); });
    await stage.join();
    report({a: "joined"});
    const poll = setInterval(async function () {
      const answer = await fetch(config.control).then(function (r) { return r.json(); }).catch(function () { return {}; });
      if (answer.leave) { clearInterval(poll); stage.leave(); report({a: "left"}); }
    }, 300);
  } catch (error) { fail("publisher", error); }
})();
</script>"""

SUBSCRIBER = """<video id="v" autoplay muted playsinline></video><audio id="a" autoplay></audio><script>
""" + BRIGHTNESS_JS + """(async function () {
  try {
    const video = document.getElementById("v");
    let audio = null;
    const stage = new Stage(config.token, {
      stageStreamsToPublish: function () { return []; },
      shouldPublishParticipant: function () { return false; },
      shouldSubscribeToParticipant: function () { return SubscribeType.AUDIO_VIDEO; }});
    stage.on(StageEvents.STAGE_PARTICIPANT_JOINED, function (p) {
      report({b: "joined", id: p.id, userId: p.userId, local: p.isLocal, attributes: p.attributes}); });
    stage.on(StageEvents.STAGE_PARTICIPANT_LEFT, function (p) { report({b: "left", id: p.id, local: p.isLocal}); });
    stage.on(StageEvents.STAGE_PARTICIPANT_STREAMS_ADDED, function (p, streams) {
      report({b: "streams", id: p.id, kinds: streams.map(function (s) { return s.streamType; })});
      streams.forEach(function (s) {
        const track = s.mediaStreamTrack;
        if (track.kind === "video") { video.srcObject = new MediaStream([track]); } else {
          audio = s;  // played out: the receiver decodes what a sink pulls
          document.getElementById("a").srcObject = new MediaStream([track]);
        }
      });
    });
    stage.on(StageEvents.ERROR, function (error) { fail("stage error", JSON.stringify(error)); });
    await stage.join();
    report({b: "joined-stage"});
    setInterval(async function () {
      const decoded = video.videoWidth > 0 && video.readyState >= 2;
      // Decoded sound: the samples and their energy the audio receiver reports.
      let samples = 0, energy = 0, packets = 0;
      const stats = audio ? await audio.requestRTCStats() : null;
      if (stats) stats.forEach(function (entry) {
        if (entry.type === "inbound-rtp" && entry.kind === "audio") {
          samples = entry.totalSamplesReceived || 0; energy = entry.totalAudioEnergy || 0;
          packets = entry.packetsReceived || 0; }
      });
      report({b: "media", width: video.videoWidth, height: video.videoHeight,
              brightness: decoded ? brightness(video) : null, samples, energy, packets});
    }, 500);
  } catch (error) { fail("subscriber", error); }
})();
</script>"""


class Control:
    """A tiny HTTP endpoint page A polls: the test tells it when to leave (CORS for the page)."""

    def __init__(self):
        self.leave = False
        control = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"leave": control.leave}).encode()
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sdk_files():
    chromium()
    need(SDK.is_file(), "amazon-ivs-web-broadcast (run `npm ci` in tests/players)")
    return {"/ivs.js": (SDK.read_bytes(), "text/javascript")}


def failures(reports):
    return [r for r in reports if "failure" in r]


def test_web_broadcast_sdk_publishes_and_subscribes_through_greenroom(https_server, sdk_files):
    ivs = https_server.client("ivs-realtime")
    stage = ivs.create_stage(name="web-broadcast")["stage"]
    assert stage["endpoints"]["events"].startswith("wss://")
    alice = ivs.create_participant_token(stageArn=stage["arn"], userId="alice",
                                         attributes={"role": "host"})["participantToken"]
    bob = ivs.create_participant_token(stageArn=stage["arn"], userId="bob",
                                       capabilities=["SUBSCRIBE"])["participantToken"]
    chromium_args = ("--ignore-certificate-errors-spki-list=" + spki_sha256(https_server.ca_file), *CHROMIUM_MEDIA)
    control = Control()
    try:
        a_page = BrowserPage(COMMON % json.dumps({"token": alice["token"], "control": control.url}) + PUBLISHER,
                             sdk_files, chromium_args)
        with a_page:
            published = a_page.wait(lambda seen: failures(seen) or any(
                r.get("a") == "publish" and r.get("state") == "published" for r in seen), 30)
            assert not failures(published), published

            def receiving(seen):
                return failures(seen) or any(
                    r.get("b") == "media" and (r.get("brightness") or 0) > 20 and r["samples"] > 48000 and r["energy"] > 0
                    for r in seen)

            b_page = BrowserPage(COMMON % json.dumps({"token": bob["token"]}) + SUBSCRIBER, sdk_files, chromium_args)
            with b_page:
                seen_by_b = b_page.wait(receiving, 30)
                assert not failures(seen_by_b), seen_by_b
                session_id = ivs.get_stage(arn=stage["arn"])["stage"]["activeSessionId"]
                live = {p["userId"]: p for p in ivs.list_participants(
                    stageArn=stage["arn"], sessionId=session_id)["participants"]}
                control.leave = True
                seen_by_b += b_page.wait(lambda seen: failures(seen) or any(
                    r.get("b") == "left" and r.get("id") == alice["participantId"] for r in seen), 15)
                assert not failures(seen_by_b), seen_by_b
    finally:
        control.close()

    joined = [r for r in seen_by_b if r.get("b") == "joined" and r["id"] == alice["participantId"]]
    assert joined and joined[0]["userId"] == "alice" and joined[0]["attributes"] == {"role": "host"}, seen_by_b
    streams = next(r for r in seen_by_b if r.get("b") == "streams")
    assert streams["id"] == alice["participantId"] and sorted(streams["kinds"]) == ["audio", "video"]
    media = [r for r in seen_by_b if r.get("b") == "media" and r.get("brightness")]
    assert media and 0 < media[-1]["width"] <= 320 and media[-1]["width"] * 3 == media[-1]["height"] * 4, media[-1:]

    assert live["alice"]["state"] == "CONNECTED" and live["alice"]["published"] is True
    assert live["bob"]["state"] == "CONNECTED" and live["bob"]["published"] is False
    got = ivs.get_participant(stageArn=stage["arn"], sessionId=session_id,
                              participantId=alice["participantId"])["participant"]
    assert got["protocol"] == "WHIP" and got["browserName"] == "Chrome" and got["published"] is True

    def names(participant_id):
        events = ivs.list_participant_events(stageArn=stage["arn"], sessionId=session_id,
                                             participantId=participant_id)["events"]
        return [e["name"] for e in reversed(events)], events

    alice_names, _ = names(alice["participantId"])
    assert alice_names[:2] == ["JOINED", "PUBLISH_STARTED"] and alice_names[-2:] == ["PUBLISH_STOPPED", "LEFT"]
    bob_names, bob_events = names(bob["participantId"])
    assert bob_names[:2] == ["JOINED", "SUBSCRIBE_STARTED"], bob_names
    assert next(e for e in bob_events if e["name"] == "SUBSCRIBE_STARTED")["remoteParticipantId"] == alice["participantId"]
