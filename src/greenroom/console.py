"""The web console (``GET /_greenroom/console``): what the store holds, live, and the admin
controls, as a page greenroom serves itself (``console_static/``: plain HTML, CSS and one
script; no build step, no CDN).

Routes (beside admin.py's):
- ``GET /_greenroom/inventory``: every (account, region) with its kinds of resources and counts;
- ``GET /_greenroom/resources?account=&region=&service=``: the stored records of a service's
  resources in one (account, region), by kind (``service:kind``), in creation order;
- WebSocket ``/_greenroom/console/live``: the page sends ``{"account", "region", "service"}``;
  greenroom sends ``{"inventory", "resources", "extras", "clock", "requests", "faults"}`` at
  once (extras: what a service's view shows beyond its records, ``EXTRAS``), then
  what changed each time something it shows may have changed: a write this process committed
  (``notify.STORE_CHANGED``), a logged request, the clock, a KVS signaling peer coming or going;
  on a store shared with other processes (PostgreSQL) it also looks every 2 s for their writes
  (not notified across processes: see ``notify.STORE_CHANGED``);
- ``POST /_greenroom/console/kvs-hls`` ``{"account", "region", "stream", "start"?, "end"?}``: an
  HLS session URL for the page's player (LIVE, or ON_DEMAND over server timestamps start..end),
  asked of greenroom's own Kinesis Video API as a client would; ``kvs-images`` the same for a
  strip of GetImages thumbnails;
- ``POST /_greenroom/console/describe`` ``{"account", "region", "kind", "record"}``: a record's
  description as its Describe/Get operation answers it (the page asks when one is unfolded);
- ``POST /_greenroom/console/ivs-join`` ``{"account", "region", "stageArn"}``: a test participant
  without media (CreateParticipantToken, then the admin join and publish of
  ``ivs_realtime.client_actions``): the page's fallback when it has no WebRTC;
- ``POST /_greenroom/console/ivs-token`` ``{"account", "region", "stageArn", "use"}``: a token and
  the stage's WHIP URL for the page's own WHIP peer: it publishes a generated picture (the test
  participant) or subscribes to the stage's publishers (the live tiles);
- ``POST /_greenroom/console/gamelift-connect``: the page's offer for a GameLift Streams session
  through CreateStreamSessionConnection ("open the stream"), its SignalResponse back;
- ``GET /_greenroom/console/s3/{bucket}/{key}``: an object of the S3 stand-in (``emulator.objects``:
  a participant's recording, its playlist and segments);
- ``GET /_greenroom/console/hls.js``: the pinned hls.js build fetched and checked when greenroom
  is built (``vendored.py``).

Records come as stored (the store API's ``Resources.list``); an unfolded one shows what its
service's Describe/Get answers (``DESCRIBE``), or the stored record for kinds without one.
"""
from __future__ import annotations

import asyncio
import json
from importlib import resources as package_files
from urllib.parse import quote

import sqlalchemy as sa

from .core import notify
from .core.objectstore import ObjectStoreError
from .core.routes import HttpError, http_route, websocket_route
from .core.store import Resources
from .protocol.http import HttpRequest, HttpResponse
from .services.ivs_realtime import client_actions as ivs_actions
from .services.kinesisvideo import signaling as kvs_signaling
from .services.kinesisvideo import storage as kvs_storage
from .services.nimble import faults as nimble_faults

STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
RECENT_REQUESTS = 50
TIMELINE_FRAGMENTS = 120     # the newest fragments drawn on a stream's timeline
COALESCE_SECONDS = 0.1       # a burst of commits (a PutMedia fragment, a lifecycle step) is one read
SHARED_LOOK_SECONDS = 2.0    # on a shared store, how often to look for other processes' writes
STAGE_SESSIONS = 5           # the newest sessions shown per IVS stage
RECORDED_KEYS = 50           # the keys listed of a participant's recording


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
    # The store, the clock or the peers changed: read the view again. Only a request was
    # logged (every client call): send the request log alone, no store reads.
    changed = emulator.store.notifier.wakeup(notify.STORE_CHANGED, notify.CLOCK, kvs_signaling.PEERS_TOPIC)
    logged = emulator.store.notifier.wakeup(notify.REQUESTS)

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
                changed.event.set()

    reader = asyncio.ensure_future(read_views())
    reread = True
    try:
        while not reader.done():
            changed.clear()
            logged.clear()
            if reread:
                state = await asyncio.to_thread(_state, emulator, dict(view))
            else:
                state = {"requests": emulator.requests.entries()[-RECENT_REQUESTS:]}
            news = {name: value for name, value in state.items() if sent.get(name) != value}
            if news:
                if "resources" in news or "extras" in news:
                    news["view"] = state["view"]  # which view these are of
                await socket.send_json(news)
                sent.update(news)
            waiting = {asyncio.ensure_future(changed.wait()), asyncio.ensure_future(logged.wait())}
            # This process's writes wake it at once; another's (PostgreSQL) within SHARED_LOOK_SECONDS.
            done, _ = await asyncio.wait(waiting | {reader}, return_when=asyncio.FIRST_COMPLETED,
                                         timeout=SHARED_LOOK_SECONDS if emulator.store.shared else None)
            for task in waiting:
                task.cancel()
            await asyncio.sleep(COALESCE_SECONDS)
            reread = changed.event.is_set() or not done  # not done: the shared store's timed look
    finally:
        changed.close()
        logged.close()
        reader.cancel()


def _state(emulator, view: dict) -> dict:
    """What the page shows, read from the store (on a worker thread)."""
    state = {"inventory": _inventory(emulator), "clock": emulator.clock.describe(),
             "requests": emulator.requests.entries()[-RECENT_REQUESTS:]}
    account, region, service = view.get("account"), view.get("region"), view.get("service")
    if account and region:
        state["faults"] = nimble_faults.list_faults(emulator, account, region)
    if account and region and service:
        state["resources"] = resources = _resources(emulator, account, region, service)
        extras = EXTRAS.get(service)
        try:
            state["extras"] = extras(emulator, account, region, resources) if extras else {}
        except HttpError as error:  # e.g. --verify-signatures refuses the console's own calls
            state["extras"] = {"error": error.message}
        state["view"] = {"account": account, "region": region, "service": service}
    return state


def _kvs_extras(emulator, account: str, region: str, resources: dict) -> dict:
    """Per stream name its readable fragments (count, first and last server time, the newest on
    a timeline: [server ms, duration ms]); per channel ARN who is connected to this process."""
    media = {}
    now = emulator.clock.now()
    fragments = kvs_storage.fragments.c
    with emulator.store.transaction() as conn:
        for stream in resources.get("kinesisvideo:stream", []):
            if "_media_key" not in stream:
                continue
            readable = kvs_storage.readable(stream, now)
            count, first, last = conn.execute(sa.select(sa.func.count(), sa.func.min(fragments.server_ms),
                                                        sa.func.max(fragments.server_ms)).where(readable)).one()
            newest = conn.execute(sa.select(fragments.server_ms, fragments.duration_ms).where(readable)
                                  .order_by(fragments.server_ms.desc()).limit(TIMELINE_FRAGMENTS)).all()
            media[stream["StreamName"]] = {"fragments": count, "first": first, "last": last,
                                           "timeline": [[at, duration] for at, duration in reversed(newest)]}
    peers = {}
    channels = kvs_signaling.hub(emulator).channels
    for channel in resources.get("kinesisvideo:channel", []):
        connected = channels.get(channel.get("ChannelARN"))
        if connected is not None:
            peers[channel["ChannelARN"]] = {
                "master": connected.master is not None, "viewers": sorted(connected.viewers),
                "storage": connected.storage is not None, "storageViewers": sorted(connected.storage_viewers)}
    return {"media": media, "peers": peers}


def _ivs_extras(emulator, account: str, region: str, resources: dict) -> dict:
    """Per stage ARN its newest sessions with their participants as GetParticipant describes
    them, each with its events (ListParticipantEvents), through the IVS API."""
    request = HttpRequest("POST", "/", host="127.0.0.1", public_urls=emulator.public_urls)
    stages: dict = {}
    for stage in resources.get("ivs-realtime:stage", []):
        arn = stage.get("arn")
        if not arn:
            continue
        sessions = _call(emulator, request, account, region, "/ListStageSessions",
                         {"stageArn": arn, "maxResults": STAGE_SESSIONS}, "ivs")["stageSessions"]
        for session in sessions:
            ids = {"stageArn": arn, "sessionId": session["sessionId"]}
            listed = _call(emulator, request, account, region, "/ListParticipants",
                           {**ids, "maxResults": 100}, "ivs")["participants"]
            session["participants"] = []
            for summary in listed:
                one = {**ids, "participantId": summary["participantId"]}
                participant = _call(emulator, request, account, region, "/GetParticipant", one, "ivs")["participant"]
                participant["events"] = _call(emulator, request, account, region, "/ListParticipantEvents",
                                              {**one, "maxResults": 100}, "ivs")["events"]
                participant["recordedObjects"] = _recorded(emulator, participant)
                session["participants"].append(participant)
        stages[arn] = sessions
    return {"stages": stages}


def _recorded(emulator, participant: dict) -> list[str]:
    """The keys the participant's recording has in the S3 stand-in (``emulator.objects``), for
    the page to list (and play, an HLS playlist among them, through ``console/s3/``)."""
    bucket, prefix = participant.get("recordingS3BucketName"), participant.get("recordingS3Prefix")
    if not bucket or not prefix:
        return []
    try:
        return emulator.objects.keys(bucket, prefix.rstrip("/") + "/")[:RECORDED_KEYS]
    except ObjectStoreError:
        return []


CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".mp4": "video/mp4",
                 ".m4s": "video/iso.segment", ".jpg": "image/jpeg", ".json": "application/json"}


@http_route("GET", "/_greenroom/console/s3/{bucket}/{key+}")
def recorded_object(emulator, request, bucket, key):
    """An object of the S3 stand-in (recordings), for the page's player: relative segment URIs
    of a playlist resolve beside it."""
    try:
        data = emulator.objects.get(bucket, key)
    except ObjectStoreError as error:
        raise HttpError(404, str(error)) from None
    suffix = key[key.rfind("."):] if "." in key else ""
    return HttpResponse(200, {"Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream")}, data)


def _nimble_extras(emulator, account: str, region: str, resources: dict) -> dict:
    """The operations a fault can be armed for, with their status codes (the arm form)."""
    return {"faultOperations": {operation: nimble_faults.status_codes(operation)
                                for operation in sorted(nimble_faults.OPERATIONS)}}


def _gamelift_extras(emulator, account: str, region: str, resources: dict) -> dict:
    """Per stream group id, GetStreamGroup's answer (its capacity per location)."""
    request = HttpRequest("GET", "/", host="127.0.0.1", public_urls=emulator.public_urls)
    return {"groups": {group["Id"]: _call(emulator, request, account, region, f"/streamgroups/{group['Id']}", None,
                                          "gameliftstreams", method="GET")
                       for group in resources.get("gameliftstreams:streamgroup", [])}}


EXTRAS = {"kinesisvideo": _kvs_extras, "ivs-realtime": _ivs_extras, "gameliftstreams": _gamelift_extras,
          "nimble": _nimble_extras}


def _scope_of(document: dict) -> tuple[str, str]:
    account, region = document.get("account"), document.get("region")
    if not (isinstance(account, str) and isinstance(region, str) and account and region):
        raise HttpError(400, 'Send {"account", "region", ...} as strings')
    return account, region


def _epoch(document: dict, name: str) -> float | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HttpError(400, f"{name} must be epoch seconds")
    return float(value)


@http_route("POST", "/_greenroom/console/kvs-hls")
def kvs_hls(emulator, request):
    """GetDataEndpoint then GetHLSStreamingSessionURL through the model-driven API: LIVE, or
    ON_DEMAND over server timestamps ``start``..``end`` (epoch seconds) when given."""
    document = request.json_object()
    account, region = _scope_of(document)
    stream = document.get("stream")
    if not isinstance(stream, str) or not stream:
        raise HttpError(400, 'Send {"account", "region", "stream"}')
    start, end = _epoch(document, "start"), _epoch(document, "end")
    endpoint = _call(emulator, request, account, region, "/getDataEndpoint",
                     {"StreamName": stream, "APIName": "GET_HLS_STREAMING_SESSION_URL"})["DataEndpoint"]
    asked = {"StreamName": stream, "PlaybackMode": "LIVE"}
    if start is not None or end is not None:
        if start is None or end is None:
            raise HttpError(400, "Give both start and end for a time range")
        asked = {"StreamName": stream, "PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {
            "FragmentSelectorType": "SERVER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end}}}
    session = _call(emulator, request, account, region, "/getHLSStreamingSessionURL", asked)
    return {"url": session["HLSStreamingSessionURL"], "dataEndpoint": endpoint, "mode": asked["PlaybackMode"]}


@http_route("POST", "/_greenroom/console/kvs-images")
def kvs_images(emulator, request):
    """GetImages (JPEG, 160 px wide) over server timestamps ``start``..``end``, ``count``
    images at most, evenly spaced: the page's strip of thumbnails."""
    document = request.json_object()
    account, region = _scope_of(document)
    stream = document.get("stream")
    start, end = _epoch(document, "start"), _epoch(document, "end")
    count = document.get("count", 8)
    if not isinstance(stream, str) or not stream or start is None or end is None or end <= start:
        raise HttpError(400, 'Send {"account", "region", "stream", "start", "end"} with start < end')
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise HttpError(400, "count must be 1 to 100")
    _call(emulator, request, account, region, "/getDataEndpoint", {"StreamName": stream, "APIName": "GET_IMAGES"})
    answer = _call(emulator, request, account, region, "/getImages", {
        "StreamName": stream, "ImageSelectorType": "SERVER_TIMESTAMP", "StartTimestamp": start,
        "EndTimestamp": end, "SamplingInterval": max(200, int((end - start) * 1000 / count)),
        "Format": "JPEG", "WidthPixels": 160, "MaxResults": count})
    return {"images": answer.get("Images", [])}


# kind -> (operation, request) for the Describe/Get that answers with a record's description:
# (method, path, body, signing name) made from the record's identifying fields.
DESCRIBE = {
    "kinesisvideo:stream": ("DescribeStream", lambda r: ("POST", "/describeStream", {"StreamARN": r["StreamARN"]}, "kinesisvideo")),
    "kinesisvideo:channel": ("DescribeSignalingChannel", lambda r: (
        "POST", "/describeSignalingChannel", {"ChannelARN": r["ChannelARN"]}, "kinesisvideo")),
    "ivs-realtime:stage": ("GetStage", lambda r: ("POST", "/GetStage", {"arn": r["arn"]}, "ivs")),
    "ivs-realtime:storage-configuration": ("GetStorageConfiguration", lambda r: (
        "POST", "/GetStorageConfiguration", {"arn": r["arn"]}, "ivs")),
    "ivs-realtime:encoder-configuration": ("GetEncoderConfiguration", lambda r: (
        "POST", "/GetEncoderConfiguration", {"arn": r["arn"]}, "ivs")),
    "ivs-realtime:ingest-configuration": ("GetIngestConfiguration", lambda r: (
        "POST", "/GetIngestConfiguration", {"arn": r["arn"]}, "ivs")),
    "ivs-realtime:composition": ("GetComposition", lambda r: ("POST", "/GetComposition", {"arn": r["arn"]}, "ivs")),
    "gameliftstreams:application": ("GetApplication", lambda r: (
        "GET", f"/applications/{quote(r['Id'], safe='')}", None, "gameliftstreams")),
    "gameliftstreams:streamgroup": ("GetStreamGroup", lambda r: (
        "GET", f"/streamgroups/{quote(r['Id'], safe='')}", None, "gameliftstreams")),
    "gameliftstreams:streamsession": ("GetStreamSession", lambda r: (
        "GET", f"/streamgroups/{quote(r['StreamGroupId'], safe='')}/streamsessions/{quote(r['Arn'], safe='')}",
        None, "gameliftstreams")),
    "nimble:studio": ("GetStudio", lambda r: ("GET", f"/2020-08-01/studios/{quote(r['studioId'], safe='')}",
                                              None, "nimble")),
    "nimble:launch-profile": ("GetLaunchProfile", lambda r: (
        "GET", f"/2020-08-01/studios/{quote(r['studioId'], safe='')}/launch-profiles/"
               f"{quote(r['launchProfileId'], safe='')}", None, "nimble")),
    "nimble:streaming-session": ("GetStreamingSession", lambda r: (
        "GET", f"/2020-08-01/studios/{quote(r['studioId'], safe='')}/streaming-sessions/"
               f"{quote(r['sessionId'], safe='')}", None, "nimble")),
}


@http_route("POST", "/_greenroom/console/describe")
def describe(emulator, request):
    """``{"account", "region", "kind", "record"}``: the record's description as its service's
    Describe/Get operation answers it (``DESCRIBE``); 404 for kinds without one."""
    document = request.json_object()
    account, region = _scope_of(document)
    kind, record = document.get("kind"), document.get("record")
    if not isinstance(kind, str) or kind not in DESCRIBE:
        raise HttpError(404, f"No Describe or Get operation for {kind}: the page shows the stored record")
    if not isinstance(record, dict):
        raise HttpError(400, "record must be the stored record (an object)")
    operation, make = DESCRIBE[kind]
    try:
        method, path, body, signing_name = make(record)
    except (KeyError, TypeError):
        raise HttpError(400, f"record lacks what {operation} needs") from None
    answer = _call(emulator, request, account, region, path, body, signing_name, method=method)
    answer.pop("ResponseMetadata", None)
    return {"operation": operation, "description": answer}


@http_route("POST", "/_greenroom/console/ivs-join")
def ivs_join(emulator, request):
    """A test participant on a stage: a token from CreateParticipantToken (PUBLISH and
    SUBSCRIBE, user ``console``), then the join and publish a client SDK would make
    (``ivs_realtime.client_actions``), without media: the page's fallback when it has no
    WebRTC (with it, the page publishes over WHIP itself, ``ivs_token``)."""
    document = request.json_object()
    account, region = _scope_of(document)
    stage_arn = document.get("stageArn")
    if not isinstance(stage_arn, str) or not stage_arn:
        raise HttpError(400, 'Send {"account", "region", "stageArn"}')
    token = _call(emulator, request, account, region, "/CreateParticipantToken",
                  {"stageArn": stage_arn, "userId": "console", "capabilities": ["PUBLISH", "SUBSCRIBE"]},
                  "ivs")["participantToken"]
    try:
        joined = ivs_actions.join(emulator, token["token"], "WHIP")
        ivs_actions.publish(emulator, joined["participantId"], stage_arn=stage_arn)
    except ivs_actions.ClientActionError as error:
        raise HttpError(error.status, error.message) from None
    return joined


CONSOLE_TOKEN_USERS = {"publish": ("console", ["PUBLISH", "SUBSCRIBE"]), "subscribe": ("console-viewer", ["SUBSCRIBE"])}


@http_route("POST", "/_greenroom/console/ivs-token")
def ivs_token(emulator, request):
    """``{"account", "region", "stageArn", "use": "publish"|"subscribe"}``: a participant token
    for the page's own WHIP peer, from CreateParticipantToken (user ``console`` with PUBLISH and
    SUBSCRIBE to publish the page's test pattern; ``console-viewer`` with SUBSCRIBE for the live
    tiles), with the stage's WHIP endpoint (GetStage). The page then speaks WHIP itself."""
    document = request.json_object()
    account, region = _scope_of(document)
    stage_arn, use = document.get("stageArn"), document.get("use")
    if not isinstance(stage_arn, str) or not stage_arn or use not in CONSOLE_TOKEN_USERS:
        raise HttpError(400, 'Send {"account", "region", "stageArn", "use": "publish" or "subscribe"}')
    user, capabilities = CONSOLE_TOKEN_USERS[use]
    whip_url = _call(emulator, request, account, region, "/GetStage", {"arn": stage_arn}, "ivs")["stage"]["endpoints"]["whip"]
    token = _call(emulator, request, account, region, "/CreateParticipantToken",
                  {"stageArn": stage_arn, "userId": user, "capabilities": capabilities}, "ivs")["participantToken"]
    return {"token": token["token"], "participantId": token["participantId"], "whipUrl": whip_url}


@http_route("POST", "/_greenroom/console/gamelift-connect")
def gamelift_connect(emulator, request):
    """``{"account", "region", "streamGroupId", "sessionArn", "signalRequest"}``: the page's
    WebRTC offer handed to CreateStreamSessionConnection for a session waiting for a client
    (ACTIVE, started with NO_CLIENT_CONNECTION, or PENDING_CLIENT_RECONNECTION), as a web
    client's backend would; answers the SignalResponse, or GameLift Streams' refusal (why the
    session cannot take a connection) as a 400."""
    document = request.json_object()
    account, region = _scope_of(document)
    names = ("streamGroupId", "sessionArn", "signalRequest")
    if not all(isinstance(document.get(name), str) and document[name] for name in names):
        raise HttpError(400, 'Send {"account", "region", "streamGroupId", "sessionArn", "signalRequest"} as strings')
    path = (f"/streamgroups/{quote(document['streamGroupId'], safe='')}/streamsessions/"
            f"{quote(document['sessionArn'], safe='')}/connections")
    answer = _call(emulator, request, account, region, path, {"SignalRequest": document["signalRequest"]},
                   "gameliftstreams")
    return {"signalResponse": answer["SignalResponse"]}


def _call(emulator, request: HttpRequest, account: str, region: str, path: str, body: dict | None,
          signing_name: str = "kinesisvideo", method: str = "POST") -> dict:
    """An API call as the account's client makes it (greenroom reads the account and region
    from the credential scope). [inferred] With --verify-signatures this unsigned call is
    refused: the console's views that use it then show the error."""
    scope = f"{account}/20200101/{region}/{signing_name}/aws4_request"
    inner = HttpRequest(method, path, "", {
        "authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=console",
        "content-type": "application/json", "host": request.host},
        json.dumps(body).encode() if body is not None else b"", request.scheme, request.host, request.client, request.server,
        request.public_urls)
    response = emulator.handle(inner)
    answer = response.json_body()
    if response.status != 200:
        raise HttpError(response.status, answer.get("message") or answer.get("Message") or str(answer))
    return answer
