"""The ASGI app: routes no model describes (admin API, services' own), then the dispatcher.

Requests are answered inline on the event loop: handlers are short, synchronous store
transactions, and a thread hop per request would cost more than it saves.
"""
from __future__ import annotations

import asyncio
import io
import logging
import sys
import time

from .emulator import Emulator
from .protocol.http import HttpRequest, HttpResponse

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
            await self._http(scope, receive, send)

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
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        request = HttpRequest(
            method=scope["method"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=bytes(body),
            scheme=scope.get("scheme", "http"),
            host=headers.get("host", ""),
        )
        response = self.emulator.handle(request)
        await _send(send, response)
        if self.access_log is not None:
            self.access_log.write(request, response, started)


async def _send(send, response: HttpResponse) -> None:
    headers = [(name.encode("latin-1"), str(value).encode("latin-1")) for name, value in response.headers.items()]
    if isinstance(response.body, (bytes, bytearray)):
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(response.body)})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    for chunk in response.body:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
