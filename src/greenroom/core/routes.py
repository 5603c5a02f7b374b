"""HTTP routes that no model describes: the admin API under /_greenroom/ and what services add
beside their model operations (client-side stand-ins, media endpoints).

A handler is ``handler(emulator, request, **path_params)`` and returns a JSON-able mapping
(sent as 200) or an ``HttpResponse``; it raises ``HttpError`` for a JSON error of its own, or a
``ServiceError`` to answer in a service's error shape.

Streaming routes (``@http_route("POST", "/putMedia", streaming=True)``) are for uploads that
must be read as they arrive (a PutMedia body is a live, chunked, never-ending MKV). The server
dispatches them before it reads any body: the handler is a coroutine
``async handler(emulator, request, body, **path_params)`` where ``request.body`` is empty and
``body`` is an async iterator of the body's chunks (it raises ``ClientDisconnected`` if the client
goes away mid-body). It returns an ``HttpResponse`` whose body may be an async iterator of bytes,
sent chunk by chunk while the request body is still being read; it answers errors itself (an
``HttpError`` it raises becomes a JSON error). Only the HTTP server has streaming routes: the
in-process mock never sees them (no botocore operation is one).

WebSocket routes (``@websocket_route("/_greenroom/echo")``) answer upgrade requests: the handler
is a coroutine ``async handler(emulator, socket, **path_params)`` with a
``protocol.websocket.WebSocket``: it chooses one of ``socket.subprotocols`` (or none) in
``await socket.accept(subprotocol)`` (or refuses with ``raise HttpError(status, message)``
before accepting), then ``receive()``/``send()``/``async for message in socket``, and
``close(code, reason)``. Returning closes with 1000; an ``HttpError`` after accepting closes
with 1008 and its message, any other exception with 1011. A path with no WebSocket route is
refused with 404 (no handshake). Only the HTTP server has them.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote

from ..protocol.errors import HttpError  # noqa: F401  (routes raise it as core.routes.HttpError)


class ClientDisconnected(Exception):
    """The client closed the connection before its request body ended (streaming routes)."""


@dataclass(frozen=True)
class HttpRoute:
    method: str
    template: str
    handler: Callable
    literal_prefix: str  # the template up to its first {label}

    @functools.cached_property
    def pattern(self) -> re.Pattern:
        # {name} is one path segment; {name+} (last) the rest of the path, slashes included.
        # Compiled when the route is first tried, not when the server starts.
        return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)",
                                 re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.template))))


ROUTES: list[HttpRoute] = []
STREAMING_ROUTES: list[HttpRoute] = []
WEBSOCKET_ROUTES: list[HttpRoute] = []   # method "WEBSOCKET"


def http_route(method: str, template: str, *, streaming: bool = False):
    """Register a handler for ``method`` and a path template such as ``/_greenroom/x/{id}``
    (``{key+}``, last, takes the rest of the path);
    ``streaming=True`` for an async handler that reads the body as it arrives (see above)."""
    return _register(STREAMING_ROUTES if streaming else ROUTES, method.upper(), template)


def websocket_route(template: str):
    """Register ``async handler(emulator, socket, **path_params)`` for WebSocket upgrades on a
    path template such as ``/_greenroom/ivs-realtime/events/{id}`` (see above)."""
    return _register(WEBSOCKET_ROUTES, "WEBSOCKET", template)


def _register(registry: list[HttpRoute], method: str, template: str):
    labels = re.findall(r"\{(\w+)\+?\}", template)
    if len(set(labels)) != len(labels):  # what compiling `pattern` would refuse, said at import
        raise ValueError(f"{method} {template} names a label twice")

    def register(handler: Callable) -> Callable:
        if any(r.method == method and r.template == template for r in ROUTES + STREAMING_ROUTES + WEBSOCKET_ROUTES):
            raise ValueError(f"{method} {template} has two handlers")
        registry.append(HttpRoute(method, template, handler, template.split("{", 1)[0]))
        _BY_FIRST_SEGMENT.clear()  # rebuilt on the next find()
        return handler

    return register


def label(route: HttpRoute) -> str:
    """"service operation" for the request log: the package that registered the handler
    (``greenroom`` for the admin API) and the handler's name in the models' CamelCase."""
    module = route.handler.__module__.split(".")
    service = module[2] if module[:2] == ["greenroom", "services"] and len(module) > 2 else "greenroom"
    operation = "".join(part.capitalize() for part in route.handler.__name__.strip("_").split("_"))
    return f"{service} {operation}"


def find_websocket(raw_path: str) -> tuple[HttpRoute, dict[str, str]] | None:
    """The WebSocket route for an upgrade request's path, if any."""
    for route in WEBSOCKET_ROUTES:
        found = route.pattern.fullmatch(raw_path)
        if found is not None:
            return route, {name: unquote(value) for name, value in found.groupdict().items()}
    return None


def find_streaming(method: str, raw_path: str) -> tuple[HttpRoute, dict[str, str]] | None:
    """The streaming route for this request, if any (others fall through to ``find``)."""
    for route in STREAMING_ROUTES:
        if route.method == method:
            found = route.pattern.fullmatch(raw_path)
            if found is not None:
                return route, {name: unquote(value) for name, value in found.groupdict().items()}
    return None


# ROUTES by the first segment of their template ("_greenroom", "hls"; "" for "/", "{" for a
# template starting with a label): a model request (POST /describeStream) tries none of them.
_BY_FIRST_SEGMENT: dict[str, list[HttpRoute]] = {}


def _first_segment(path: str) -> str:
    first = path[1:].split("/", 1)[0]
    return "{" if first.startswith("{") else first


def find(method: str, raw_path: str) -> tuple[HttpRoute, dict[str, str]] | None:
    """The route for this request; None if no template matches the path at all."""
    if not _BY_FIRST_SEGMENT:
        for route in ROUTES:
            _BY_FIRST_SEGMENT.setdefault(_first_segment(route.template), []).append(route)
        _BY_FIRST_SEGMENT.setdefault("{", [])
    candidates = _BY_FIRST_SEGMENT.get(_first_segment(raw_path))
    if _BY_FIRST_SEGMENT["{"]:  # in registration order, as they would be tried in one list
        candidates = [route for route in ROUTES if route in (candidates or ()) or route in _BY_FIRST_SEGMENT["{"]]
    if not candidates:
        return None
    path_matched = False
    for route in candidates:
        if not raw_path.startswith(route.literal_prefix):
            continue
        found = route.pattern.fullmatch(raw_path)
        if found is None:
            continue
        path_matched = True
        if route.method == method:
            return route, {name: unquote(value) for name, value in found.groupdict().items()}
    if path_matched:
        raise HttpError(405, f"{method} is not allowed on {raw_path}")
    return None
