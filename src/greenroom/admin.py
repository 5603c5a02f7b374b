"""The admin API: ``GET health``, ``POST reset``, ``GET/POST clock``, ``GET/POST delays``."""
from __future__ import annotations

from .core.routes import HttpError, http_route


@http_route("GET", "/_greenroom/health")
def health(emulator, request):
    return emulator.health()


@http_route("POST", "/_greenroom/reset")
def reset(emulator, request):
    emulator.reset()
    return {"reset": True}


@http_route("GET", "/_greenroom/clock")
def read_clock(emulator, request):
    return emulator.clock.describe()


@http_route("POST", "/_greenroom/clock")
def change_clock(emulator, request):
    """One of ``{"advance": seconds}``, ``{"set": epoch_seconds}``, ``{"mode": "real"|"manual"}``."""
    document, clock = request.json_object(), emulator.clock
    if len(document) != 1:
        raise HttpError(400, 'Send exactly one of {"advance": s}, {"set": epoch}, {"mode": "real"|"manual"}')
    try:
        if "advance" in document:
            clock.advance(float(document["advance"]))
        elif "set" in document:
            clock.set(float(document["set"]))
        elif document.get("mode") == "manual":
            clock.freeze()
        elif document.get("mode") == "real":
            clock.use_real_time()
        else:
            raise HttpError(400, 'Send {"advance": s}, {"set": epoch} or {"mode": "real"|"manual"}')
    except (TypeError, ValueError, OverflowError) as error:
        raise HttpError(400, f"Invalid clock change: {error}") from None
    emulator.apply_due_transitions()
    return clock.describe()


@http_route("GET", "/_greenroom/delays")
def read_delays(emulator, request):
    return emulator.delays.describe()


@http_route("POST", "/_greenroom/delays")
def change_delays(emulator, request):
    """``{"name": seconds, ...}``: override lifecycle delays (names from GET delays)."""
    try:
        emulator.delays.update(request.json_object())
    except (TypeError, ValueError, OverflowError) as error:
        raise HttpError(400, f"Invalid delays: {error}") from None
    return emulator.delays.describe()
