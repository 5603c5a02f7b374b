"""Errors a handler raises by the model's name for them; the serializer finds the shape.

Each service package declares its errors once, from its models (``Errors``), and raises them
as ``errors.ResourceNotFound("message", **members)``: one signature for every error, and a
code that is not an error shape of the service's models fails at import, the way
``@operation`` fails on an unknown operation name.
"""
from __future__ import annotations

from typing import Callable

from ..protocol import models
from ..protocol.errors import ServiceError  # the wire's error; services raise it through Errors


class Errors:
    """The errors of one service package: ``Errors(("kinesisvideo", ...), "ResourceNotFoundException",
    ...)`` makes ``errors.ResourceNotFound(message, **members)`` for each shape named (the name
    without its ``Exception`` suffix). Every shape must be an error shape of one of the models
    (checked here, at import). ``members(shape, fields) -> fields`` adds what a service puts in
    every error of its own (nimble's ``code`` and ``context``)."""

    def __init__(self, services: str | tuple[str, ...], *shapes: str,
                 members: Callable[[str, dict], dict] | None = None):
        services = (services,) if isinstance(services, str) else services
        known = set()
        for service in services:
            model = models.service_model(service)
            known.update(shape.name for shape in model.error_shapes)
        unknown = [shape for shape in shapes if shape not in known]
        if unknown:
            raise ValueError(f"{', '.join(services)}: no error shape {', '.join(unknown)} in the model")
        self._members = members
        for shape in shapes:
            setattr(self, shape.removesuffix("Exception"), self._factory(shape))

    def _factory(self, shape: str) -> Callable[..., ServiceError]:
        def make(message: str, /, **fields) -> ServiceError:
            if self._members is not None:
                fields = self._members(shape, fields)
            return ServiceError(shape, message, **fields)
        make.__name__ = shape.removesuffix("Exception")
        return make


class NotImplementedOperation(ServiceError):
    def __init__(self, service: str, operation: str):
        super().__init__(
            "NotImplemented",
            f"greenroom does not implement {service} {operation} yet",
            status=501,
        )
