"""The plain HTTP exchange the engine works on, whoever carries it (ASGI server or mock)."""
from __future__ import annotations

import json

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .errors import HttpError
from .restjson import load_json
from .validation import storable


@dataclass
class HttpRequest:
    method: str
    raw_path: str                 # still percent-encoded: labels may contain %2F
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # read with lower-case names
    body: bytes = b""
    scheme: str = "http"
    host: str = ""                # the Host header (or the URL's host, in process)
    client: str = ""              # the peer's address (trusted proxies are recognised by it)
    server: tuple | None = None   # (address, port) of the listener the connection reached
    public_urls: Any = None       # core.public_url.PublicUrls of the emulator (None: defaults)

    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True) if self.query_string else {}

    def json_object(self) -> dict:
        """The body as a JSON object ({} when empty), for the routes no model describes."""
        if not self.body.strip():
            return {}
        try:
            document = load_json(self.body)
        except ValueError:
            raise HttpError(400, "The request body is not valid JSON") from None
        if not isinstance(document, dict):
            raise HttpError(400, "The request body must be a JSON object")
        if not storable(document):
            raise HttpError(400, "The request body must hold only Unicode scalar values other than NUL")
        return document


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: Any = b""               # bytes, or an iterable of bytes for streamed bodies
    label: str = "-"              # what answered ("kinesisvideo DescribeStream"), for the access log

    def json_body(self):
        return json.loads(self.body)
