"""WebSocket routes (core.routes.websocket_route) through a real client (the ``websockets``
package): subprotocol echo, ping/pong, messages, close codes, SigV4-presigned upgrades, and a
clear refusal (404, not 500) on a path without a WebSocket route. The route used is greenroom's
own ``/_greenroom/echo``."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import pytest
import websockets
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def ws_url(server, path: str) -> str:
    return "ws://" + urlsplit(server.base_url).netloc + path


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 20))


def test_subprotocol_is_echoed_and_messages_flow(server):
    async def talk():
        # IVS sends the participant token as the subprotocol; the server echoes the one it picks.
        async with websockets.connect(ws_url(server, "/_greenroom/echo"), subprotocols=["token.abc", "other"]) as ws:
            hello = json.loads(await ws.recv())
            await ws.send("text message")
            text = await ws.recv()
            await ws.send(b"\x00\x01binary")
            binary = await ws.recv()
            latency = await ws.ping()  # answered by the server's pong
            await asyncio.wait_for(latency, 5)
            return ws.subprotocol, hello, text, binary

    subprotocol, hello, text, binary = run(talk())
    assert subprotocol == "token.abc"
    assert hello == {"account": "000000000000", "region": "us-east-1", "subprotocol": "token.abc",
                     "url": server.base_url}
    assert (text, binary) == ("text message", b"\x00\x01binary")


def test_no_subprotocol_offered_none_chosen(server):
    async def talk():
        async with websockets.connect(ws_url(server, "/_greenroom/echo")) as ws:
            return ws.subprotocol, json.loads(await ws.recv())["subprotocol"]

    assert run(talk()) == (None, None)


def test_close_codes_both_ways(server):
    async def server_closes():
        async with websockets.connect(ws_url(server, "/_greenroom/echo")) as ws:
            await ws.recv()
            await ws.send(json.dumps({"close": 4001, "reason": "finished here"}))
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return ws.close_code, ws.close_reason

    assert run(server_closes()) == (4001, "finished here")

    async def client_closes():
        ws = await websockets.connect(ws_url(server, "/_greenroom/echo"))
        await ws.recv()
        await ws.close(code=1000, reason="bye")
        return ws.close_code

    assert run(client_closes()) == 1000


def test_presigned_sigv4_query_identifies_account_and_region(server):
    """As KVS signaling clients connect: the SigV4 credential is in the query string."""
    request = AWSRequest("GET", ws_url(server, "/_greenroom/echo") + "?X-Amz-ChannelARN=arn")
    SigV4QueryAuth(Credentials("123456789012", "secret"), "kinesisvideo", "eu-west-1", expires=300).add_auth(request)

    async def talk():
        async with websockets.connect(request.url) as ws:
            return json.loads(await ws.recv())

    hello = run(talk())
    assert (hello["account"], hello["region"]) == ("123456789012", "eu-west-1")


@pytest.mark.parametrize("path", ["/no/such/socket", "/describeStream", "/_greenroom/health"])
def test_a_path_without_a_websocket_route_is_refused_clearly(server, path):
    async def talk():
        async with websockets.connect(ws_url(server, path)):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        run(talk())
    response = refused.value.response
    assert response.status_code == 404
    assert json.loads(response.body) == {"message": f"No WebSocket route at {path}"}
    # The server is fine afterwards.
    assert server.admin("GET", "health").status_code == 200


def test_two_routes_for_one_path_are_refused():
    import greenroom.admin  # noqa: F401  (registers /_greenroom/echo)
    from greenroom.core.routes import websocket_route
    with pytest.raises(ValueError, match="two handlers"):
        websocket_route("/_greenroom/echo")(lambda emulator, socket: None)


# ---------------------------------------------------------------------------- handler outcomes
# Routes of this test's own, on a greenroom app served by uvicorn in a thread of the test.

@pytest.fixture(scope="module")
def app_url():
    import socket
    import threading

    import uvicorn

    from greenroom.core.routes import HttpError, websocket_route
    from greenroom.emulator import Emulator
    from greenroom.server import App

    @websocket_route("/_test/refuse/{status}")
    async def refuse(emulator, socket, status):
        raise HttpError(int(status), f"refused with {status}")

    @websocket_route("/_test/fail-after-accept")
    async def fail_after_accept(emulator, socket):
        await socket.accept()
        await socket.receive()
        raise RuntimeError("a bug in a handler")

    @websocket_route("/_test/policy-after-accept")
    async def policy_after_accept(emulator, socket):
        await socket.accept()
        raise HttpError(400, "the first message was not what this route expects")

    @websocket_route("/_test/never-accepts")
    async def never_accepts(emulator, socket):
        return None

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    server = uvicorn.Server(uvicorn.Config(App(Emulator(None)), log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def refused_status(url: str) -> tuple[int, dict]:
    async def talk():
        async with websockets.connect(url):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        run(talk())
    return refused.value.response.status_code, json.loads(refused.value.response.body)


def closed_with(url: str, send: str | None = None) -> tuple[int, str]:
    async def talk():
        async with websockets.connect(url) as ws:
            if send is not None:
                await ws.send(send)
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return ws.close_code, ws.close_reason

    return run(talk())


def test_http_error_before_accepting_refuses_the_handshake(app_url):
    assert refused_status(app_url + "/_test/refuse/403") == (403, {"message": "refused with 403"})
    assert refused_status(app_url + "/_test/never-accepts")[0] == 403


def test_errors_after_accepting_close_with_a_code(app_url):
    assert closed_with(app_url + "/_test/fail-after-accept", send="x") == \
        (1011, "Internal error in greenroom at /_test/fail-after-accept")
    assert closed_with(app_url + "/_test/policy-after-accept") == \
        (1008, "the first message was not what this route expects")
