"""Errors a handler raises by the model's name for them; the serializer finds the shape."""
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


def not_found(message: str, **fields) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, **fields)


class NotImplementedOperation(ServiceError):
    def __init__(self, service: str, operation: str):
        super().__init__(
            "NotImplemented",
            f"greenroom does not implement {service} {operation} yet",
            status=501,
        )
