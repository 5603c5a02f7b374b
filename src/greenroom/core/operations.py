"""The registry of operation handlers: one function per operation, in its resource's module."""
from __future__ import annotations

from typing import Callable

from ..protocol import models

HANDLERS: dict[tuple[str, str], Callable] = {}
# Operations that only read: run without BEGIN/COMMIT (core.store.Store.reading refuses a write).
READ_ONLY: set[tuple[str, str]] = set()


def operation(service: str, name: str, *, read_only: bool = False):
    """Register ``handler(ctx, request) -> output`` for an operation of a loaded model;
    ``read_only``: the handler never writes (it runs outside a transaction).

    Checked at import: a handler must name a real operation of an emulated service.
    """
    if service not in models.EMULATED_SERVICES:
        raise ValueError(f"{service} is not an emulated service")
    if name not in models.service_model(service).operation_names:
        raise ValueError(f"{service} has no operation {name}")

    def register(handler: Callable) -> Callable:
        if (service, name) in HANDLERS:
            raise ValueError(f"{service} {name} has two handlers")
        HANDLERS[(service, name)] = handler
        if read_only:
            READ_ONLY.add((service, name))
        return handler

    return register


def coverage() -> dict[str, dict]:
    """Per service: implemented and total operation counts, and what is still missing."""
    report = {}
    for service in models.EMULATED_SERVICES:
        names = models.service_model(service).operation_names
        missing = [name for name in names if (service, name) not in HANDLERS]
        report[service] = {
            "implemented": len(names) - len(missing),
            "total": len(names),
            "missing": missing,
        }
    return report
