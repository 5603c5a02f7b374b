"""The ASGI app: routes no model describes (admin API, services' own), then the dispatcher.

Requests are answered inline on the event loop: handlers are short, synchronous store
transactions, and a thread hop per request would cost more than it saves.
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
import uuid

from .core import routes
from .core.errors import ServiceError
from .emulator import Emulator
from .protocol import cors, restjson
from .protocol.http import HttpRequest, HttpResponse
from .protocol.websocket import INTERNAL_ERROR, POLICY_VIOLATION, WebSocket, WebSocketClosed

log = logging.getLogger("greenroom")

BACKGROUND_TICK_SECONDS = 0.25


class AccessLog:
    """One line per request on standard error, buffered and flushed by the background tick:
    the logging module would cost more than answering a simple request."""

    def __init__(self, stream=None):
        self._stream = stream or io.TextIOWrapper(
            open(sys.stderr.fileno(), "wb", buffering=1 << 16, closefd=False), write_through=False)

    def write(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._stream.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {request.method} {request.raw_path} "
                           f"{response.label} {response.status} {elapsed_ms:.1f}ms\n")

    def flush(self) -> None:
        self._stream.flush()


class App:
    def __init__(self, emulator: Emulator, access_log: AccessLog | None = None):
        self.emulator = emulator
        self.access_log = access_log
        self._background: asyncio.Task | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, _with_cors(send))
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    def _request(self, scope, body: bytes = b"") -> HttpRequest:
        """The HttpRequest of an ASGI scope; its ``base_url`` is core.public_url's answer."""
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        scheme = scope.get("scheme", "http")
        return HttpRequest(
            method=scope.get("method", "GET"),
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            scheme={"ws": "http", "wss": "https"}.get(scheme, scheme),
            host=headers.get("host", ""),
            client=(scope.get("client") or ("",))[0],
            server=scope.get("server"),
            public_urls=self.emulator.public_urls,
        )

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._background = asyncio.create_task(self._apply_transitions_forever())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._background:
                    self._background.cancel()
                if self.access_log is not None:
                    self.access_log.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _apply_transitions_forever(self):
        """Lifecycles move even when nobody asks (e.g. sessions time out on their own)."""
        while True:
            await asyncio.sleep(BACKGROUND_TICK_SECONDS)
            try:
                self.emulator.apply_due_transitions()
            except Exception:
                log.exception("applying scheduled transitions failed")
            if self.access_log is not None:
                self.access_log.flush()

    async def _http(self, scope, receive, send):
        started = time.perf_counter()
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope["method"] == "OPTIONS" and await self._preflight(scope, send, started):
            return
        streaming = routes.find_streaming(scope["method"], raw_path)
        if streaming is not None:
            await self._stream(scope, receive, send, raw_path, *streaming)
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = self._request(scope, bytes(body))
        response = self.emulator.handle(request)
        await _send(send, response, receive)
        if self.access_log is not None:
            self.access_log.write(request, response, started)

    async def _stream(self, scope, receive, send, raw_path: str, route: routes.HttpRoute, params: dict):
        """A streaming route: the handler reads the body as it arrives (see core.routes)."""
        started = time.perf_counter()
        request = self._request(scope)

        # uvicorn answers "Expect: 100-continue" on the app's first receive(), and never once the
        # response has started: a handler that answers before it reads (PutMedia sends 200, then
        # acknowledgements while it reads) would leave the client waiting for 100 (curl, so AWS's
        # producer SDKs, holds the body a second). So a 2xx streaming answer to such a request
        # starts receiving first; an error answer goes without 100, as HTTP/1.1 allows.
        first_receive: list[asyncio.Future] = []

        async def body_chunks():
            while True:
                message = await (first_receive.pop() if first_receive else receive())
                if message["type"] == "http.disconnect":
                    raise routes.ClientDisconnected()
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body"):
                    return

        try:
            response = await route.handler(self.emulator, request, body_chunks(), **params)
        except routes.HttpError as error:
            response = HttpResponse(error.status, {"Content-Type": "application/json"},
                                    json.dumps({"message": error.message}).encode())
        except Exception:
            log.exception("streaming route %s %s failed", route.method, route.template)
            response = HttpResponse(500, {"Content-Type": "application/json"}, json.dumps(
                {"message": f"Internal error in greenroom at {route.method} {route.template}"}).encode())
        response.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        if response.label == "-":
            response.label = f"- {route.template}"
        if 200 <= response.status < 300 and request.headers.get("expect", "").lower() == "100-continue":
            first_receive.append(asyncio.ensure_future(receive()))
            await asyncio.sleep(0)  # let it run: it writes "100 Continue" before the response
        # The request body belongs to the handler: no disconnect watch on ``receive`` here.
        try:
            await _send(send, response)
        finally:
            for unread in first_receive:  # the handler answered without reading the body
                unread.cancel()
        if self.access_log is not None:
            self.access_log.write(request, response, started)

    async def _preflight(self, scope, send, started: float) -> bool:
        """Answer a CORS preflight (protocol.cors), on any path; False if it is not one."""
        request = self._request(scope)
        if not cors.is_preflight(request.method, request.headers):
            return False
        response = HttpResponse(200, cors.preflight_headers(request.headers), b"", "- CORS preflight")
        await _send(send, response)
        if self.access_log is not None:
            self.access_log.write(request, response, started)
        return True

    async def _websocket(self, scope, receive, send):
        """A WebSocket upgrade: its route's handler (core.routes), or 404 without a handshake."""
        started = time.perf_counter()
        request = self._request(scope)
        socket = WebSocket(request, list(scope.get("subprotocols") or ()), receive, send)
        found = routes.find_websocket(request.raw_path)
        label = f"- {found[0].template}" if found else "- no WebSocket route"
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            if found is None:
                raise routes.HttpError(404, f"No WebSocket route at {request.raw_path}")
            await found[0].handler(self.emulator, socket, **found[1])
        except WebSocketClosed:
            pass
        except (routes.HttpError, ServiceError) as error:
            if socket.accepted:
                await socket.close(POLICY_VIOLATION, error.message)
            elif isinstance(error, ServiceError):
                status, headers, body = restjson.serialize_error(None, error)
                await socket.deny(status, body, headers.pop("Content-Type"), headers)
            else:
                await socket.deny(error.status, restjson.dump_json({"message": error.message}))
        except Exception:
            log.exception("WebSocket route %s failed", label)
            message = f"Internal error in greenroom at {label[2:]}"
            if socket.accepted:
                await socket.close(INTERNAL_ERROR, message)
            else:
                await socket.deny(500, restjson.dump_json({"message": message}))
        else:
            if socket.accepted:
                await socket.close()
            elif socket.denied_status is None:
                await socket.deny(403, restjson.dump_json({"message": "The WebSocket was not accepted"}))
        if self.access_log is not None:
            status = socket.denied_status or 101
            self.access_log.write(request, HttpResponse(status, {}, b"", f"{label} close {socket.close_code}"), started)


def _with_cors(send):
    """``send`` adding the CORS headers (protocol.cors) to every HTTP answer, errors included."""
    async def send_with_cors(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": cors.add_to(list(message.get("headers", ())))}
        await send(message)
    return send_with_cors


async def _send(send, response: HttpResponse, receive=None) -> None:
    """Send a response whose body is bytes, an iterable of bytes, or an async iterable of bytes
    (preferred when the body offers both: a live tail waits without blocking the loop).

    With ``receive`` (the request body already read), a client that disconnects ends an async
    body: the iterator is closed, so a live tail stops waiting for data nobody will read."""
    headers = [(name.encode("latin-1"), str(value).encode("latin-1")) for name, value in response.headers.items()]
    body = response.body
    if isinstance(body, (bytes, bytearray)):
        if response.status not in (204, 304):  # these carry no body, nor a length for one
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(body)})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if hasattr(body, "__aiter__"):
        await _send_async_body(send, body, receive)
    else:
        for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _send_async_body(send, body, receive) -> None:
    iterator = body.__aiter__()
    if receive is None:  # nothing to watch: no task per chunk
        try:
            async for chunk in iterator:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()
        return
    disconnected = asyncio.create_task(_disconnect(receive))
    try:
        while True:
            following = asyncio.ensure_future(iterator.__anext__())
            await asyncio.wait((following, disconnected), return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                await asyncio.wait((following,))  # let the iterator unwind before closing it
                return
            try:
                chunk = following.result()
            except StopAsyncIteration:
                return
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        disconnected.cancel()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


async def _disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
