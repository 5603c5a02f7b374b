"""The ASGI app: routes no model describes (admin API, services' own), then the dispatcher.

Blocking work stays off the event loop where it could stall other connections: requests with a
body over ``INLINE_BODY_BYTES``, and every request on a shared store (PostgreSQL, where a
transaction may wait for another process's lock), run ``Emulator.handle`` on a pool of worker
threads. Small requests on a store of this process alone (SQLite, memory) are answered inline:
their transactions are short, and the thread hop would add about a third to their cost
(measured with bench/bench_server.py). Bodies beyond ``MAX_REQUEST_BODY_BYTES`` are refused
(413) before they are read whole.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
import sys
import time

from .core import requestlog, routes
from .core.errors import ServiceError
from .emulator import Emulator, new_request_id
from .protocol import cors, restjson
from .protocol.http import HttpRequest, HttpResponse
from .protocol.websocket import INTERNAL_ERROR, POLICY_VIOLATION, WebSocket, WebSocketClosed

log = logging.getLogger("greenroom")

BACKGROUND_TICK_SECONDS = 0.25
# The largest request body of a model operation: AWS's API front ends refuse bodies over 10 MB
# (no figure is published per API of these services). [inferred] Streaming routes (PutMedia)
# read their bodies as they arrive and have no such limit.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
INLINE_BODY_BYTES = 64 * 1024  # [inferred] parsing this much takes well under a millisecond
HANDLER_THREADS = 16  # [inferred] enough for a workstation's concurrent clients


class AccessLog:
    """One line per request on standard error (text, or JSON with ``json_lines``), buffered and
    flushed by the background tick: the logging module would cost more than answering."""

    def __init__(self, stream=None, json_lines: bool = False):
        self._stream = stream or io.TextIOWrapper(
            open(sys.stderr.fileno(), "wb", buffering=1 << 16, closefd=False), write_through=False)
        self._line = requestlog.json_line if json_lines else requestlog.text_line

    def write(self, logged: dict) -> None:
        self._stream.write(self._line(logged))

    def flush(self) -> None:
        self._stream.flush()


class App:
    def __init__(self, emulator: Emulator, access_log: AccessLog | None = None):
        self.emulator = emulator
        self.access_log = access_log
        self._background: asyncio.Task | None = None
        self._workers = concurrent.futures.ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix="greenroom")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None  # set when the server shuts down

    def stop(self) -> None:
        """The server is shutting down (callable from a signal handler): request bodies being
        streamed end now, as if the client had ended them, so live PutMedia streams answer their
        final acknowledgements; live response bodies (GetMedia tails) end too."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            # Every HTTP answer goes through _send, which adds the CORS headers (protocol.cors)
            # when the request has an Origin, and notes in ``sent`` that the answer is under way.
            sent = [False]
            try:
                await self._http(scope, receive, send, sent)
            except Exception:
                # Anything the emulator did not answer itself: JSON, never uvicorn's plain text.
                log.exception("%s %s failed", scope.get("method"), scope.get("path", "")[:200])
                if sent[0]:
                    raise  # the answer is under way: the connection can only be cut
                await _send(send, HttpResponse(500, {"Content-Type": "application/json"}, json.dumps(
                    {"message": "Internal error in greenroom"}).encode()),
                    any(name.lower() == b"origin" for name, _ in scope["headers"]), scope["method"])
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    def _request(self, scope, body: bytes = b"", raw_path: str | None = None) -> HttpRequest:
        """The HttpRequest of an ASGI scope (with the emulator's core.public_url settings)."""
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        scheme = scope.get("scheme", "http")
        return HttpRequest(
            method=scope.get("method", "GET"),
            raw_path=raw_path if raw_path is not None else _raw_path(scope),
            query_string=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            scheme=_HTTP_SCHEMES.get(scheme, scheme),
            host=headers.get("host", ""),
            client=(scope.get("client") or ("",))[0],
            server=scope.get("server"),
            public_urls=self.emulator.public_urls,
        )

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
                self._background = asyncio.create_task(self._apply_transitions_forever())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._background:
                    self._background.cancel()
                self._workers.shutdown(wait=False)
                if self.access_log is not None:
                    self.access_log.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _apply_transitions_forever(self):
        """Lifecycles move even when nobody asks (e.g. sessions time out on their own)."""
        while True:
            await asyncio.sleep(BACKGROUND_TICK_SECONDS)
            try:
                await asyncio.get_running_loop().run_in_executor(self._workers, self.emulator.apply_due_transitions)
            except Exception:
                log.exception("applying scheduled transitions failed")
            if self.access_log is not None:
                self.access_log.flush()

    async def _http(self, scope, receive, send, sent: list[bool]):
        started = time.perf_counter()
        raw_path = _raw_path(scope)
        if scope["method"] == "OPTIONS" and await self._preflight(scope, send, started, sent):
            return
        streaming = routes.find_streaming(scope["method"], raw_path)
        if streaming is not None:
            await self._stream(scope, receive, send, sent, raw_path, *streaming)
            return
        request = self._request(scope, b"", raw_path)
        body = await _read_body(receive, request.headers)
        if body is None:
            response = _too_large()
            await _send(send, response, "origin" in request.headers, request.method, None, sent)
            self._log(request, response, started)
            return
        request.body = body
        if len(body) > INLINE_BODY_BYTES or self.emulator.store.shared:
            response = await asyncio.get_running_loop().run_in_executor(self._workers, self.emulator.handle, request)
        else:
            response = self.emulator.handle(request)
        watch = (lambda: self._unless_stopping(receive)) if self._stopping is not None else receive
        await _send(send, response, "origin" in request.headers, request.method, watch, sent)
        self._log(request, response, started)

    async def _unless_stopping(self, receive):
        """The next ASGI message (from ``receive()``, or ``receive`` itself when it is a future
        already under way), or None once the server is stopping."""
        pending = receive if isinstance(receive, asyncio.Future) else None
        if self._stopping is None:
            return await (pending or receive())
        if self._stopping.is_set():
            if pending is not None:
                pending.cancel()
            return None
        following = pending or asyncio.ensure_future(receive())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait((following, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if following.done():
            return following.result()
        following.cancel()
        return None

    async def _stream(self, scope, receive, send, sent: list[bool], raw_path: str, route: routes.HttpRoute,
                      params: dict):
        """A streaming route: the handler reads the body as it arrives (see core.routes)."""
        started = time.perf_counter()
        request = self._request(scope, b"", raw_path)

        # uvicorn answers "Expect: 100-continue" on the app's first receive(), and never once the
        # response has started: a handler that answers before it reads (PutMedia sends 200, then
        # acknowledgements while it reads) would leave the client waiting for 100 (curl, so AWS's
        # producer SDKs, holds the body a second). So a 2xx streaming answer to such a request
        # starts receiving first; an error answer goes without 100, as HTTP/1.1 allows.
        first_receive: list[asyncio.Future] = []

        async def body_chunks():
            while True:
                message = await self._unless_stopping(first_receive.pop() if first_receive else receive)
                if message is None:
                    return  # the server is stopping: the body ends here
                if message["type"] == "http.disconnect":
                    raise routes.ClientDisconnected()
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body"):
                    return

        try:
            self.emulator.check_admin_token(request)
            if self.emulator.verifier is not None and not raw_path.startswith("/_greenroom/"):
                self.emulator.verified_caller(request, None)  # an AWS API (PutMedia): signed, body unsigned
            response = await route.handler(self.emulator, request, body_chunks(), **params)
        except routes.HttpError as error:
            response = HttpResponse(error.status, {"Content-Type": "application/json"},
                                    json.dumps({"message": error.message}).encode())
        except ServiceError as error:
            response = HttpResponse(*restjson.serialize_error(None, error))
        except Exception:
            log.exception("streaming route %s %s failed", route.method, route.template)
            response = HttpResponse(500, {"Content-Type": "application/json"}, json.dumps(
                {"message": f"Internal error in greenroom at {route.method} {route.template}"}).encode())
        response.headers.setdefault("x-amzn-RequestId", new_request_id())
        if response.label == "-":
            response.label = routes.label(route)
        if 200 <= response.status < 300 and request.headers.get("expect", "").lower() == "100-continue":
            first_receive.append(asyncio.ensure_future(receive()))
            await asyncio.sleep(0)  # let it run: it writes "100 Continue" before the response
        # The request body belongs to the handler: no disconnect watch on ``receive`` here.
        try:
            await _send(send, response, "origin" in request.headers, request.method, None, sent)
        finally:
            for unread in first_receive:  # the handler answered without reading the body
                unread.cancel()
        self._log(request, response, started)

    async def _preflight(self, scope, send, started: float, sent: list[bool]) -> bool:
        """Answer a CORS preflight (protocol.cors), on any path; False if it is not one."""
        request = self._request(scope)
        if not cors.is_preflight(request.method, request.headers):
            return False
        response = HttpResponse(200, cors.preflight_headers(request.headers), b"", "- CORS preflight")
        await _send(send, response, True, request.method, None, sent)
        self._log(request, response, started)
        return True

    async def _websocket(self, scope, receive, send):
        """A WebSocket upgrade: its route's handler (core.routes), or 404 without a handshake."""
        started = time.perf_counter()
        request = self._request(scope)
        socket = WebSocket(request, list(scope.get("subprotocols") or ()), receive, send)
        found = routes.find_websocket(request.raw_path)
        label = routes.label(found[0]) if found else "- no WebSocket route"
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            if found is None:
                raise routes.HttpError(404, f"No WebSocket route at {request.raw_path}")
            if self.emulator.verifier is not None and not request.raw_path.startswith("/_greenroom/"):
                self.emulator.verified_caller(request, b"")  # an AWS API's (presigned) WebSocket URL
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
            message = f"Internal error in greenroom at {found[0].template if found else request.raw_path}"
            if socket.accepted:
                await socket.close(INTERNAL_ERROR, message)
            else:
                await socket.deny(500, restjson.dump_json({"message": message}))
        else:
            if socket.accepted:
                await socket.close()
            elif socket.denied_status is None:
                await socket.deny(403, restjson.dump_json({"message": "The WebSocket was not accepted"}))
        status = socket.denied_status or 101
        self._log(request, HttpResponse(status, {}, b"", f"{label} close {socket.close_code}"), started)

    def _log(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        logged = requestlog.entry(request, response, started)
        self.emulator.requests.record(logged)
        if self.access_log is not None:
            self.access_log.write(logged)


_HTTP_SCHEMES = {"ws": "http", "wss": "https"}  # a WebSocket request's scheme as HTTP's


def _raw_path(scope) -> str:
    return (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")


async def _read_body(receive, headers: dict[str, str]) -> bytes | None:
    """The whole request body, or None when it is (or says it will be) over the limit."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BODY_BYTES:
        return None
    message = await receive()
    if not message.get("more_body"):  # the whole body in one message (small requests)
        body = message.get("body", b"")
        return bytes(body) if len(body) <= MAX_REQUEST_BODY_BYTES else None
    body = bytearray()
    while True:
        body += message.get("body", b"")
        if len(body) > MAX_REQUEST_BODY_BYTES:
            return None
        if not message.get("more_body"):
            return bytes(body)
        message = await receive()


def _too_large() -> HttpResponse:
    message = f"Request body exceeds the maximum of {MAX_REQUEST_BODY_BYTES} bytes"
    return HttpResponse(413, {"Content-Type": "application/json", "x-amzn-ErrorType": "RequestEntityTooLargeException",
                              "Connection": "close"},
                        json.dumps({"message": message, "Message": message}).encode(), "- too large")


async def _send(send, response: HttpResponse, origin: bool, method: str, receive=None,
                sent: list[bool] | None = None) -> None:
    """Send a response whose body is bytes, an iterable of bytes, or an async iterable of bytes
    (preferred when the body offers both: a live tail waits without blocking the loop), with the
    CORS headers (protocol.cors) every HTTP answer to a ``method`` request with ``origin`` (an
    Origin header) carries, errors included; ``sent[0]`` is set once the answer is under way.

    With ``receive`` (the request body already read), a client that disconnects ends an async
    body: the iterator is closed, so a live tail stops waiting for data nobody will read."""
    headers = [(_header_bytes(name), _header_bytes(value)) for name, value in response.headers.items()]
    body = response.body
    if isinstance(body, (bytes, bytearray)):
        if response.status not in (204, 304):  # these carry no body, nor a length for one
            headers.append((b"content-length", str(len(body)).encode()))
        cors.add_to(headers, origin, method)
        if sent is not None:
            sent[0] = True
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(body)})
        return
    cors.add_to(headers, origin, method)
    if sent is not None:
        sent[0] = True
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if hasattr(body, "__aiter__"):
        await _send_async_body(send, body, receive)
    else:
        for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _header_bytes(value) -> bytes:
    """A header name or value as HTTP can carry it: latin-1, else UTF-8; no control characters
    (a value echoing input must not end the header or the connection). [inferred] encoding"""
    text = str(value)
    if text.isascii() and text.isprintable():  # nearly every header: nothing to replace
        return text.encode("ascii")
    if not text.isprintable():
        text = "".join(char if char.isprintable() else "?" for char in text)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


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
    """Returns when the client disconnects (or ``receive`` answers None: the server stops)."""
    while True:
        message = await receive()
        if message is None or message["type"] == "http.disconnect":
            return


# What is still open this long after Ctrl-C is cut (listeners.run's graceful stop).
GRACEFUL_SHUTDOWN_SECONDS = 5
