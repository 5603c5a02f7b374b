"""One WebSocket connection as a WebSocket route's handler sees it (see core.routes), over the
ASGI WebSocket messages the server (uvicorn) exchanges with the client.

Ping/pong is the server's: uvicorn answers a client's ping with a pong and pings idle clients
itself; a handler never sees control frames.
"""
from __future__ import annotations

import json

from .http import HttpRequest

# RFC 6455 section 7.4.1 close codes a handler is likely to use.
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


class WebSocketClosed(Exception):
    """The connection is closed (by the client, or already by the handler)."""

    def __init__(self, code: int, reason: str = ""):
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class WebSocket:
    """``request`` is the upgrade request (headers, query string, ``base_url``; SigV4 presigned
    queries identify the caller with ``emulator.identify``); ``subprotocols`` the ones the client
    offered, in its order of preference. Before ``accept`` a handler may refuse with ``deny``."""

    def __init__(self, request: HttpRequest, subprotocols: list[str], receive, send):
        self.request = request
        self.subprotocols = subprotocols
        self._receive = receive
        self._send = send
        self.accepted = False
        self.subprotocol: str | None = None
        self.close_code: int | None = None    # set once closed, by either side
        self.close_reason = ""
        self.denied_status: int | None = None

    async def accept(self, subprotocol: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Complete the handshake; ``subprotocol`` must be one the client offered (it is echoed
        in ``Sec-WebSocket-Protocol``)."""
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(f"the client did not offer the subprotocol {subprotocol!r}")
        message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            message["headers"] = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                                  for name, value in headers.items()]
        await self._send(message)
        self.accepted, self.subprotocol = True, subprotocol

    async def deny(self, status: int, body: bytes, content_type: str = "application/json",
                   headers: dict[str, str] | None = None) -> None:
        """Refuse the handshake with an HTTP answer (before ``accept`` only)."""
        if self.accepted:
            raise RuntimeError("the handshake is already accepted: close the WebSocket instead")
        pairs = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        pairs += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()]
        await self._send({"type": "websocket.http.response.start", "status": status, "headers": pairs})
        await self._send({"type": "websocket.http.response.body", "body": body})
        self.denied_status = status
        self.close_code = 1006  # no close frame: the connection never opened

    async def receive(self) -> str | bytes:
        """The next message (text as str, binary as bytes); ``WebSocketClosed`` once closed."""
        if self.close_code is not None:
            raise WebSocketClosed(self.close_code, self.close_reason)
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.close_code = message.get("code", 1005)
            self.close_reason = message.get("reason") or ""
            raise WebSocketClosed(self.close_code, self.close_reason)
        text = message.get("text")
        return text if text is not None else message.get("bytes", b"")

    def __aiter__(self):
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self.receive()
        except WebSocketClosed:
            raise StopAsyncIteration from None

    async def send(self, data: str | bytes) -> None:
        if self.close_code is not None:
            raise WebSocketClosed(self.close_code, self.close_reason)
        key = "text" if isinstance(data, str) else "bytes"
        try:
            await self._send({"type": "websocket.send", key: data})
        except OSError:  # the server's "client disconnected"
            self.close_code = 1006
            raise WebSocketClosed(1006, "the connection is gone") from None

    async def send_json(self, document) -> None:
        await self.send(json.dumps(document, separators=(",", ":")))

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close with ``code`` (1000, or 3000-4999 for an application's own); idempotent."""
        if self.close_code is not None:
            return
        reason = reason.encode()[:123].decode(errors="ignore")  # a close frame holds 123 bytes of reason
        self.close_code, self.close_reason = code, reason
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:
            pass  # the client is gone already: nothing to tell it
