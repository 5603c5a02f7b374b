"""The stage events WebSocket as a client speaks it (``websockets`` as the independent client,
the messages amazon-ivs-web-broadcast 1.41 sends and reads), and what the control plane does to
live connections: DisconnectParticipant, DeleteStage, expired tokens, the publisher limit."""
from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from ivs_realtime_support import make_client
from test_ivs_realtime_whip import OFFER, Pattern, negotiate, whip_post


def connect(url: str, token: str | None):
    return websockets.connect(url + "?error_over_ws=1&topic=x/publishers&traceid=t",
                              subprotocols=[token] if token else None, open_timeout=10)


async def next_of(socket, kind: str, timeout: float = 10) -> dict:
    """The next message of this type (others before it are skipped)."""
    async def find():
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == kind:
                return message
    return await asyncio.wait_for(find(), timeout)


async def state_where(socket, condition, timeout: float = 10) -> dict:
    async def find():
        while True:
            message = await next_of(socket, "STAGE_STATE", timeout)
            if condition(message["payload"]):
                return message["payload"]
    return await asyncio.wait_for(find(), timeout)


def ids(payload) -> set[str]:
    return {p["id"] for p in payload["participants"]}


@pytest.fixture
def stage(server):
    ivs = make_client("ivs-realtime", server.base_url)
    created = ivs.create_stage(name="socket")["stage"]

    def token(**options):
        return ivs.create_participant_token(stageArn=created["arn"], **options)["participantToken"]
    return ivs, created, token


def test_stage_state_ping_set_state_and_leaving(server, stage):
    ivs, created, token = stage
    alice, bob = token(userId="alice", attributes={"seat": "1"}), token(userId="bob")
    url = created["endpoints"]["events"]
    assert url.startswith("ws://")

    async def scenario():
        async with connect(url, alice["token"]) as a:
            assert a.subprotocol == alice["token"]       # the token echoed in the handshake
            first = await next_of(a, "STAGE_STATE")
            assert first["payload"]["sequenceNumber"] == 1
            assert first["payload"]["participants"] == [{
                "id": alice["participantId"], "userId": "alice", "attributes": {"seat": "1"},
                "isPublishing": False, "audioMuted": False, "videoStopped": False}]
            await a.send(json.dumps({"type": "PING"}))
            assert (await next_of(a, "PONG"))["type"] == "PONG"
            async with connect(url, bob["token"]) as b:
                both = await state_where(a, lambda p: ids(p) == {alice["participantId"], bob["participantId"]})
                assert both["sequenceNumber"] > 1
                await b.send(json.dumps({"type": "SET_STATE", "version": "0", "audioMuted": True,
                                         "videoStopped": False, "requestId": "r1"}))
                acknowledged = await next_of(b, "aws:ivs:SET_STATE")
                assert acknowledged["requestId"] == "r1"
                muted = await state_where(a, lambda p: any(x["id"] == bob["participantId"] and x["audioMuted"]
                                                           for x in p["participants"]))
                assert muted["sequenceNumber"] > both["sequenceNumber"]
                # A fresher token for bob (same user): exchanged over the socket.
                fresher = token(userId="bob", attributes={"seat": "2"})
                await b.send(json.dumps({"type": "aws:ivs:EXCHANGE_TOKEN", "payload": {
                    "oldToken": bob["token"], "newToken": fresher["token"], "requestId": "x1", "traceId": "t1"}}))
                exchanged = await next_of(b, "aws:ivs:EXCHANGE_TOKEN")
                assert exchanged["payload"] == {"requestId": "x1", "traceId": "t1"}
                await state_where(a, lambda p: any(x["id"] == bob["participantId"] and x["attributes"] == {"seat": "2"}
                                                   for x in p["participants"]))
            gone = await state_where(a, lambda p: ids(p) == {alice["participantId"]})
            assert {(d["id"], d["status"]) for d in gone["disconnected"]} == {(bob["participantId"], "LEFT")}

    asyncio.run(scenario())
    session_id = ivs.get_stage(arn=created["arn"])["stage"]["activeSessionId"]
    listed = {p["userId"]: p["state"] for p in ivs.list_participants(
        stageArn=created["arn"], sessionId=session_id)["participants"]}
    assert listed == {"alice": "DISCONNECTED", "bob": "DISCONNECTED"}
    events = ivs.list_participant_events(stageArn=created["arn"], sessionId=session_id,
                                         participantId=bob["participantId"])["events"]
    assert [e["name"] for e in reversed(events)] == ["JOINED", "TOKEN_EXCHANGED", "LEFT"]


def test_refused_joins_answer_join_error(server, stage):
    ivs, created, token = stage
    url = created["endpoints"]["events"]
    short = token(duration=1)
    revoked = token()
    ivs.disconnect_participant(stageArn=created["arn"], participantId=revoked["participantId"])

    async def join_error(token_text):
        async with connect(url, token_text) as socket:
            return (await next_of(socket, "aws:ivs:JOIN_ERROR"))["payload"]["code"]

    async def scenario():
        assert await join_error(None) == "TOKEN_MISSING"
        assert await join_error("a.b.c") == "TOKEN_INVALID"
        assert await join_error(revoked["token"]) == "PARTICIPANT_DISCONNECTED"
        server.admin("POST", "clock", {"advance": 61}).raise_for_status()
        assert await join_error(short["token"]) == "TOKEN_EXPIRED"

    asyncio.run(scenario())


def test_disconnect_participant_ends_the_socket_and_the_peer(server, stage):
    ivs, created, token = stage
    alice, bob = token(userId="alice"), token(userId="bob")
    url, whip_url = created["endpoints"]["events"], created["endpoints"]["whip"]

    async def scenario():
        async with connect(url, alice["token"]) as a, connect(url, bob["token"]) as b:
            await next_of(a, "STAGE_STATE")
            peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            peer.addTrack(Pattern())
            await peer.setLocalDescription(await peer.createOffer())
            answer = await asyncio.to_thread(whip_post, f"{whip_url}/publish/{alice['participantId']}",
                                             alice["token"], peer.localDescription.sdp)
            assert answer.status_code == 201, answer.text
            await peer.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
            await state_where(b, lambda p: any(x["isPublishing"] for x in p["participants"]))
            # bob subscribes over WHIP: alice is told her subscriber count.
            watcher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            watcher.addTransceiver("video", direction="recvonly")
            await negotiate(watcher, f"{whip_url}/subscribe/{alice['participantId']}", bob["token"])
            counted = await next_of(a, "aws:ivs:SUBSCRIBER_COUNT")
            while counted["payload"]["count"] != 1:
                counted = await next_of(a, "aws:ivs:SUBSCRIBER_COUNT")
            assert counted["payload"]["sequenceNumber"] >= 2
            for _ in range(50):
                if peer.connectionState == "connected":
                    break
                await asyncio.sleep(0.1)
            assert peer.connectionState == "connected"
            await asyncio.to_thread(ivs.disconnect_participant, stageArn=created["arn"],
                                    participantId=alice["participantId"], reason="bye")
            told = await next_of(a, "aws:ivs:DISCONNECT")
            assert told["payload"]["code"] == "PARTICIPANT_DISCONNECTED"
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(a.recv(), 5)
            kicked = await state_where(b, lambda p: ids(p) == {bob["participantId"]})
            assert {(d["id"], d["status"]) for d in kicked["disconnected"]} == {(alice["participantId"], "KICKED")}
            for _ in range(100):  # greenroom closed its peer: DTLS close notify or consent ends it here
                if peer.connectionState in ("closed", "failed"):
                    break
                await asyncio.sleep(0.1)
            state = peer.connectionState
            await peer.close()
            await watcher.close()
            return state

    assert asyncio.run(scenario()) in ("closed", "failed")


def test_delete_stage_and_token_expiry_reach_live_sockets(server, stage):
    ivs, created, token = stage
    lasting, expiring = token(), token(duration=1)
    url = created["endpoints"]["events"]

    async def scenario():
        async with connect(url, lasting["token"]) as a, connect(url, expiring["token"]) as b:
            await next_of(a, "STAGE_STATE")
            await next_of(b, "STAGE_STATE")
            server.admin("POST", "clock", {"advance": 61}).raise_for_status()
            assert (await next_of(b, "aws:ivs:DISCONNECT"))["payload"]["code"] == "TOKEN_EXPIRED"
            await asyncio.to_thread(ivs.delete_stage, arn=created["arn"])
            assert (await next_of(a, "aws:ivs:DISCONNECT"))["payload"]["code"] == "STAGE_DELETED"

    asyncio.run(scenario())


def test_the_thirteenth_publisher_is_refused(server, stage):
    ivs, created, token = stage
    whip_url = created["endpoints"]["whip"]
    publishers = [token() for _ in range(13)]
    answers = [whip_post(f"{whip_url}/publish/{p['participantId']}", p["token"], OFFER) for p in publishers]
    assert [a.status_code for a in answers[:12]] == [201] * 12
    assert (answers[12].status_code, answers[12].json()["code"]) == (403, 2005)
    session_id = ivs.get_stage(arn=created["arn"])["stage"]["activeSessionId"]
    events = ivs.list_participant_events(stageArn=created["arn"], sessionId=session_id,
                                         participantId=publishers[12]["participantId"])["events"]
    assert ("PUBLISH_ERROR", "QUOTA_EXCEEDED") in {(e["name"], e.get("errorCode")) for e in events}
    # The thirteenth, refused, joined only for that attempt: it left again.
    assert [e["name"] for e in reversed(events)] == ["JOINED", "PUBLISH_ERROR", "LEFT"]


def test_an_events_socket_joins_the_whip_connection_that_came_first(server, stage):
    ivs, created, token = stage
    alice = token(userId="alice")

    async def scenario():
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer.addTrack(Pattern())
        await negotiate(peer, f"{created['endpoints']['whip']}/publish/{alice['participantId']}", alice["token"])
        async with connect(created["endpoints"]["events"], alice["token"]) as a:
            first = await next_of(a, "STAGE_STATE")
            with pytest.raises(asyncio.TimeoutError):   # no DISCONNECT (TOKEN_REUSED) follows
                await next_of(a, "aws:ivs:DISCONNECT", timeout=3)
        await peer.close()
        return first["payload"]["participants"]

    participants = asyncio.run(scenario())
    assert [(p["id"], p["isPublishing"]) for p in participants] == [(alice["participantId"], True)]
    session_id = ivs.list_stage_sessions(stageArn=created["arn"])["stageSessions"][0]["sessionId"]
    names = [e["name"] for e in reversed(ivs.list_participant_events(
        stageArn=created["arn"], sessionId=session_id, participantId=alice["participantId"])["events"])]
    assert names[:2] == ["JOINED", "PUBLISH_STARTED"] and names.count("JOINED") == 1, names
