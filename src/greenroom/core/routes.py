"""HTTP routes that no model describes: the admin API under /_greenroom/ and what services add
beside their model operations (client-side stand-ins, media endpoints).

A handler is ``handler(emulator, request, **path_params)`` and returns a JSON-able mapping
(sent as 200) or an ``HttpResponse``; it raises ``HttpError`` for a JSON error of its own, or a
``ServiceError`` to answer in a service's error shape.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class HttpRoute:
    method: str
    template: str
    pattern: re.Pattern
    handler: Callable


ROUTES: list[HttpRoute] = []


def http_route(method: str, template: str):
    """Register a handler for ``method`` and a path template such as ``/_greenroom/x/{id}``."""
    pattern = re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)))

    def register(handler: Callable) -> Callable:
        if any(r.method == method and r.template == template for r in ROUTES):
            raise ValueError(f"{method} {template} has two handlers")
        ROUTES.append(HttpRoute(method.upper(), template, pattern, handler))
        return handler

    return register


def find(method: str, raw_path: str) -> tuple[HttpRoute, dict[str, str]] | None:
    """The route for this request; None if no template matches the path at all."""
    path_matched = False
    for route in ROUTES:
        found = route.pattern.fullmatch(raw_path)
        if found is None:
            continue
        path_matched = True
        if route.method == method:
            return route, {name: unquote(value) for name, value in found.groupdict().items()}
    if path_matched:
        raise HttpError(405, f"{method} is not allowed on {raw_path}")
    return None
