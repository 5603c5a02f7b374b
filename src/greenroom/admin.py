"""The admin API: ``GET /`` (where things are), ``GET requests`` (the request log; WebSocket
``requests/live`` follows it), ``GET health``, ``POST reset``, ``GET/POST clock``, ``GET/POST delays``, and
the ``echo`` WebSocket."""
from __future__ import annotations

import asyncio
import json

from .core import notify, public_url
from .core.requestlog import json_entry
from .core.routes import HttpError, http_route, websocket_route


@http_route("GET", "/")
def root(emulator, request):
    """Where to look: a browser or a curl at greenroom's root finds the console and health."""
    from . import __version__
    return {"greenroom": __version__, "console": public_url.base_url(request) + "/_greenroom/console",
            "health": public_url.base_url(request) + "/_greenroom/health"}


@http_route("GET", "/_greenroom/requests")
def recent_requests(emulator, request):
    """The last requests the server answered, oldest first: ``?after=<id>`` for newer ones only."""
    try:
        after = int(request.query().get("after", ["0"])[0])
    except ValueError:
        raise HttpError(400, "after must be a request id (an integer)") from None
    return {"requests": emulator.requests.entries(after)}


@websocket_route("/_greenroom/requests/live")
async def follow_requests(emulator, socket):
    """``greenroom logs``: each request the server answers, as one JSON text message (``id``
    and the fields of ``--log-format json``), pushed when it is logged. ``?after=<id>`` starts
    after that request, ``?last=N`` with the last N kept; default: only new ones."""
    query = {name: values[0] for name, values in socket.request.query().items()}
    entries = emulator.requests.entries()
    try:
        if "after" in query:
            after = int(query["after"])
        elif "last" in query:
            last = int(query["last"])
            after = entries[-last - 1]["id"] if 0 <= last < len(entries) else (0 if last >= 0 else None)
        else:
            after = entries[-1]["id"] if entries else 0
    except ValueError:
        after = None
    if after is None:
        raise HttpError(400, "after must be a request id and last a count (integers >= 0)")
    await socket.accept(None)
    wake = emulator.store.notifier.wakeup(notify.REQUESTS)
    gone = asyncio.ensure_future(_drain(socket))  # ends when the client closes
    try:
        while not gone.done():
            wake.clear()
            for logged in emulator.requests.entries(after):
                await socket.send_json({"id": logged["id"], **json_entry(logged)})
                after = logged["id"]
            waiting = asyncio.ensure_future(wake.wait())
            await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
    finally:
        wake.close()
        gone.cancel()


async def _drain(socket) -> None:
    async for _ in socket:
        pass


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


@websocket_route("/_greenroom/echo")
async def echo(emulator, socket):
    """A WebSocket to check a client's ws/wss setup (CA trust, proxies, subprotocols, SigV4
    presigning) against greenroom: it accepts the first subprotocol offered (echoed, as IVS
    echoes its participant token), first sends who it sees (``account``, ``region``,
    ``subprotocol``, ``url``: the public base URL), then echoes every message; a text message
    ``{"close": code, "reason": "..."}`` makes it close with that code."""
    caller = emulator.identify(socket.request)
    await socket.accept(socket.subprotocols[0] if socket.subprotocols else None)
    await socket.send_json({"account": caller.account, "region": caller.region,
                            "subprotocol": socket.subprotocol, "url": public_url.base_url(socket.request)})
    async for message in socket:
        command = _close_command(message)
        if command is not None:
            await socket.close(*command)
            return
        await socket.send(message)


def _close_command(message) -> tuple[int, str] | None:
    if not isinstance(message, str) or not message.startswith("{"):
        return None
    try:
        document = json.loads(message)
    except ValueError:
        return None
    code = document.get("close") if isinstance(document, dict) else None
    if not isinstance(code, int) or not (code == 1000 or 3000 <= code <= 4999):
        return None
    return code, str(document.get("reason", ""))
