"""The errors the wire layer answers with. protocol/ depends on nothing of greenroom's but
itself (core/ builds on it), so the errors it raises while routing and parsing live here;
services raise them through ``core.errors`` (``Errors``), routes through ``core.routes``."""
from __future__ import annotations


class ServiceError(Exception):
    """An error the service itself would answer with.

    ``code`` is the name of an error shape in the service's model (``ConflictException``);
    ``fields`` fills the shape's other members (e.g. nimble's ``context``).
    """

    # Positional-only: error shapes may have members named `code` or `message` (nimble's do).
    def __init__(self, code: str, message: str, /, *, status: int | None = None, **fields):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status  # only for errors no model describes (routing, 501s)
        self.fields = fields


class HttpError(Exception):
    """A JSON error of a route no model describes: ``{"message": ...}`` with this status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
