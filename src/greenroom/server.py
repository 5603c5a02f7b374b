"""The ASGI app: routes no model describes (admin API, services' own), then the dispatcher.

Requests are answered inline on the event loop: handlers are short, synchronous store
transactions, and a thread hop per request would cost more than it saves.
"""
from __future__ import annotations

import asyncio
import logging

from .emulator import Emulator
from .protocol.http import HttpRequest, HttpResponse

log = logging.getLogger("greenroom")

BACKGROUND_TICK_SECONDS = 0.25


class App:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator
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

    async def _http(self, scope, receive, send):
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = HttpRequest(
            method=scope["method"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"),
            headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
            body=bytes(body),
            scheme=scope.get("scheme", "http"),
        )
        await _send(send, self.emulator.handle(request))


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
