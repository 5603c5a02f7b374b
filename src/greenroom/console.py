"""The web console (``GET /_greenroom/console``): what the store holds, live, and the admin
controls, as a page greenroom serves itself (``console_static/``: plain HTML, CSS and one
script; no build step, no CDN).

Routes (beside admin.py's):
- ``GET /_greenroom/inventory``: every (account, region) with its kinds of resources and counts;
- ``GET /_greenroom/resources?account=&region=&service=``: the stored records of a service's
  resources in one (account, region), by kind (``service:kind``), in creation order;
- WebSocket ``/_greenroom/console/live``: the page sends ``{"account", "region", "service"}``;
  greenroom sends ``{"inventory", "resources", "clock", "requests"}`` at once and again only when
  one of them changed (checked every half second on the server: the page never polls);
- ``POST /_greenroom/console/kvs-hls`` ``{"account", "region", "stream"}``: a LIVE HLS session
  URL for the page's player, asked of greenroom's own Kinesis Video API as a client would;
- ``GET /_greenroom/console/hls.js``: the pinned hls.js build fetched and checked when greenroom
  is built (``vendored.py``).

Records are shown as stored (the store API's ``Resources.list``), which is what the service
describes plus its private fields [inferred: close enough to "the description as the API
returns it" for looking; the API itself stays the reference].
"""
from __future__ import annotations

import asyncio
import json
from importlib import resources as package_files

from .core.routes import HttpError, http_route, websocket_route
from .core.store import Resources
from .protocol.http import HttpRequest, HttpResponse

STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
LIVE_CHECK_SECONDS = 0.5
RECENT_REQUESTS = 50


def _static(name: str) -> bytes:
    return package_files.files("greenroom").joinpath("console_static", *name.split("/")).read_bytes()


@http_route("GET", "/_greenroom/console")
def console_page(emulator, request):
    return HttpResponse(200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
                        _static("index.html"))


@http_route("GET", "/_greenroom/console/{name}")
def console_file(emulator, request, name):
    if name == "hls.js":
        try:
            script = _static("vendor/hls.min.js")
        except FileNotFoundError:
            raise HttpError(404, "hls.js is missing: install greenroom with pip (its build fetches it) "
                                 "or run `python -m greenroom.vendored`") from None
        return HttpResponse(200, {"Content-Type": "text/javascript; charset=utf-8",
                                  "Cache-Control": "max-age=86400"}, script)
    if name not in STATIC:
        raise HttpError(404, f"No console file {name}")
    return HttpResponse(200, {"Content-Type": STATIC[name] + "; charset=utf-8", "Cache-Control": "no-cache"},
                        _static(name))


@http_route("GET", "/_greenroom/inventory")
def inventory(emulator, request):
    return {"inventory": _inventory(emulator)}


@http_route("GET", "/_greenroom/resources")
def list_resources(emulator, request):
    query = {name: values[0] for name, values in request.query().items()}
    missing = [name for name in ("account", "region", "service") if not query.get(name)]
    if missing:
        raise HttpError(400, f"Give {', '.join(missing)} in the query")
    return {"resources": _resources(emulator, query["account"], query["region"], query["service"])}


def _inventory(emulator) -> list[dict]:
    scopes: dict[tuple[str, str], dict] = {}
    for row in emulator.store.inventory():
        scope = scopes.setdefault((row["account"], row["region"]),
                                  {"account": row["account"], "region": row["region"], "kinds": {}})
        scope["kinds"][row["kind"]] = row["count"]
    return list(scopes.values())


def _resources(emulator, account: str, region: str, service: str) -> dict[str, list[dict]]:
    kinds = [row["kind"] for row in emulator.store.inventory()
             if row["account"] == account and row["region"] == region and row["kind"].startswith(service + ":")]
    with emulator.store.transaction() as conn:
        stored = Resources(conn, account, region)
        return {kind: [data for _, data in stored.list(kind)] for kind in kinds}


@websocket_route("/_greenroom/console/live")
async def live(emulator, socket):
    await socket.accept(None)
    view: dict = {}
    sent: dict = {}

    async def read_views():
        async for message in socket:
            try:
                document = json.loads(message)
            except (TypeError, ValueError):
                continue
            if isinstance(document, dict):
                view.clear()
                view.update(document)
                sent.clear()  # a new view: send everything again
                changed.set()

    changed = asyncio.Event()
    reader = asyncio.create_task(read_views())
    try:
        while not reader.done():
            emulator.apply_due_transitions()  # lifecycles move while the page looks
            state = {"inventory": _inventory(emulator), "clock": emulator.clock.describe(),
                     "requests": emulator.requests.entries()[-RECENT_REQUESTS:]}
            if view.get("account") and view.get("region") and view.get("service"):
                state["resources"] = _resources(emulator, view["account"], view["region"], view["service"])
                if view["service"] == "ivs-realtime":
                    try:
                        state["resources"]["stages"] = _stages(emulator, view["account"], view["region"],
                                                               state["resources"].get("ivs-realtime:stage", []))
                    except HttpError as error:
                        state["resources"]["stages"] = {"error": error.message}
                state["view"] = dict(view)
            news = {name: value for name, value in state.items() if sent.get(name) != value}
            if news:
                if "resources" in news:
                    news["view"] = state["view"]  # which view these resources are of
                await socket.send_json(news)
                sent.update(news)
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), LIVE_CHECK_SECONDS)
            except asyncio.TimeoutError:
                pass
    finally:
        reader.cancel()


@http_route("POST", "/_greenroom/console/kvs-hls")
def kvs_hls(emulator, request):
    """GetDataEndpoint then GetHLSStreamingSessionURL (LIVE), through the model-driven API."""
    document = request.json_object()
    account, region, stream = (str(document.get(name, "")) for name in ("account", "region", "stream"))
    if not (account and region and stream):
        raise HttpError(400, 'Send {"account", "region", "stream"}')
    endpoint = _call(emulator, request, account, region, "/getDataEndpoint",
                     {"StreamName": stream, "APIName": "GET_HLS_STREAMING_SESSION_URL"})["DataEndpoint"]
    session = _call(emulator, request, account, region, "/getHLSStreamingSessionURL",
                    {"StreamName": stream, "PlaybackMode": "LIVE"})
    return {"url": session["HLSStreamingSessionURL"], "dataEndpoint": endpoint}


def _stages(emulator, account: str, region: str, stages: list[dict]) -> dict:
    """Per stage ARN, its sessions newest first with their participants and each one's events,
    as ListStageSessions, ListParticipants and ListParticipantEvents answer them."""
    request = HttpRequest("POST", "/", host="127.0.0.1", public_urls=emulator.public_urls)
    found: dict = {}
    for stage in stages:
        arn = stage.get("arn")
        if not arn:
            continue
        sessions = _call(emulator, request, account, region, "/ListStageSessions",
                         {"stageArn": arn}, "ivs")["stageSessions"]
        for session in sessions:
            listed = _call(emulator, request, account, region, "/ListParticipants",
                           {"stageArn": arn, "sessionId": session["sessionId"]}, "ivs")["participants"]
            for participant in listed:
                participant["events"] = _call(
                    emulator, request, account, region, "/ListParticipantEvents",
                    {"stageArn": arn, "sessionId": session["sessionId"],
                     "participantId": participant["participantId"]}, "ivs")["events"]
            session["participants"] = listed
        found[arn] = sessions
    return found


def _call(emulator, request: HttpRequest, account: str, region: str, path: str, body: dict,
          signing_name: str = "kinesisvideo") -> dict:
    """An API call as the account's client makes it (greenroom reads the account and region
    from the credential scope). [inferred] With --verify-signatures this unsigned call is
    refused: the console's views that use it then show the error."""
    scope = f"{account}/20200101/{region}/{signing_name}/aws4_request"
    inner = HttpRequest("POST", path, "", {
        "authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=console",
        "content-type": "application/json", "host": request.host},
        json.dumps(body).encode(), request.scheme, request.host, request.client, request.server,
        request.public_urls)
    response = emulator.handle(inner)
    answer = response.json_body()
    if response.status != 200:
        raise HttpError(response.status, answer.get("message") or answer.get("Message") or str(answer))
    return answer
