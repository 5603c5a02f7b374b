"""A session streamed to headless Chromium, as a web client of GameLift Streams would use it:
the page makes the offer (RTCPeerConnection: recvonly video and audio, an input data channel),
the test passes it to StartStreamSession with boto3 over HTTPS (the backend's part), polls
GetStreamSession until ACTIVE and hands the SignalResponse to the page. ICE and DTLS connect
with greenroom's live peer; the page decodes the video (drawn on a canvas: not black, changing),
receives the tone (inbound audio statistics), sends input that greenroom draws and that restarts
the idle timer; leaving the page makes the session PENDING_CLIENT_RECONNECTION, and a new offer
through CreateStreamSessionConnection (H.264 this time) makes it CONNECTED again."""
from __future__ import annotations

import json
import time

import support
from support import DevToolsPage, chromium

SMALL = {"Resolution": {"Width": 640, "Height": 360}}
# Host candidates as addresses, not mDNS names (no multicast DNS here).
CHROMIUM_ARGS = ("--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required")

CLIENT = """
window.gl = {};
window.makeOffer = async function (videoCodec) {
  const pc = new RTCPeerConnection();
  gl.pc = pc;
  gl.channel = pc.createDataChannel("input");
  const video = pc.addTransceiver("video", {direction: "recvonly"});
  if (videoCodec) {
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
    video.setCodecPreferences(codecs.filter(function (c) { return c.mimeType === "video/" + videoCodec || c.mimeType === "video/rtx"; }));
  }
  pc.addTransceiver("audio", {direction: "recvonly"});
  const stream = new MediaStream();
  const element = document.createElement("video");
  element.muted = true; element.autoplay = true; element.playsInline = true;
  element.srcObject = stream;
  document.body.appendChild(element);
  const sound = document.createElement("audio");
  sound.autoplay = true;
  sound.srcObject = stream;
  document.body.appendChild(sound);
  gl.video = element;
  pc.ontrack = function (event) { stream.addTrack(event.track); };
  await pc.setLocalDescription(await pc.createOffer());
  // No trickle: the offer travels through StartStreamSession, so it carries the candidates.
  await new Promise(function (resolve) {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") resolve(); });
  });
  return JSON.stringify({type: "offer", sdp: pc.localDescription.sdp});
};
window.applyAnswer = async function (text) {
  await gl.pc.setRemoteDescription(JSON.parse(text));
  return gl.pc.signalingState;
};
window.picture = function () {
  const v = gl.video;
  if (!v || v.videoWidth === 0) return null;
  const canvas = document.createElement("canvas");
  canvas.width = v.videoWidth; canvas.height = v.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(v, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, max = 0, lowerBright = 0;
  const thumb = [];
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      const i = (y * canvas.width + x) * 4;
      const luma = (data[i] * 299 + data[i + 1] * 587 + data[i + 2] * 114) / 1000;
      sum += luma; if (luma > max) max = luma;
      if (y >= canvas.height / 2 && luma > 150) lowerBright++;
    }
  }
  for (let y = 0; y < canvas.height; y += 8) for (let x = 0; x < canvas.width; x += 8) thumb.push(data[(y * canvas.width + x) * 4]);
  return {width: canvas.width, height: canvas.height, mean: sum / (canvas.width * canvas.height), max: max,
          lowerBright: lowerBright, thumb: thumb, frames: v.getVideoPlaybackQuality().totalVideoFrames};
};
window.received = async function () {
  const found = {connection: gl.pc.connectionState, channel: gl.channel.readyState};
  (await gl.pc.getStats()).forEach(function (report) {
    if (report.type === "inbound-rtp") {
      found[report.kind] = {packets: report.packetsReceived, decoded: report.framesDecoded,
                            samples: report.totalSamplesReceived, level: report.audioLevel,
                            codecId: report.codecId};
    }
    if (report.type === "codec") found[report.id] = report.mimeType;
  });
  return found;
};
"""


BUDGET_SECONDS = 85.0   # the whole test, Chromium included: every wait is bounded by what is left


def test_chromium_streams_a_session_sends_input_and_reconnects(gls_https):
    chromium()
    gls = gls_https
    gls.set_delays({"gameliftstreams.session.idle_timeout": 100})
    end = time.monotonic() + BUDGET_SECONDS

    def wait_until(condition, what: str, timeout: float = 20.0):
        return support.wait_until(condition, what, timeout, deadline=end)

    page = DevToolsPage("about:blank", chromium_args=CHROMIUM_ARGS)
    try:
        page.evaluate(CLIENT)
        app = gls.ready_application("Browser Quest")
        group = gls.active_group(app)
        session = gls.start_session(group, app, page.evaluate("makeOffer()"), DisplayConfiguration=SMALL)

        def status():
            return gls.stream_session(group, session)["Status"]

        gls.advance(1)                                      # the backend polls until ACTIVE
        active = gls.stream_session(group, session)
        assert active["Status"] == "ACTIVE"
        assert page.evaluate(f"applyAnswer({json.dumps(active['SignalResponse'])})") == "stable"

        wait_until(lambda: status() == "CONNECTED", "CONNECTED")
        first = wait_until(lambda: (p := page.evaluate("picture()")) and p["frames"] >= 5 and p, "decoded video")
        assert (first["width"], first["height"]) == (640, 360)
        assert first["max"] > 200 and first["mean"] > 20          # text on grey: not black
        later = wait_until(lambda: (p := page.evaluate("picture()"))["frames"] >= first["frames"] + 15 and p,
                           "more video")
        assert later["thumb"] != first["thumb"]                   # the clock and the bar move
        stats = wait_until(lambda: (r := page.evaluate("received()")).get("audio", {}).get("samples") and r,
                           "audio samples")
        assert stats["audio"]["packets"] > 10
        assert stats["audio"]["level"] > 0.05                     # the tone, not silence
        assert stats[stats["video"]["codecId"]] == "video/VP8"    # Chromium's first choice

        # Input: drawn on the picture, and the 100 s idle timer starts again.
        wait_until(lambda: page.evaluate("gl.channel.readyState") == "open", "the data channel open")
        before = page.evaluate("picture()")["lowerBright"]
        gls.advance(60)
        page.evaluate("""gl.channel.send(JSON.stringify({type: "keydown", key: "w", code: "KeyW"}));
                         gl.channel.send(JSON.stringify({type: "mousedown", button: 0, x: 200, y: 100}))""")
        wait_until(lambda: page.evaluate("picture()")["lowerBright"] > before + 300, "the input drawn")
        time.sleep(1.5)
        gls.advance(60)                                           # 120 s connected, 60 s since the input
        assert status() == "CONNECTED"

        # Leaving the page closes its peer connection: PENDING_CLIENT_RECONNECTION.
        page.command("Page.navigate", url="about:blank")
        wait_until(lambda: status() == "PENDING_CLIENT_RECONNECTION", "PENDING_CLIENT_RECONNECTION", timeout=40)

        # Back on the page, a new offer (H.264 preferred) through CreateStreamSessionConnection.
        wait_until(lambda: page.evaluate("document.readyState") == "complete", "the page reloaded")
        page.evaluate(CLIENT)
        answer = gls.client().create_stream_session_connection(
            Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
            SignalRequest=page.evaluate('makeOffer("H264")'))
        assert status() == "RECONNECTING"
        page.evaluate(f"applyAnswer({json.dumps(answer['SignalResponse'])})")
        wait_until(lambda: status() == "CONNECTED", "CONNECTED again")
        again = wait_until(lambda: (p := page.evaluate("picture()")) and p["frames"] >= 5 and p, "video again")
        assert again["max"] > 200 and again["lowerBright"] > before + 300   # the same application, inputs shown
        stats = page.evaluate("received()")
        assert stats[stats["video"]["codecId"]] == "video/H264"
    finally:
        page.close()
