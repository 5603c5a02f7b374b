"""Domain events inside one service: a module says what happened (``events.publish(...)``) and
the modules that care subscribe to it, so the one that publishes needs not know them.

Handlers run at once, in the publisher's transaction, in the order they subscribed (modules
subscribe when they are imported; a service's ``MODULES`` are all imported before any request).
"""
from __future__ import annotations

from typing import Any, Callable


class Events:
    """``events = Events("stage.occupied", ...)``; ``@events.subscribe("stage.occupied")`` on a
    handler; ``events.publish("stage.occupied", env, stage_id)``. Unknown names fail at once."""

    def __init__(self, *names: str):
        self._handlers: dict[str, list[Callable[..., None]]] = {name: [] for name in names}

    def subscribe(self, name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
        handlers = self._handlers[name]

        def register(handler: Callable[..., None]) -> Callable[..., None]:
            handlers.append(handler)
            return handler

        return register

    def publish(self, name: str, *args: Any) -> None:
        for handler in self._handlers[name]:
            handler(*args)
