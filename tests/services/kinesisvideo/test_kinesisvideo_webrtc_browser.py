"""Peer to peer through greenroom's signaling with AWS's own browser clients: the npm
``amazon-kinesis-video-streams-webrtc`` SDK (its browser build, ``dist/kvs-webrtc.min.js``) and the
AWS SDK for JavaScript v3 (bundled for the page with esbuild at test time, never committed).

A master page (Chromium's fake camera) and a viewer page with two viewers find the channel,
its WSS/HTTPS endpoints and greenroom's ICE servers with the AWS SDK over HTTPS (Chromium trusts
greenroom's CA by its key), connect with the KVS SignalingClient over wss://, exchange offers,
answers and trickled ICE candidates through the channel, and each viewer decodes the master's
video: frames that are not black.
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from greenroom.tls import spki_sha256
from support import BRIGHTNESS_JS, PLAYERS_DIR, BrowserPage, chromium, need

SDK_BUNDLE = PLAYERS_DIR / "node_modules" / "amazon-kinesis-video-streams-webrtc" / "dist" / "kvs-webrtc.min.js"
ESBUILD = PLAYERS_DIR / "node_modules" / ".bin" / "esbuild"
CLIENTS_ENTRY = PLAYERS_DIR / "kvs_webrtc_clients.mjs"
CHROMIUM_MEDIA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  # Host candidates as addresses, not mDNS names (no multicast DNS here).
                  "--disable-features=WebRtcHideLocalIpsWithMdns")

# What both pages share: the AWS SDK clients, the channel's endpoints and ICE servers.
COMMON = """
const config = %(config)s;
const credentials = {accessKeyId: "AKIDGREENROOMWEBRTC", secretAccessKey: "secret"};
async function channelSetup(role) {
  const kinesisVideo = new AwsSdk.KinesisVideoClient({region: config.region, endpoint: config.endpoint, credentials});
  const described = await kinesisVideo.send(new AwsSdk.DescribeSignalingChannelCommand({ChannelName: config.channel}));
  const channelARN = described.ChannelInfo.ChannelARN;
  const found = await kinesisVideo.send(new AwsSdk.GetSignalingChannelEndpointCommand({
    ChannelARN: channelARN,
    SingleMasterChannelEndpointConfiguration: {Protocols: ["WSS", "HTTPS"], Role: role}}));
  const endpoints = {};
  found.ResourceEndpointList.forEach(function (e) { endpoints[e.Protocol] = e.ResourceEndpoint; });
  const signaling = new AwsSdk.KinesisVideoSignalingClient({region: config.region, endpoint: endpoints.HTTPS, credentials});
  const ice = await signaling.send(new AwsSdk.GetIceServerConfigCommand({ChannelARN: channelARN}));
  const iceServers = ice.IceServerList.map(function (s) { return {urls: s.Uris, username: s.Username, credential: s.Password}; });
  return {channelARN, endpoints, iceServers};
}
function fail(where, error) { report({failure: where + ": " + String(error && error.stack || error)}); }
"""

MASTER = """<script>
%(common)s
(async function () {
  try {
    const setup = await channelSetup("MASTER");
    const camera = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}, audio: false});
    const master = new KVSWebRTC.SignalingClient({channelARN: setup.channelARN, channelEndpoint: setup.endpoints.WSS,
      role: KVSWebRTC.Role.MASTER, region: config.region, credentials});
    const peers = {};
    let candidatesSent = 0, candidatesReceived = 0;
    master.on("sdpOffer", async function (offer, viewerId) {
      try {
        const peer = new RTCPeerConnection({iceServers: setup.iceServers});
        peers[viewerId] = peer;
        camera.getTracks().forEach(function (track) { peer.addTrack(track, camera); });
        peer.onicecandidate = function (event) {
          if (event.candidate) { master.sendIceCandidate(event.candidate, viewerId); candidatesSent++; }
        };
        await peer.setRemoteDescription(offer);
        await peer.setLocalDescription(await peer.createAnswer());
        master.sendSdpAnswer(peer.localDescription, viewerId);
        report({master: "answered", viewer: viewerId});
      } catch (error) { fail("master answer", error); }
    });
    master.on("iceCandidate", function (candidate, viewerId) {
      candidatesReceived++;
      if (peers[viewerId]) peers[viewerId].addIceCandidate(candidate).catch(function (e) { fail("master ice", e); });
    });
    master.on("error", function (error) { fail("master signaling", error); });
    master.on("open", function () { report({master: "open", iceServers: setup.iceServers, wss: setup.endpoints.WSS}); });
    master.open();
    setInterval(function () { report({master: "candidates", sent: candidatesSent, received: candidatesReceived}); }, 2000);
  } catch (error) { fail("master", error); }
})();
</script>"""

VIEWER = """<video id="v1" autoplay muted playsinline></video><video id="v2" autoplay muted playsinline></video>
<script>
%(common)s
""" + BRIGHTNESS_JS + """async function viewer(clientId, element) {
  const setup = await channelSetup("VIEWER");
  const signaling = new KVSWebRTC.SignalingClient({channelARN: setup.channelARN, channelEndpoint: setup.endpoints.WSS,
    clientId: clientId, role: KVSWebRTC.Role.VIEWER, region: config.region, credentials});
  const peer = new RTCPeerConnection({iceServers: setup.iceServers});
  let candidatesSent = 0, candidatesReceived = 0;
  peer.addTransceiver("video", {direction: "recvonly"});
  peer.ontrack = function (event) { element.srcObject = event.streams[0] || new MediaStream([event.track]); };
  peer.onicecandidate = function (event) {
    if (event.candidate) { signaling.sendIceCandidate(event.candidate); candidatesSent++; }
  };
  signaling.on("open", async function () {
    try {
      await peer.setLocalDescription(await peer.createOffer());
      signaling.sendSdpOffer(peer.localDescription);
    } catch (error) { fail(clientId + " offer", error); }
  });
  signaling.on("sdpAnswer", function (answer) { peer.setRemoteDescription(answer).catch(function (e) { fail(clientId + " answer", e); }); });
  signaling.on("iceCandidate", function (candidate) {
    candidatesReceived++;
    peer.addIceCandidate(candidate).catch(function (e) { fail(clientId + " ice", e); });
  });
  signaling.on("error", function (error) { fail(clientId + " signaling", error); });
  signaling.open();
  setInterval(function () {
    const decoded = element.videoWidth > 0 && element.readyState >= 2;
    report({viewer: clientId, state: peer.connectionState, width: element.videoWidth, height: element.videoHeight,
            brightness: decoded ? brightness(element) : null, candidatesSent, candidatesReceived});
  }, 1000);
}
viewer("viewer-one", document.getElementById("v1")).catch(function (e) { fail("viewer-one", e); });
setTimeout(function () {
  viewer("viewer-two", document.getElementById("v2")).catch(function (e) { fail("viewer-two", e); });
}, 1500);
</script>"""


@pytest.fixture
def pages_scripts(tmp_path) -> dict[str, tuple[bytes, str]]:
    """The KVS SDK's browser build and the AWS SDK v3 clients bundled by esbuild (in tmp_path)."""
    chromium()
    need(SDK_BUNDLE.is_file() and ESBUILD.is_file(),
         "amazon-kinesis-video-streams-webrtc and esbuild (run `npm ci` in tests/players)")
    bundle = tmp_path / "aws-sdk.js"
    subprocess.run([str(ESBUILD), str(CLIENTS_ENTRY), "--bundle", "--format=iife", "--global-name=AwsSdk",
                    "--platform=browser", "--log-level=warning", f"--outfile={bundle}"], check=True, timeout=60)
    return {"/kvs-webrtc.js": (SDK_BUNDLE.read_bytes(), "text/javascript"),
            "/aws-sdk.js": (bundle.read_bytes(), "text/javascript")}


def page(template: str, config: dict) -> str:
    common = COMMON % {"config": json.dumps(config)}
    return ('<script src="/kvs-webrtc.js"></script><script src="/aws-sdk.js"></script>'
            + template % {"common": common})


def test_master_and_two_viewers_connect_through_greenroom_signaling(server, pages_scripts):
    https = server.over_https()
    server.admin("POST", "delays", {"kinesisvideo.channel.create": 0}).raise_for_status()
    kvs = https.client("kinesisvideo")
    kvs.create_signaling_channel(ChannelName="front-door")
    for _ in range(50):
        if kvs.describe_signaling_channel(ChannelName="front-door")["ChannelInfo"]["ChannelStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    # Chromium trusts greenroom's CA by its key (what `greenroom ca-path --spki` prints).
    flag = "--ignore-certificate-errors-spki-list=" + spki_sha256(server.ca_file)
    config = {"region": "us-east-1", "endpoint": https.base_url, "channel": "front-door"}
    chromium_args = (flag, *CHROMIUM_MEDIA)

    with BrowserPage(page(MASTER, config), pages_scripts, chromium_args) as master_page:
        opened = master_page.wait(lambda seen: any(r.get("master") == "open" or "failure" in r for r in seen), 30)
        assert not [r for r in opened if "failure" in r], opened
        ready = next(r for r in opened if r.get("master") == "open")
        assert ready["wss"].startswith("wss://")
        assert ready["iceServers"][0]["urls"][0].startswith("stun:")

        def viewers_see_pictures(seen):
            if any("failure" in r for r in seen):
                return True
            good = {r["viewer"] for r in seen if r.get("viewer") and r.get("state") == "connected"
                    and (r.get("brightness") or 0) > 20 and r.get("candidatesReceived", 0) > 0}
            return good == {"viewer-one", "viewer-two"}

        with BrowserPage(page(VIEWER, config), pages_scripts, chromium_args) as viewer_page:
            reports = viewer_page.wait(viewers_see_pictures, 45)
        # The master's counts, reported every 2 s: until it has sent and received candidates.
        master_reports = master_page.wait(lambda seen: any(
            "failure" in r or (r.get("master") == "candidates" and r["sent"] > 0 and r["received"] > 0)
            for r in seen), 10)
    failures = [r for r in reports + master_reports if "failure" in r]
    assert not failures, failures
    last = {r["viewer"]: r for r in reports if r.get("viewer")}
    for name in ("viewer-one", "viewer-two"):
        # 320x240 as captured, or scaled down by WebRTC's adaptation on a busy machine (same shape).
        assert 0 < last[name]["width"] <= 320 and last[name]["width"] * 3 == last[name]["height"] * 4, last
        assert last[name]["candidatesSent"] > 0 and last[name]["candidatesReceived"] > 0, last
    candidates = [r for r in master_reports if r.get("master") == "candidates"][-1]
    assert candidates["sent"] > 0 and candidates["received"] > 0, master_reports
    answered = {r["viewer"] for r in opened + master_reports if r.get("master") == "answered"}
    assert answered <= {"viewer-one", "viewer-two"}
