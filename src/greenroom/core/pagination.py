"""The one pagination helper.

Tokens are keyset cursors (the sort key of the last item returned), so items inserted or
deleted between pages neither repeat nor vanish. A token is bound to its query (operation,
account, region and filters) and signed with a key kept in the store, so it stays valid across
restarts; a token that was altered or belongs to another query is a ValidationException.
Tokens are standard base64, the alphabet every model's NextToken pattern accepts.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Callable

from ..protocol import models
from .errors import ServiceError

SIGNATURE_BYTES = 16


@dataclass
class Page:
    items: list
    next_token: str | None


class Paginator:
    def __init__(self, key: bytes):
        self._key = key

    def _digest(self, query: dict) -> str:
        canonical = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def encode(self, query: dict, position: Any) -> str:
        payload = json.dumps({"q": self._digest(query), "p": position}, separators=(",", ":")).encode()
        signature = hmac.new(self._key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
        return base64.b64encode(signature + payload).decode()

    def decode(self, query: dict, token: str, error_code: str) -> Any:
        try:
            raw = base64.b64decode(token.encode(), validate=True)
            signature, payload = raw[:SIGNATURE_BYTES], raw[SIGNATURE_BYTES:]
            expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
            if not hmac.compare_digest(signature, expected):
                raise ValueError("signature")
            content = json.loads(payload)
        except ValueError:
            raise ServiceError(error_code, "The pagination token is invalid.") from None
        if content.get("q") != self._digest(query):
            raise ServiceError(
                error_code, "The pagination token does not belong to this request's parameters."
            )
        return content["p"]

    def page(
        self,
        *,
        query: dict,
        token: str | None,
        page_size: int,
        fetch: Callable[[Any, int], list],
        error_code: str = "ValidationException",
        key: Callable[[Any], Any] | None = None,
    ) -> Page:
        """One page of results.

        ``query`` names the request (operation, scope, filters) the token is bound to;
        ``fetch(after, limit)`` returns up to ``limit`` (sort key, item) pairs whose sort key
        comes after ``after`` (None: from the start), in sort-key order. Sort keys must be
        JSON-serializable and unique. Given ``key`` (an item's sort key), ``fetch`` returns the
        items alone: a long page (a thousand rows) then makes no pair per item, and the one key
        the token needs is the page's last item's.
        """
        after = self.decode(query, token, error_code) if token else None
        rows = fetch(after, page_size + 1)
        if key is not None:
            next_token = self.encode(query, key(rows[page_size - 1])) if len(rows) > page_size else None
            return Page(rows[:page_size], next_token)
        items = [item for _, item in rows[:page_size]]
        next_token = self.encode(query, rows[page_size - 1][0]) if len(rows) > page_size else None
        return Page(items, next_token)


@functools.cache
def paginator(service: str, operation: str) -> dict:
    """The operation's pagination in the model's paginators-1.json: ``input_token``,
    ``output_token``, ``result_key`` and (most have one) ``limit_key``; for a list operation
    that file leaves out, the same read from its shapes (the token members, the one list)."""
    declared = models.loader().load_service_model(service, "paginators-1")["pagination"].get(operation)
    if declared is not None:
        return declared
    model = models.operation_model(service, operation)
    inputs, outputs = model.input_shape.members, model.output_shape.members
    names = {"input_token": next(name for name in inputs if name.lower() == "nexttoken"),
             "output_token": next(name for name in outputs if name.lower() == "nexttoken"),
             "result_key": next(name for name, shape in outputs.items() if shape.type_name == "list")}
    limit = [name for name in inputs if name.lower() == "maxresults"]
    return {**names, "limit_key": limit[0]} if limit else names
