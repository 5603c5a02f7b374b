"""What a service's wire does beyond its model, registered by the service package itself:
protocol/ knows no service by name. Two kinds, one registration function each:

- ``claim_routes(service, claim)``: when routes of several services match a request equally
  well (classic IVS and IVS Real-Time share a signing name and ``/tags/{resourceArn}``),
  ``claim(uri_params)`` says whether the request is this service's (True), another's (False)
  or cannot tell (None). Undecided, the emulated service answers.
- ``error_headers(service, headers)``: ``headers(code)`` adds headers to every error the
  service answers (Kinesis Video sends ``x-amz-ErrorType`` beside ``x-amzn-ErrorType``).
"""
from __future__ import annotations

from typing import Callable

RouteClaim = Callable[[dict[str, str]], "bool | None"]

_claims: dict[str, RouteClaim] = {}
_error_headers: dict[str, Callable[[str], dict[str, str]]] = {}


def claim_routes(service: str, claim: RouteClaim) -> None:
    _claims[service] = claim


def error_headers(service: str, headers: Callable[[str], dict[str, str]]) -> None:
    _error_headers[service] = headers


def claim(service: str, uri_params: dict[str, str]) -> bool | None:
    found = _claims.get(service)
    return found(uri_params) if found is not None else None


def extra_error_headers(service: str, code: str) -> dict[str, str]:
    found = _error_headers.get(service)
    return found(code) if found is not None else {}
