"""What clients called: the last requests kept in memory (``GET /_greenroom/requests``, the
console) and the access-log line written for each, as text or one JSON object a line."""
from __future__ import annotations

import collections
import itertools
import json
import threading
import time

from ..protocol.http import HttpRequest, HttpResponse

DEFAULT_KEEP = 500


def entry(request: HttpRequest, response: HttpResponse, started: float) -> dict:
    """One request as the log keeps it; ``started`` is its ``time.perf_counter()``."""
    service, _, rest = response.label.partition(" ")
    operation = rest.split(" ", 1)[0] if rest else "-"
    # "id" is set by RequestLog.record (first, as the request log has always shown it).
    return {"id": None, "time": time.time(), "method": request.method, "path": request.raw_path,
            "service": service, "operation": operation, "label": response.label, "status": response.status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "error": error_message(response) if response.status >= 400 else None}


def error_message(response: HttpResponse) -> str | None:
    """The message of an error answer, whichever member its shape names it by."""
    if not isinstance(response.body, (bytes, bytearray)) or not response.body:
        return None
    try:
        document = json.loads(response.body)
    except ValueError:
        return response.body[:200].decode("utf-8", "replace")
    if not isinstance(document, dict):
        return None
    for member in ("message", "Message", "exceptionMessage", "errorMessage"):
        if isinstance(document.get(member), str):
            return document[member]
    return None


class RequestLog:
    """The last ``keep`` requests, oldest first; ``id`` grows, so a reader asks for what is new."""

    def __init__(self, keep: int = DEFAULT_KEEP, on_record=None):
        self._entries: collections.deque[dict] = collections.deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._on_record = on_record  # called after each record (wakes live readers)

    def record(self, logged: dict) -> None:
        """Keep ``logged`` (an ``entry``), numbered: its ``id`` is set in place."""
        with self._lock:
            logged["id"] = next(self._ids)
            self._entries.append(logged)
        if self._on_record is not None:
            self._on_record()

    def entries(self, after: int = 0) -> list[dict]:
        with self._lock:
            return [logged for logged in self._entries if logged["id"] > after]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def text_line(logged: dict) -> str:
    return (f"{_local_stamp(int(logged['time']))} {logged['method']} {logged['path']} {logged['label']} "
            f"{logged['status']} {logged['duration_ms']:.1f}ms\n")


_last_stamp: tuple[int, str] = (-1, "")  # (epoch second, its local time): most lines share a second


def _local_stamp(second: int) -> str:
    global _last_stamp
    last = _last_stamp
    if last[0] != second:
        last = _last_stamp = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return last[1]


def json_line(logged: dict) -> str:
    return json.dumps(json_entry(logged)) + "\n"


def json_entry(logged: dict) -> dict:
    """An entry as machine-readable logs show it (``--log-format json``, ``greenroom logs``)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(logged["time"])) + f"{logged['time'] % 1:.3f}"[1:] + "Z"
    return {**{k: v for k, v in logged.items() if k not in ("id", "label")}, "time": stamp}
