"""WHIP with aiortc as the independent peer: a Python publisher sends a generated pattern to a
greenroom stage, a second participant subscribes and decodes it; the participant model shows
both; token refusals answer the codes amazon-ivs-web-broadcast maps (``{"code": N}``)."""
from __future__ import annotations

import asyncio
import fractions
import time

import av
import jwt
import numpy as np
import pytest
import requests
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError

from ivs_realtime_support import make_client

WIDTH, HEIGHT = 320, 240


class Pattern(VideoStreamTrack):
    """Green with a moving white bar: decoded frames are neither black nor frozen."""

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        picture[:, :, 1] = 180
        row = (pts // 3000) % (HEIGHT - 20)
        picture[row:row + 20, :, :] = 255
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def whip_post(url: str, token: str, offer: str) -> requests.Response:
    return requests.post(url, data=offer.encode(), timeout=20, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/sdp",
        "X-Stages-WHIP-Version": "draft-ietf-wish-whip-04", "X-Stages-Request-ID": "test"})


async def publish(whip_url: str, participant_id: str, token: str):
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.addTrack(Pattern())
    peer.addTrack(AudioStreamTrack())
    return peer, await negotiate(peer, f"{whip_url}/publish/{participant_id}", token)


async def negotiate(peer, url: str, token: str) -> requests.Response:
    """Offer to a WHIP endpoint and take its answer (201 expected)."""
    await peer.setLocalDescription(await peer.createOffer())
    answer = await asyncio.to_thread(whip_post, url, token, peer.localDescription.sdp)
    assert answer.status_code == 201, answer.text
    await peer.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
    return answer


async def subscribe(whip_url: str, remote_id: str, token: str, frames: dict):
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.addTransceiver("video", direction="recvonly")
    peer.addTransceiver("audio", direction="recvonly")

    @peer.on("track")
    def on_track(track):
        async def read():
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                frames.setdefault(track.kind, []).append(
                    frame.to_ndarray(format="rgb24") if track.kind == "video" else frame.samples)
        asyncio.ensure_future(read())

    return peer, await negotiate(peer, f"{whip_url}/subscribe/{remote_id}", token)


def test_a_whip_publisher_is_relayed_to_a_whip_subscriber(server):
    ivs = make_client("ivs-realtime", server.base_url)
    stage = ivs.create_stage(name="whip")["stage"]
    publisher = ivs.create_participant_token(stageArn=stage["arn"], userId="camera")["participantToken"]
    viewer = ivs.create_participant_token(stageArn=stage["arn"], userId="viewer",
                                          capabilities=["SUBSCRIBE"])["participantToken"]
    whip_url = jwt.decode(publisher["token"], options={"verify_signature": False})["whip_url"]
    assert whip_url == stage["endpoints"]["whip"]
    frames: dict = {}

    async def scenario():
        publishing, published = await publish(whip_url, publisher["participantId"], publisher["token"])
        assert published.headers["Location"].startswith("/_greenroom/ivs-realtime/whip/")
        assert 'rel="urn:ietf:params:whip:ivs-stages:session-delete"' in published.headers["Link"]
        assert "a=candidate:" in published.text            # greenroom's candidates in the answer
        watching, watched = await subscribe(whip_url, publisher["participantId"], viewer["token"], frames)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (len(frames.get("video", [])) < 30 or not frames.get("audio")):
            await asyncio.sleep(0.2)
        listed = ivs.list_participants(stageArn=stage["arn"], sessionId=ivs.get_stage(
            arn=stage["arn"])["stage"]["activeSessionId"])["participants"]
        base = server.base_url
        # The subscriber stops (DELETE its Location), then the publisher.
        assert requests.delete(base + watched.headers["Location"], timeout=10,
                               headers={"Authorization": f"Bearer {viewer['token']}"}).status_code == 200
        assert requests.delete(base + published.headers["Location"], timeout=10,
                               headers={"Authorization": f"Bearer {publisher['token']}"}).status_code == 200
        await watching.close()
        await publishing.close()
        return listed

    listed = asyncio.run(scenario())
    video = frames.get("video", [])
    assert len(video) >= 30, f"{len(video)} video frames"
    last = video[-1]
    assert last.shape == (HEIGHT, WIDTH, 3)
    assert 120 < last[..., 1].mean() < 230 and last[..., 0].mean() < 120, "the pattern's green"
    assert any(not np.array_equal(video[-1], earlier) for earlier in video[-10:-1]), "moving"
    assert frames.get("audio"), "no audio frames"
    assert {(p["userId"], p["state"], p["published"]) for p in listed} == {
        ("camera", "CONNECTED", True), ("viewer", "CONNECTED", False)}

    session_id = ivs.list_stage_sessions(stageArn=stage["arn"])["stageSessions"][0]["sessionId"]
    names = lambda participant_id: [e["name"] for e in reversed(ivs.list_participant_events(  # noqa: E731
        stageArn=stage["arn"], sessionId=session_id, participantId=participant_id)["events"])]
    assert names(publisher["participantId"]) == ["JOINED", "PUBLISH_STARTED", "PUBLISH_STOPPED", "LEFT"]
    assert names(viewer["participantId"]) == ["JOINED", "SUBSCRIBE_STARTED", "SUBSCRIBE_STOPPED", "LEFT"]
    got = ivs.get_participant(stageArn=stage["arn"], sessionId=session_id,
                              participantId=publisher["participantId"])["participant"]
    assert got["protocol"] == "WHIP" and got["state"] == "DISCONNECTED" and got["published"] is True


OFFER = """v=0\r
o=- 1 1 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0\r
m=video 9 UDP/TLS/RTP/SAVPF 96\r
c=IN IP4 0.0.0.0\r
a=mid:0\r
a=sendonly\r
a=rtcp-mux\r
a=ice-ufrag:abcd\r
a=ice-pwd:abcdefghijklmnopqrstuvwx\r
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r
a=setup:actpass\r
a=rtpmap:96 VP8/90000\r
"""


def test_whip_refusals_answer_the_sdk_codes(server):
    ivs = make_client("ivs-realtime", server.base_url)
    stage = ivs.create_stage(name="refusals")["stage"]
    whip_url = stage["endpoints"]["whip"]
    viewer = ivs.create_participant_token(stageArn=stage["arn"], capabilities=["SUBSCRIBE"])["participantToken"]
    publisher = ivs.create_participant_token(stageArn=stage["arn"], duration=1)["participantToken"]

    def code(response):
        return response.status_code, response.json()["code"]

    # A token that may only subscribe cannot publish: NoPermissions, and a PUBLISH_ERROR.
    assert code(whip_post(f"{whip_url}/publish/{viewer['participantId']}", viewer["token"], OFFER)) == (403, 2003)
    # Nobody publishes: RemoteStreamNotFound.
    assert code(whip_post(f"{whip_url}/subscribe/{publisher['participantId']}", viewer["token"], OFFER)) == (404, 2004)
    # Not a JWT; no token at all.
    assert code(whip_post(f"{whip_url}/publish/x", "not-a-token", OFFER)) == (401, 2001)
    assert code(requests.post(f"{whip_url}/publish/x", data=OFFER, timeout=10)) == (401, 2001)
    # Not an offer.
    assert code(whip_post(f"{whip_url}/publish/{publisher['participantId']}", publisher["token"], "hello")) == (400, 2001)
    # An expired token: TokenExpired.
    server.admin("POST", "clock", {"advance": 120}).raise_for_status()
    assert code(whip_post(f"{whip_url}/publish/{publisher['participantId']}", publisher["token"], OFFER)) == (401, 2002)
    # A revoked participant: NoPermissions.
    ivs.disconnect_participant(stageArn=stage["arn"], participantId=viewer["participantId"])
    assert code(whip_post(f"{whip_url}/subscribe/{publisher['participantId']}", viewer["token"], OFFER)) == (403, 2003)

    sessions = ivs.list_stage_sessions(stageArn=stage["arn"])["stageSessions"]
    events = ivs.list_participant_events(stageArn=stage["arn"], sessionId=sessions[0]["sessionId"],
                                         participantId=viewer["participantId"])["events"]
    names = [e["name"] for e in events]
    assert "PUBLISH_ERROR" in names and "SUBSCRIBE_ERROR" in names
    assert {e.get("errorCode") for e in events if e["name"].endswith("_ERROR")} == {
        "INSUFFICIENT_CAPABILITIES", "PUBLISHER_NOT_FOUND"}


def test_a_replica_carries_its_source_media(server):
    """StartParticipantReplication: a participant of another stage subscribes to the replica and
    receives the source participant's pictures."""
    ivs = make_client("ivs-realtime", server.base_url)
    source = ivs.create_stage(name="source")["stage"]
    destination = ivs.create_stage(name="destination")["stage"]
    camera = ivs.create_participant_token(stageArn=source["arn"], userId="camera")["participantToken"]
    viewer = ivs.create_participant_token(stageArn=destination["arn"], capabilities=["SUBSCRIBE"])["participantToken"]
    frames: dict = {}

    async def scenario():
        publishing, _ = await publish(source["endpoints"]["whip"], camera["participantId"], camera["token"])
        await asyncio.to_thread(ivs.start_participant_replication, sourceStageArn=source["arn"],
                                destinationStageArn=destination["arn"], participantId=camera["participantId"])
        watching, _ = await subscribe(destination["endpoints"]["whip"], camera["participantId"], viewer["token"], frames)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(frames.get("video", [])) < 20:
            await asyncio.sleep(0.2)
        await watching.close()
        await publishing.close()

    asyncio.run(scenario())
    video = frames.get("video", [])
    assert len(video) >= 20 and 120 < video[-1][..., 1].mean() < 230, f"{len(video)} frames"
    session_id = ivs.get_stage(arn=destination["arn"])["stage"]["activeSessionId"]
    events = ivs.list_participant_events(stageArn=destination["arn"], sessionId=session_id,
                                         participantId=viewer["participantId"])["events"]
    started = next(e for e in events if e["name"] == "SUBSCRIBE_STARTED")
    assert started["remoteParticipantId"] == camera["participantId"] and started["replica"] is True
