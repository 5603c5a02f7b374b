"""Client-token idempotency, one decorator for every service.

A retry with the same token and the same parameters answers what the first request answered
without doing anything again; the same token with other parameters is the service's own error.
Tokens are kept per account, region, service and operation [inferred: AWS's usual rule].
"""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Callable

from .context import RequestContext
from .errors import ServiceError

CLIENT_TOKEN = "client-token"

Handler = Callable[[RequestContext, dict], dict]


def idempotent(token_member: str, reused: Callable[[str], ServiceError], *,
               replay: Callable[[RequestContext, dict], dict | None] | None = None
               ) -> Callable[[Handler], Handler]:
    """``@idempotent("ClientToken", errors.Conflict)`` on a handler.

    ``reused(message)`` is the error for a token used again with other parameters.
    ``replay(ctx, first_response)`` answers a retry from what the first one made (the resource's
    state now); None means that is gone, and the request runs again under the same token.
    Without it, a retry gets the first response as it was.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(ctx: RequestContext, req: dict) -> dict:
            token = req.get(token_member)
            if not token:
                return handler(ctx, req)
            record_id = f"{ctx.service}/{ctx.operation}/{token}"
            fingerprint = _fingerprint({key: value for key, value in req.items() if key != token_member})
            record = ctx.resources.get(CLIENT_TOKEN, record_id)
            if record is not None:
                if record["fingerprint"] != fingerprint:
                    raise reused(f"The client token {token} was already used with different parameters "
                                 f"for {ctx.operation}.")
                answer = replay(ctx, record["response"]) if replay else record["response"]
                if answer is not None:
                    return answer
                ctx.resources.delete(CLIENT_TOKEN, record_id)
            response = handler(ctx, req) or {}
            ctx.resources.insert(CLIENT_TOKEN, record_id, {
                "fingerprint": fingerprint, "response": _jsonable(response), "createdAt": ctx.now,
            })
            return response

        return wrapper

    return decorate


def current(kind: str, key: Callable[[dict], str],
            describe: Callable[[RequestContext, dict], dict]) -> Callable[[RequestContext, dict], dict | None]:
    """A ``replay`` answering with the resource the first request made, as it is now:
    ``key(first_response)`` is its id; None (run again) when it is gone."""

    def replay(ctx: RequestContext, first: dict) -> dict | None:
        document = ctx.resources.get(kind, key(first))
        return describe(ctx, document) if document is not None else None

    return replay


def _fingerprint(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
