"""Kinesis Video WebRTC signaling through real clients: boto3 for the control plane and
GetIceServerConfig, the ``websockets`` package on a SigV4-presigned URL (as the KVS SDKs connect)
for the signaling WebSocket, aioice's STUN client against greenroom's STUN server."""
from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from urllib.parse import urlencode

import pytest
import websockets
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDENTIALS = Credentials("000000000000", "secret")


def run(coroutine, timeout: float = 30):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


@pytest.fixture
def channel(server):
    server.admin("POST", "delays", {"kinesisvideo.channel.create": 0, "kinesisvideo.channel.delete": 0}).raise_for_status()
    kvs = server.client("kinesisvideo")
    arn = kvs.create_signaling_channel(ChannelName="door")["ChannelARN"]
    for _ in range(50):
        if kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["ChannelStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    endpoints = kvs.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"], "Role": "MASTER"})
    wss = {e["Protocol"]: e["ResourceEndpoint"] for e in endpoints["ResourceEndpointList"]}["WSS"]
    return arn, wss


def presigned(endpoint: str, channel_arn: str, client_id: str | None = None, *, expires: int = 299,
              signed_at: float | None = None) -> str:
    query = {"X-Amz-ChannelARN": channel_arn}
    if client_id:
        query["X-Amz-ClientId"] = client_id
    request = AWSRequest("GET", endpoint.rstrip("/") + "/?" + urlencode(query))
    SigV4QueryAuth(CREDENTIALS, "kinesisvideo", "us-east-1", expires=expires).add_auth(request)
    if signed_at is None:
        return request.url
    # As if signed at another time (greenroom checks the validity window, not the signature).
    return re.sub(r"X-Amz-Date=\d{8}T\d{6}Z", "X-Amz-Date=" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed_at)),
                  request.url)


def payload(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def unpack(message: str) -> dict:
    document = json.loads(message)
    if "messagePayload" in document:
        document["payload"] = json.loads(base64.b64decode(document["messagePayload"]))
    return document


async def receive(ws, timeout: float = 5) -> dict:
    return unpack(await asyncio.wait_for(ws.recv(), timeout))


def test_endpoint_is_websocket_and_master_viewer_exchange(channel):
    arn, wss = channel
    assert wss.startswith("ws://")

    async def talk():
        async with websockets.connect(presigned(wss, arn)) as master, \
                websockets.connect(presigned(wss, arn, "viewer-1")) as viewer, \
                websockets.connect(presigned(wss, arn, "viewer-2")) as second:
            await viewer.send(json.dumps({"action": "SDP_OFFER", "recipientClientId": "ignored",
                                          "messagePayload": payload({"type": "offer", "sdp": "v=0 one"}),
                                          "correlationId": "c1"}))
            offer = await receive(master)
            await master.send(json.dumps({"action": "SDP_ANSWER", "recipientClientId": "viewer-1",
                                          "messagePayload": payload({"type": "answer", "sdp": "v=0 a"})}))
            answer = await receive(viewer)
            await master.send(json.dumps({"action": "ICE_CANDIDATE", "recipientClientId": "viewer-2",
                                          "messagePayload": payload({"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host"})}))
            candidate = await receive(second)
            await second.send(json.dumps({"action": "ICE_CANDIDATE",
                                          "messagePayload": payload({"candidate": "candidate:2"})}))
            from_second = await receive(master)
            return offer, answer, candidate, from_second

    offer, answer, candidate, from_second = run(talk())
    assert offer["messageType"] == "SDP_OFFER" and offer["senderClientId"] == "viewer-1"
    assert offer["payload"] == {"type": "offer", "sdp": "v=0 one"}
    assert answer["messageType"] == "SDP_ANSWER" and answer["payload"]["sdp"] == "v=0 a"
    assert candidate["messageType"] == "ICE_CANDIDATE" and candidate["payload"]["candidate"].startswith("candidate:1")
    assert from_second["senderClientId"] == "viewer-2" and from_second["payload"] == {"candidate": "candidate:2"}


@pytest.mark.parametrize("raw, correlation, described", [
    ("not json at all", None, "not JSON"),
    (json.dumps({"action": "SDP_PRANSWER", "messagePayload": "e30=", "correlationId": "k1"}), "k1", "Unknown action"),
    (json.dumps({"action": "SDP_OFFER", "messagePayload": "A" * 12000, "correlationId": "k2"}), "k2", "limit"),
    (json.dumps({"action": "SDP_ANSWER", "recipientClientId": "nobody", "messagePayload": "e30=",
                 "correlationId": "k3"}), "k3", "not connected"),
    (json.dumps({"action": "ICE_CANDIDATE", "messagePayload": "***", "correlationId": "k4"}), "k4", "base64"),
    ("[1, 2]", None, "JSON object"),
])
def test_bad_messages_get_a_status_response_and_the_connection_lives_on(channel, raw, correlation, described):
    arn, wss = channel

    async def talk():
        async with websockets.connect(presigned(wss, arn)) as master, \
                websockets.connect(presigned(wss, arn, "v")) as viewer:
            await master.send(raw)
            status = await receive(master)
            # Still connected and routing.
            await viewer.send(json.dumps({"action": "SDP_OFFER", "messagePayload": payload({"sdp": "x"})}))
            return status, await receive(master)

    status, after = run(talk())
    assert status["messageType"] == "STATUS_RESPONSE"
    response = status["statusResponse"]
    assert response.get("correlationId") == correlation
    assert response["success"] is False and described in response["description"]
    assert response["errorType"] in ("InvalidArgumentException", "ResourceNotFoundException")
    assert response["statusCode"] in ("400", "404")
    assert after["messageType"] == "SDP_OFFER"


def test_binary_frames_get_a_status_response(channel):
    arn, wss = channel

    async def talk():
        async with websockets.connect(presigned(wss, arn)) as master:
            await master.send(b"\xff\xfe\x00")
            return await receive(master)

    assert run(talk())["statusResponse"]["errorType"] == "InvalidArgumentException"


def test_expired_or_unsigned_or_unknown_channel_is_refused(channel):
    arn, wss = channel

    async def status_of(url):
        try:
            async with websockets.connect(url):
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    expired = presigned(wss, arn, signed_at=time.time() - 600, expires=299)
    unsigned = wss.rstrip("/") + "/?" + urlencode({"X-Amz-ChannelARN": arn})
    unknown = presigned(wss, arn.replace("door", "nope"))
    bad_client = presigned(wss, arn, "bad id!")
    assert run(status_of(expired)) == 403
    assert run(status_of(unsigned)) == 403
    assert run(status_of(unknown)) == 404
    assert run(status_of(bad_client)) == 400
    assert run(status_of(presigned(wss, arn))) == 101


def test_newest_master_replaces_the_older_one(channel):
    arn, wss = channel

    async def talk():
        async with websockets.connect(presigned(wss, arn)) as first:
            async with websockets.connect(presigned(wss, arn)) as second, \
                    websockets.connect(presigned(wss, arn, "v")) as viewer:
                go_away = await receive(first)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(first.recv(), 5)
                await viewer.send(json.dumps({"action": "SDP_OFFER", "messagePayload": payload({"sdp": "y"})}))
                return go_away, closed.value.rcvd.code, await receive(second)

    go_away, code, offer = run(talk())
    assert go_away["messageType"] == "GO_AWAY"
    assert code == 1000
    assert offer["senderClientId"] == "v"


def test_offers_wait_for_the_master_within_the_message_ttl(server, channel):
    arn, wss = channel
    kvs = server.client("kinesisvideo")

    async def talk():
        async with websockets.connect(presigned(wss, arn, "early")) as viewer:
            await viewer.send(json.dumps({"action": "SDP_OFFER", "messagePayload": payload({"sdp": "old"})}))
            await viewer.send(json.dumps({"action": "SDP_OFFER", "messagePayload": payload({"sdp": "new"})}))
            await asyncio.sleep(0.2)
            async with websockets.connect(presigned(wss, arn)) as master:
                first = await receive(master)
                with pytest.raises(asyncio.TimeoutError):
                    await receive(master, timeout=0.5)   # the older offer was replaced
            return first

    assert run(talk())["payload"] == {"sdp": "new"}

    # A TTL of 5 s: the offer is gone once the clock passed it.
    version = kvs.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["Version"]
    server.admin("POST", "delays", {"kinesisvideo.channel.update": 0}).raise_for_status()
    kvs.update_signaling_channel(ChannelARN=arn, CurrentVersion=version,
                                 SingleMasterConfiguration={"MessageTtlSeconds": 5})
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()

    async def late():
        async with websockets.connect(presigned(wss, arn, "late")) as viewer:
            await viewer.send(json.dumps({"action": "SDP_OFFER", "messagePayload": payload({"sdp": "stale"})}))
            await asyncio.sleep(0.2)
            server.admin("POST", "clock", {"advance": 6}).raise_for_status()
            async with websockets.connect(presigned(wss, arn, signed_at=time.time() + 6)) as master:
                with pytest.raises(asyncio.TimeoutError):
                    await receive(master, timeout=0.5)

    run(late())


def test_channel_deletion_sends_go_away_and_closes(server, channel):
    arn, wss = channel
    kvs = server.client("kinesisvideo")

    async def talk():
        async with websockets.connect(presigned(wss, arn)) as master, \
                websockets.connect(presigned(wss, arn, "v")) as viewer:
            await asyncio.to_thread(kvs.delete_signaling_channel, ChannelARN=arn)
            got = [await receive(master), await receive(viewer)]
            codes = []
            for ws in (master, viewer):
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                codes.append(closed.value.rcvd.code)
            return got, codes

    got, codes = run(talk())
    assert [m["messageType"] for m in got] == ["GO_AWAY", "GO_AWAY"]
    assert codes == [1001, 1001]


def test_get_ice_server_config_hands_out_a_working_stun_server(server, channel):
    arn, _ = channel
    kvs = server.client("kinesisvideo")
    https = {e["Protocol"]: e["ResourceEndpoint"] for e in kvs.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["HTTPS"], "Role": "VIEWER"}
    )["ResourceEndpointList"]}["HTTPS"]
    from support import make_client
    signaling = make_client("kinesis-video-signaling", https)
    servers = signaling.get_ice_server_config(ChannelARN=arn, ClientId="viewer-1")["IceServerList"]
    assert len(servers) == 1 and servers[0]["Ttl"] == 300 and servers[0]["Username"] and servers[0]["Password"]
    uri = servers[0]["Uris"][0]
    assert uri.startswith("stun:")
    host, port = uri[len("stun:"):].rsplit(":", 1)
    assert int(port) == server.admin("GET", "health").json()["stun"]["port"]

    from aioice import stun

    async def binding():
        loop = asyncio.get_running_loop()
        answered = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                answered.set_result(stun.parse_message(data))

        transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        transport.sendto(bytes(request), (host, int(port)))
        response = await asyncio.wait_for(answered, 5)
        mine = transport.get_extra_info("sockname")
        transport.close()
        return request, response, mine

    request, response, mine = run(binding())
    assert response.message_class == stun.Class.RESPONSE and response.transaction_id == request.transaction_id
    assert response.attributes["XOR-MAPPED-ADDRESS"] == (mine[0], mine[1])

    with pytest.raises(signaling.exceptions.ResourceNotFoundException):
        signaling.get_ice_server_config(ChannelARN=arn.replace("door", "gone"))


def test_send_alexa_offer_to_master_returns_the_masters_answer(server, channel):
    arn, wss = channel
    from support import make_client
    signaling = make_client("kinesis-video-signaling", server.base_url)
    with pytest.raises(signaling.exceptions.ResourceNotFoundException):
        signaling.send_alexa_offer_to_master(ChannelARN=arn, SenderClientId="alexa", MessagePayload="b2ZmZXI=")

    async def talk():
        async with websockets.connect(presigned(wss, arn)) as master:
            call = asyncio.create_task(asyncio.to_thread(
                signaling.send_alexa_offer_to_master, ChannelARN=arn, SenderClientId="alexa",
                MessagePayload=payload({"type": "offer", "sdp": "alexa-sdp"})))
            offer = await receive(master)
            await master.send(json.dumps({"action": "SDP_ANSWER", "recipientClientId": offer["senderClientId"],
                                          "messagePayload": payload({"type": "answer", "sdp": "master-sdp"})}))
            return offer, await call

    offer, result = run(talk())
    assert offer["senderClientId"] == "alexa" and offer["payload"]["sdp"] == "alexa-sdp"
    assert json.loads(base64.b64decode(result["Answer"])) == {"type": "answer", "sdp": "master-sdp"}


def test_ice_servers_and_alexa_offers_alike_in_process_and_server(emulated):
    """In process there is no signaling connection: GetIceServerConfig still hands out a STUN
    server (started on first use), SendAlexaOfferToMaster finds no master."""
    kvs = emulated.client("kinesisvideo")
    arn = kvs.create_signaling_channel(ChannelName="porch")["ChannelARN"]
    emulated.advance(5)
    signaling = emulated.client("kinesis-video-signaling")
    uri = signaling.get_ice_server_config(ChannelARN=arn)["IceServerList"][0]["Uris"][0]
    assert re.fullmatch(r"stun:[\w.\[\]:-]+:\d+", uri)
    with pytest.raises(signaling.exceptions.ResourceNotFoundException):
        signaling.send_alexa_offer_to_master(ChannelARN=arn, SenderClientId="alexa", MessagePayload="b2ZmZXI=")
    storage = emulated.client("kinesis-video-webrtc-storage")
    with pytest.raises(storage.exceptions.InvalidArgumentException):
        storage.join_storage_session(channelArn=arn)
