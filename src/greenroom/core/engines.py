"""What a process keeps beside a store, one object per SQLAlchemy engine."""
from __future__ import annotations

import threading
import weakref
from typing import Any, Callable


class PerEngine:
    """One object per store (SQLAlchemy engine), made on first use by ``factory(engine)``: what
    a process keeps beside a store (its notifier, KVS's media bytes)."""

    def __init__(self, factory: Callable[[Any], Any]):
        self._factory = factory
        self._objects: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, conn_or_engine):
        engine = getattr(conn_or_engine, "engine", conn_or_engine)
        with self._lock:
            found = self._objects.get(engine)
            if found is None:
                found = self._objects[engine] = self._factory(engine)
            return found
