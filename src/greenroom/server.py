"""The ASGI app: the admin API under /_greenroom/, then the model-driven dispatcher.

Requests are answered inline on the event loop: handlers are short, synchronous store
transactions, and a thread hop per request would cost more than it saves.
"""
from __future__ import annotations

import asyncio
import json
import logging

from .emulator import Emulator
from .protocol.http import HttpRequest, HttpResponse

log = logging.getLogger("greenroom")

ADMIN_PREFIX = "/_greenroom/"
BACKGROUND_TICK_SECONDS = 0.25


class AdminError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _json_response(status: int, document) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json"}, json.dumps(document).encode())


class Admin:
    """``GET health``, ``POST reset``, ``GET/POST clock``, ``GET/POST delays``."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    def handle(self, method: str, path: str, body: bytes) -> HttpResponse:
        route = getattr(self, f"{method.lower()}_{path.strip('/').replace('/', '_').replace('-', '_')}", None)
        if route is None:
            raise AdminError(404, f"No admin route {method} {ADMIN_PREFIX}{path}")
        try:
            document = json.loads(body) if body.strip() else {}
        except ValueError:
            raise AdminError(400, "The request body is not valid JSON") from None
        if not isinstance(document, dict):
            raise AdminError(400, "The request body must be a JSON object")
        return _json_response(200, route(document))

    def get_health(self, _):
        return self.emulator.health()

    def post_reset(self, _):
        self.emulator.reset()
        return {"reset": True}

    def get_clock(self, _):
        return self.emulator.clock.describe()

    def post_clock(self, document):
        """One of ``{"advance": seconds}``, ``{"set": epoch_seconds}``, ``{"mode": "real"|"manual"}``."""
        clock = self.emulator.clock
        try:
            if "advance" in document:
                clock.advance(float(document["advance"]))
            elif "set" in document:
                clock.set(float(document["set"]))
            elif document.get("mode") == "manual":
                clock.freeze()
            elif document.get("mode") == "real":
                clock.use_real_time()
            else:
                raise AdminError(400, 'Send {"advance": s}, {"set": epoch} or {"mode": "real"|"manual"}')
        except (TypeError, ValueError) as error:
            raise AdminError(400, f"Invalid clock change: {error}") from None
        self.emulator.apply_due_transitions()
        return clock.describe()

    def get_delays(self, _):
        return self.emulator.delays.describe()

    def post_delays(self, document):
        """``{"name": seconds, ...}``: override lifecycle delays (names from GET delays)."""
        known = self.emulator.delays.describe()
        for name, seconds in document.items():
            if name not in known:
                raise AdminError(400, f"Unknown delay {name}; known: {', '.join(known)}")
            try:
                self.emulator.delays.set(name, float(seconds))
            except (TypeError, ValueError) as error:
                raise AdminError(400, f"Invalid delay {name}: {error}") from None
        return self.emulator.delays.describe()


class App:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.admin = Admin(emulator)
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
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            if raw_path.startswith(ADMIN_PREFIX):
                response = self.admin.handle(scope["method"], raw_path[len(ADMIN_PREFIX):], bytes(body))
            else:
                response = self.emulator.handle(HttpRequest(
                    method=scope["method"],
                    raw_path=raw_path,
                    query_string=scope["query_string"].decode("latin-1"),
                    headers=headers,
                    body=bytes(body),
                    scheme=scope.get("scheme", "http"),
                ))
        except AdminError as error:
            response = _json_response(error.status, {"message": str(error)})
        except Exception:
            log.exception("unhandled error for %s %s", scope["method"], raw_path)
            response = _json_response(500, {"message": "Internal error in greenroom"})
        await _send(send, response)


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
