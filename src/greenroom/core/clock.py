"""The one source of "now" (epoch seconds): real time, or a manual clock tests move."""
from __future__ import annotations

import datetime as dt
import math
import threading
import time


class Clock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._manual_time: float | None = None  # None: follow real time
        self._watchers: list = []               # called after every change (the console)

    def watch(self, callback) -> None:
        """Call ``callback()`` after each change of mode or time (quick, thread-safe)."""
        self._watchers.append(callback)

    def _changed(self) -> None:
        for callback in list(self._watchers):
            callback()

    @property
    def mode(self) -> str:
        return "real" if self._manual_time is None else "manual"

    def now(self) -> float:
        manual = self._manual_time
        return time.time() if manual is None else manual

    def set(self, epoch_seconds: float) -> None:
        """Freeze the clock at a given time (manual mode)."""
        epoch_seconds = _in_range(_finite(epoch_seconds, "the clock's time"))
        with self._lock:
            self._manual_time = epoch_seconds
        self._changed()

    def advance(self, seconds: float) -> float:
        """Move time forward; a real clock becomes manual, starting from the real now."""
        seconds = _finite(seconds, "a clock advance")
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            moved = (self._manual_time if self._manual_time is not None else time.time()) + seconds
            _in_range(_finite(moved, "the clock's time"))  # a huge advance overflows to inf
            self._manual_time = moved
        self._changed()
        return moved

    def freeze(self) -> None:
        with self._lock:
            if self._manual_time is None:
                self._manual_time = time.time()
        self._changed()

    def use_real_time(self) -> None:
        with self._lock:
            self._manual_time = None
        self._changed()

    def describe(self) -> dict:
        return {"mode": self.mode, "now": self.now()}


def _finite(value: float, what: str) -> float:
    # NaN and infinities used to be accepted ("nan" < 0 is False): "now" became NaN or inf,
    # nothing was ever due again, CreateStream failed with a 500 (int(nan)) and the admin API
    # answered invalid JSON (NaN, Infinity).
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of seconds, not {value}")
    return value


# The times a clock may show: 1970-01-01 up to (not including) 3000-01-01. Beyond, ids and ARNs
# made from "now" grow digits and timestamps a few years ahead (retention ends, expiries) leave
# what a timestamp holds. [inferred] upper bound
EARLIEST, LATEST = 0.0, 32503680000.0


def _in_range(epoch_seconds: float) -> float:
    if not EARLIEST <= epoch_seconds < LATEST:
        raise ValueError(f"the clock's time must be between {EARLIEST:.0f} (1970-01-01) and "
                         f"{LATEST:.0f} (3000-01-01) epoch seconds, not {epoch_seconds}")
    return epoch_seconds


def iso_utc_ms(epoch_seconds: float) -> str:
    """``2026-11-28T06:47:48.123Z``: how AWS writes times into files it produces (recording
    metadata, export manifests, DASH manifests)."""
    return dt.datetime.fromtimestamp(epoch_seconds, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
