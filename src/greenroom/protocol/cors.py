"""CORS for browser clients (the AWS SDK for JavaScript in a page, hls.js/dash.js fetching
segments): applied once, by the server, to every answer to a request that carries ``Origin``; no
route or handler deals with it.

- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) on any path is
  answered 200 at once, allowing the usual methods and the request headers AWS clients send
  (``authorization``, ``content-type``, ``range``, ``x-amz-*``, ``x-amzn-*``, ``x-stages-*``,
  ``amz-sdk-*``); a requested header outside those is left out, so the browser refuses it as it
  would against AWS.
- Every other answer to a request with ``Origin``, errors included, carries
  ``Access-Control-Allow-Origin: *`` and ``Access-Control-Expose-Headers`` naming the AWS headers
  a client reads (request id, error type, ``Location``, ``Link``, ``ETag``, and every response
  header the models describe). [inferred] ``*`` as AWS's API endpoints send it (the IVS
  Real-Time model even lists ``Access-Control-Allow-Origin`` among StartParticipantReplication's
  output headers); AWS clients make no credentialed requests, which ``*`` would not allow.
- A request without ``Origin`` is not a CORS request (browsers send ``Origin`` on every
  cross-origin fetch, preflighted or not), so its answer goes without them: SDKs and tools never
  read them, and a server checks every header it sends (uvicorn: two regular expressions each).
  A ``GET`` or ``HEAD`` answer without them says ``Vary: Origin``, so a browser's cache does not
  hand it to a later cross-origin fetch of the same URL. [inferred] as S3 does for its CORS.
  Operations whose model declares CORS headers as output members set them in their handlers.
"""
from __future__ import annotations

import functools
import re

ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADER = re.compile(r"authorization|content-type|content-md5|range|cache-control|if-none-match"
                            r"|x-amz-.+|x-amzn-.+|x-stages-.+|amz-sdk-.+|x-api-key")
MAX_AGE_SECONDS = "7200"  # Chromium's ceiling
ALWAYS_EXPOSED = ("x-amzn-RequestId", "x-amzn-ErrorType", "x-amzn-ErrorMessage", "x-amz-ErrorType",
                  "x-amz-request-id", "x-amz-id-2", "x-amz-apigw-id", "Location", "Link", "ETag", "Date",
                  "Content-Length", "Content-Range", "Accept-Ranges")


def is_preflight(method: str, headers: dict[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight_headers(headers: dict[str, str]) -> dict[str, str]:
    """The answer's headers for a preflight whose request headers are ``headers`` (lower-case names)."""
    requested = [name.strip().lower() for name in headers.get("access-control-request-headers", "").split(",")]
    allowed = [name for name in requested if name and ALLOWED_HEADER.fullmatch(name)]
    answer = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Max-Age": MAX_AGE_SECONDS,
    }
    if allowed:
        answer["Access-Control-Allow-Headers"] = ", ".join(allowed)
    if headers.get("access-control-request-private-network", "").lower() == "true":
        # Chromium's Private Network Access: a public page may reach greenroom on this machine.
        answer["Access-Control-Allow-Private-Network"] = "true"
    return answer


def add_to(headers: list[tuple[bytes, bytes]], origin: bool, method: str) -> list[tuple[bytes, bytes]]:
    """Append to ``headers`` (ASGI pairs) of the answer to a ``method`` request, which carried
    ``Origin`` or not: with it, the CORS headers ``headers`` does not already have (a handler
    that sets one keeps its own: a header repeated with two values would make browsers refuse);
    without it, ``Vary: Origin`` on a GET or HEAD answer that has no Vary. Returns ``headers``."""
    if not origin:
        if method in ("GET", "HEAD") and not any(name.lower() == b"vary" for name, _ in headers):
            headers.append((b"vary", b"Origin"))
        return headers
    for name, _ in headers:
        if name[:15].lower() == b"access-control-":
            present = {name.lower() for name, _ in headers}
            headers += [(name, value) for name, value in _RESPONSE_HEADERS() if name not in present]
            return headers
    headers += _RESPONSE_HEADERS()  # the common case: none of them set
    return headers


def exposed_headers() -> str:
    """The value of ``Access-Control-Expose-Headers`` on CORS answers."""
    return _RESPONSE_HEADERS()[1][1].decode("latin-1")


@functools.cache
def _RESPONSE_HEADERS() -> tuple[tuple[bytes, bytes], ...]:
    exposed = dict.fromkeys(ALWAYS_EXPOSED)
    exposed.update(dict.fromkeys(_model_response_headers()))
    return ((b"access-control-allow-origin", b"*"),
            (b"access-control-expose-headers", ", ".join(exposed).encode("latin-1")))


def _model_response_headers() -> list[str]:
    """Every header an emulated operation's output puts in the response (botocore models)."""
    from . import models
    names: list[str] = []
    for service in models.EMULATED_SERVICES:
        model = models.service_model(service)
        for operation in model.operation_names:
            output = model.operation_model(operation).output_shape
            for member in (output.members.values() if output is not None else ()):
                name = member.serialization.get("name")
                if member.serialization.get("location") == "header" and name \
                        and not name.lower().startswith("access-control-"):
                    names.append(name)
    return names
