"""GetHLSStreamingSessionURL (``kinesis-video-archived-media``) and the HLS endpoints its URL
leads to (routes no model describes, on greenroom's own address):

    /hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=...
    /hls/v1/getHLSMediaPlaylist.m3u8?SessionToken=...&TrackNumber=1
    /hls/v1/getMP4InitFragment.mp4?SessionToken=...&TrackNumber=1&SequenceNumber=0
    /hls/v1/getMP4MediaFragment.mp4?FragmentNumber=...&SessionToken=...&TrackNumber=1
    /hls/v1/getTSFragment.ts?FragmentNumber=...&SessionToken=...&TrackNumber=1

One KVS fragment is one HLS segment, remuxed on request (``media/remux.py``): fMP4 media segments
carry absolute ``tfdt`` (the fragment's producer timestamp in each track's timescale), MPEG-TS
segments timestamps from the same clock (modulo 2^33 at 90 kHz), so consecutive segments line up.

Sessions (HLS and DASH alike, ``dash.py``) are stored resources (``kinesisvideo:hls-session``)
with their expiry (a transition deletes them then); at most 10 per stream and protocol, the oldest
revoked. The token names the account, region and session; an unknown, revoked or expired token answers 403 NotAuthorizedException.

Playlists, by PlaybackMode:
- LIVE: the latest MaxMediaPlaylistFragmentResults (default 5) archived fragments, in ingest order;
  MEDIA-SEQUENCE is the first one's sequence in the stream, so it advances as fragments arrive.
- LIVE_REPLAY: the fragments from StartTimestamp (to EndTimestamp, when given) played back at
  real speed [inferred]: the window ends at the fragments whose timestamp is within the time
  elapsed since the session began of the first one (at least the first N are shown), and the
  playlist ends (ENDLIST) once it reaches the last fragment of a closed range.
- ON_DEMAND: the first N (default 1000) fragments of the range, PLAYLIST-TYPE:VOD and ENDLIST.
DiscontinuityMode ALWAYS puts EXT-X-DISCONTINUITY before every segment (and
EXT-X-DISCONTINUITY-SEQUENCE = MEDIA-SEQUENCE), ON_DISCONTINUITY where a fragment starts more than
50 ms away from the end of the one before it (counted within the playlist [inferred]), NEVER
nowhere; the default is ALWAYS for SERVER_TIMESTAMP selectors, NEVER for PRODUCER_TIMESTAMP.
DisplayFragmentTimestamp ALWAYS adds EXT-X-PROGRAM-DATE-TIME (the selector's timestamp).

[inferred] Every track of the fragments goes into each segment (one media playlist, TrackNumber=1;
the master's CODECS lists video and audio); other TrackNumbers are an InvalidArgumentException.
The ClientLimitExceededException rate limits are not enforced.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from urllib.parse import quote

import sqlalchemy as sa

from ...core.context import RequestContext
from ...core.errors import ServiceError
from ...core.lifecycle import transition
from ...core.operations import operation
from ...core.routes import http_route
from ...media import ebml, mkv, remux
from ...protocol.http import HttpResponse
from . import storage
from .clips import check_playable, fragment_time, require_retention, segment_tracks, time_column
from .common import STREAM, find_stream
from .fragments import epoch_ms

SERVICE = "kinesis-video-archived-media"
SESSION = "kinesisvideo:hls-session"
MAX_SESSIONS_PER_STREAM = 10
LIVE_RECENT_MS = 30_000
DEFAULT_EXPIRES = 300
DEFAULT_LIVE_RESULTS = 5
DEFAULT_ON_DEMAND_RESULTS = 1000
MAX_RANGE_MS = 24 * 3600 * 1000
DISCONTINUITY_GAP_MS = 50
PLAYLIST_TYPE = "application/x-mpegURL"
CORS = {"Access-Control-Allow-Origin": "*"}   # browser players (hls.js) fetch from another origin


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgumentException", message)


# ---------------------------------------------------------------------------- the session URL

def _session_range(ctx: RequestContext, mode: str, selector: dict) -> tuple[str, int | None, int | None]:
    """(selector type, start ms, end ms) of a request, checked against the mode's rules."""
    selector_type = selector.get("FragmentSelectorType", "SERVER_TIMESTAMP")
    time_range = selector.get("TimestampRange")
    if mode == "LIVE":
        if time_range:
            raise invalid("TimestampRange must not be set when PlaybackMode is LIVE.")
        return selector_type, None, None
    if not time_range or time_range.get("StartTimestamp") is None:
        raise invalid(f"TimestampRange.StartTimestamp is required when PlaybackMode is {mode}.")
    start_ms = epoch_ms(time_range["StartTimestamp"])
    end_ms = epoch_ms(time_range["EndTimestamp"]) if time_range.get("EndTimestamp") is not None else None
    if end_ms is None:
        if mode == "ON_DEMAND":
            raise invalid("TimestampRange.EndTimestamp is required when PlaybackMode is ON_DEMAND.")
        return selector_type, start_ms, None
    if end_ms <= start_ms:
        raise invalid("EndTimestamp must be later than StartTimestamp.")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise invalid("The time range between StartTimestamp and EndTimestamp must not exceed 24 hours.")
    if selector_type == "SERVER_TIMESTAMP" and end_ms > int(ctx.now * 1000):
        raise invalid("EndTimestamp must be in the past when FragmentSelectorType is SERVER_TIMESTAMP.")
    return selector_type, start_ms, end_ms


def _range_condition(stream: dict, now: float, selector_type: str, start_ms: int, end_ms: int | None):
    column = time_column(selector_type)
    condition = sa.and_(storage.archived(stream, now), column >= start_ms)
    return condition if end_ms is None else sa.and_(condition, column <= end_ms)


def _new_token(ctx: RequestContext, session_id: str) -> str:
    raw = f"{ctx.account}:{ctx.region}:{session_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def create_session(ctx: RequestContext, req: dict, protocol: str, selector: dict | None, max_results: int | None,
                   settings) -> str:
    """Check a streaming-session request (HLS or DASH), store the session, answer its token.
    ``settings`` are the protocol's own fields of the session."""
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    mode = req.get("PlaybackMode", "LIVE")
    selector_type, start_ms, end_ms = _session_range(ctx, mode, selector or {})
    require_retention(stream, f"Get{protocol}StreamingSessionURL")
    if mode == "LIVE":
        recent = sa.and_(storage.archived(stream, ctx.now),
                         storage.fragments.c.server_ms >= int(ctx.now * 1000) - LIVE_RECENT_MS)
        found = storage.fetch(ctx.conn, storage.select_fragments(recent, storage.fragments.c.seq.desc(), limit=1))
        if not found:
            raise ServiceError("ResourceNotFoundException",
                               f"No fragments were ingested into stream {stream['StreamName']} in the last 30 seconds.")
    else:
        condition = _range_condition(stream, ctx.now, selector_type, start_ms, end_ms)
        found = storage.fetch(ctx.conn, storage.select_fragments(condition, storage.fragments.c.seq, limit=1))
        if not found:
            raise ServiceError("ResourceNotFoundException",
                               f"No fragments were found in stream {stream['StreamName']} for the requested time range.")
    check_playable(stream, segment_tracks(storage.read_header(ctx.conn, found[0].header)[1]))

    # [inferred] The limit of 10 counts the sessions of one protocol.
    stream_key = str(stream["MediaKey"])
    existing = ctx.resources.list(SESSION, where={"StreamKey": stream_key, "Protocol": protocol})
    for _, old in existing[:max(0, len(existing) - MAX_SESSIONS_PER_STREAM + 1)]:
        ctx.resources.delete(SESSION, old["Id"])   # the oldest sessions are revoked
    session_id = ctx.ids.alphanumeric(32)
    expires_at = ctx.now + req.get("Expires", DEFAULT_EXPIRES)
    default_results = DEFAULT_ON_DEMAND_RESULTS if mode == "ON_DEMAND" else DEFAULT_LIVE_RESULTS
    ctx.resources.insert(SESSION, session_id, {
        "Id": session_id, "Protocol": protocol, "StreamName": stream["StreamName"], "StreamKey": stream_key,
        "Mode": mode, "DisplayTimestamp": req.get("DisplayFragmentTimestamp", "NEVER"),
        "MaxResults": max_results or default_results,
        "SelectorType": selector_type, "Start": start_ms, "End": end_ms,
        "Created": ctx.now, "ExpiresAt": expires_at, **settings(selector_type),
    })
    ctx.schedule_at(expires_at, SESSION, session_id, "kinesisvideo.hls.expire")
    return _new_token(ctx, session_id)


@operation(SERVICE, "GetHLSStreamingSessionURL")
def get_hls_streaming_session_url(ctx: RequestContext, req: dict) -> dict:
    def settings(selector_type: str) -> dict:
        return {"Container": req.get("ContainerFormat", "FRAGMENTED_MP4"),
                "Discontinuity": req.get("DiscontinuityMode",
                                         "ALWAYS" if selector_type == "SERVER_TIMESTAMP" else "NEVER")}

    token = create_session(ctx, req, "HLS", req.get("HLSFragmentSelector"),
                           req.get("MaxMediaPlaylistFragmentResults"), settings)
    return {"HLSStreamingSessionURL": ctx.public_url(f"/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={token}")}


@transition("kinesisvideo.hls.expire")
def expire_session(resources, kind, resource_id, args, due_at) -> None:
    resources.delete(kind, resource_id)


# ---------------------------------------------------------------------------- the HLS endpoints

class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error_response(refused: _Refused) -> HttpResponse:
    body = json.dumps({"message": refused.message}).encode()
    return HttpResponse(refused.status, {"Content-Type": "application/json", "x-amzn-ErrorType": refused.code,
                                         "x-amz-ErrorType": refused.code, **CORS}, body)


def _param(query: dict, name: str, required: bool = True) -> str | None:
    values = query.get(name)
    if not values or not values[0]:
        if required:
            raise _Refused(400, "InvalidArgumentException", f"The {name} parameter is required.")
        return None
    return values[0]


def _token_scope(token: str) -> tuple[str, str, str]:
    try:
        account, region, session_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _Refused(403, "NotAuthorizedException", "The session token is not valid.") from None
    return account, region, session_id


def _serve(emulator, request, label: str, produce, protocol: str = "HLS") -> HttpResponse:
    """Find the session of the request's token and answer ``produce(ctx, session, stream, query)``."""
    try:
        query = request.query()
        account, region, session_id = _token_scope(_param(query, "SessionToken"))
        track = _param(query, "TrackNumber", required=False)
        if track is not None and track != "1":
            raise _Refused(400, "InvalidArgumentException", f"Track {track} is not available in this session.")
        with emulator.context(SERVICE, label, account, region) as ctx:
            session = ctx.resources.get(SESSION, session_id)
            if (session is None or ctx.now >= session["ExpiresAt"]
                    or session.get("Protocol", "HLS") != protocol):
                raise _Refused(403, "NotAuthorizedException", "The session token has expired or is not valid.")
            stream = ctx.resources.get(STREAM, session["StreamName"])
            if stream is None or str(stream.get("MediaKey")) != session["StreamKey"]:
                raise _Refused(404, "ResourceNotFoundException", f"The stream {session['StreamName']} does not exist.")
            content_type, body = produce(ctx, session, stream, query)
        return HttpResponse(200, {"Content-Type": content_type, **CORS}, body, f"{SERVICE} {label}")
    except _Refused as refused:
        return _error_response(refused)


def _token_param(request) -> str:
    return quote(request.query()["SessionToken"][0], safe="")


def _playlist_fragments(ctx, session: dict, stream: dict) -> tuple[list[storage.Fragment], int, bool]:
    """(fragments of the media playlist, its MEDIA-SEQUENCE, whether it has ended)."""
    limit, fragments_table = session["MaxResults"], storage.fragments
    if session["Mode"] == "LIVE":
        rows = storage.fetch(ctx.conn, storage.select_fragments(
            storage.archived(stream, ctx.now), fragments_table.c.seq.desc(), limit=limit))
        rows.reverse()
        return rows, rows[0].seq if rows else 0, False
    condition = _range_condition(stream, ctx.now, session["SelectorType"], session["Start"], session["End"])
    column = time_column(session["SelectorType"])
    order = (column, fragments_table.c.seq)
    if session["Mode"] == "ON_DEMAND":
        return storage.fetch(ctx.conn, storage.select_fragments(condition, *order, limit=limit)), 0, True
    # LIVE_REPLAY: played back at real speed from the first fragment of the range.
    first = storage.fetch(ctx.conn, storage.select_fragments(condition, *order, limit=1))
    if not first:
        return [], 0, session["End"] is not None
    played_to = fragment_time(first[0], session["SelectorType"]) + int((ctx.now - session["Created"]) * 1000)
    played = ctx.conn.execute(sa.select(sa.func.count()).select_from(fragments_table)
                              .where(condition, column <= played_to)).scalar_one()
    offset = max(0, played - limit)
    rows = storage.fetch(ctx.conn, storage.select_fragments(condition, *order).offset(offset).limit(limit))
    total = ctx.conn.execute(sa.select(sa.func.count()).select_from(fragments_table).where(condition)).scalar_one()
    return rows, offset, session["End"] is not None and offset + len(rows) >= total


def _timestamp(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _media_playlist(ctx, session: dict, stream: dict, token: str) -> str:
    fragments, sequence, ended = _playlist_fragments(ctx, session, stream)
    mp4 = session["Container"] == "FRAGMENTED_MP4"
    # HLS: every EXTINF, rounded to the nearest integer, is at most the target duration.
    target = max([round(f.duration_ms / 1000) for f in fragments] or [1])
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{max(target, 1)}",
             f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    if session["Discontinuity"] == "ALWAYS":
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{sequence}")
    if session["Mode"] == "ON_DEMAND":
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if mp4:
        lines.append(f'#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken={token}&TrackNumber=1&SequenceNumber=0"')
    previous_end = None
    for fragment in fragments:
        if session["Discontinuity"] == "ALWAYS" or (
                session["Discontinuity"] == "ON_DISCONTINUITY" and previous_end is not None
                and abs(fragment.producer_ms - previous_end) > DISCONTINUITY_GAP_MS):
            lines.append("#EXT-X-DISCONTINUITY")
        previous_end = fragment.producer_ms + fragment.duration_ms
        if session["DisplayTimestamp"] == "ALWAYS":
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_timestamp(fragment_time(fragment, session['SelectorType']))}")
        lines.append(f"#EXTINF:{fragment.duration_ms / 1000:.3f},")
        segment = "getMP4MediaFragment.mp4" if mp4 else "getTSFragment.ts"
        lines.append(f"{segment}?FragmentNumber={fragment.number}&SessionToken={token}&TrackNumber=1")
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _codecs(tracks: list[mkv.Track]) -> str:
    codecs = []
    for track in tracks:
        if track.codec_id == "V_MPEG4/ISO/AVC" and len(track.codec_private) >= 4:
            codecs.append("avc1." + track.codec_private[1:4].hex())
        elif track.codec_id == "V_MPEGH/ISO/HEVC":
            codecs.append("hvc1.1.6.L93.B0")   # [inferred] a generic Main-profile string
        elif track.codec_id == "A_AAC":
            codecs.append("mp4a.40.2")
    return ",".join(codecs)


def _frame_rate(ctx, stream: dict, fragment: storage.Fragment, segment_head: bytes) -> float | None:
    """Video frames per second in a fragment: frames over the span of their timecodes."""
    data = storage.fragment_bytes(ctx.conn, stream, fragment)
    if data is None:
        return None
    scale_ns = next((mkv.parse_info(segment_head[start:end]) for element_id, start, end
                     in ebml.children(segment_head) if element_id == ebml.INFO), mkv.DEFAULT_TIMECODE_SCALE_NS)
    times = sorted(relative for track, relative, _, _ in mkv.cluster_frames(bytes(data))[1] if track == 1)
    if len(times) < 2 or times[-1] == times[0]:
        return None
    return (len(times) - 1) * 1e9 / ((times[-1] - times[0]) * scale_ns)


def _master_playlist(ctx, session: dict, stream: dict, token: str) -> str:
    fragments, _, _ = _playlist_fragments(ctx, session, stream)
    recent = fragments[-1] if fragments else None
    attributes = []
    if recent is not None:
        segment_head = storage.read_header(ctx.conn, recent.header)[1]
        tracks = segment_tracks(segment_head)
        bandwidth = max(f.size * 8000 // max(f.duration_ms, 1) for f in fragments)
        attributes.append(f"BANDWIDTH={bandwidth}")
        attributes.append(f'CODECS="{_codecs(tracks)}"')
        video = next((t for t in tracks if t.number == 1), None)
        if video is not None and video.width and video.height:
            attributes.append(f"RESOLUTION={video.width}x{video.height}")
        rate = _frame_rate(ctx, stream, recent, segment_head)
        if rate:
            attributes.append(f"FRAME-RATE={rate:.3f}")
    else:
        attributes.append("BANDWIDTH=1")
    return "\n".join(["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
                      "#EXT-X-STREAM-INF:" + ",".join(attributes),
                      f"getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber=1"]) + "\n"


def _session_fragment(ctx, stream: dict, number: str) -> storage.Fragment:
    parsed = storage.parse_fragment_number(number)
    found = []
    if parsed is not None:
        condition = sa.and_(storage.archived(stream, ctx.now), storage.fragments.c.seq == parsed[1],
                            storage.fragments.c.server_ms == parsed[0])
        found = storage.fetch(ctx.conn, storage.select_fragments(condition, storage.fragments.c.seq, limit=1))
    if not found:
        raise _Refused(404, "ResourceNotFoundException", f"The fragment {number} was not found in the stream.")
    return found[0]


def _fragment_media(ctx, stream: dict, fragment: storage.Fragment) -> tuple[bytes, bytes, bytes]:
    data = storage.fragment_bytes(ctx.conn, stream, fragment)
    if data is None:
        raise _Refused(404, "ResourceNotFoundException", f"The fragment {fragment.number} was not found in the stream.")
    ebml_header, segment_head = storage.read_header(ctx.conn, fragment.header)
    return ebml_header, segment_head, bytes(data)


def _remuxed(make):
    try:
        return make()
    except remux.RemuxError as error:
        raise _Refused(400, "InvalidMediaFrameException", f"The fragment could not be remuxed: {error}") from error


@http_route("GET", "/hls/v1/getHLSMasterPlaylist.m3u8")
def master_playlist_route(emulator, request) -> HttpResponse:
    return _serve(emulator, request, "getHLSMasterPlaylist",
                  lambda ctx, session, stream, query: (
                      PLAYLIST_TYPE, _master_playlist(ctx, session, stream, _token_param(request)).encode()))


@http_route("GET", "/hls/v1/getHLSMediaPlaylist.m3u8")
def media_playlist_route(emulator, request) -> HttpResponse:
    return _serve(emulator, request, "getHLSMediaPlaylist",
                  lambda ctx, session, stream, query: (
                      PLAYLIST_TYPE, _media_playlist(ctx, session, stream, _token_param(request)).encode()))


def init_fragment(ctx, session: dict, stream: dict, query: dict) -> tuple[str, bytes]:
    """The fMP4 init segment of a session (from the first fragment its playlist lists)."""
    if session["Container"] != "FRAGMENTED_MP4":
        raise _Refused(400, "InvalidArgumentException", "This session's ContainerFormat is MPEG_TS.")
    fragments, _, _ = _playlist_fragments(ctx, session, stream)
    if not fragments:
        raise _Refused(404, "ResourceNotFoundException", "The session has no fragments.")
    pieces = _fragment_media(ctx, stream, fragments[0])
    return "video/mp4", _remuxed(lambda: remux.fragmented_mp4(*pieces)[0])


def media_fragment(ctx, session: dict, stream: dict, query: dict) -> tuple[str, bytes]:
    """One fragment as an fMP4 media segment with absolute tfdt."""
    if session["Container"] != "FRAGMENTED_MP4":
        raise _Refused(400, "InvalidArgumentException", "This session's ContainerFormat is MPEG_TS.")
    fragment = _session_fragment(ctx, stream, _param(query, "FragmentNumber"))
    pieces = _fragment_media(ctx, stream, fragment)
    return "video/mp4", _remuxed(lambda: remux.fragmented_mp4(*pieces, start_ms=fragment.producer_ms)[1])


@http_route("GET", "/hls/v1/getMP4InitFragment.mp4")
def init_fragment_route(emulator, request) -> HttpResponse:
    return _serve(emulator, request, "getMP4InitFragment", init_fragment)


@http_route("GET", "/hls/v1/getMP4MediaFragment.mp4")
def media_fragment_route(emulator, request) -> HttpResponse:
    return _serve(emulator, request, "getMP4MediaFragment", media_fragment)


@http_route("GET", "/hls/v1/getTSFragment.ts")
def ts_fragment_route(emulator, request) -> HttpResponse:
    def produce(ctx, session, stream, query):
        if session["Container"] != "MPEG_TS":
            raise _Refused(400, "InvalidArgumentException", "This session's ContainerFormat is FRAGMENTED_MP4.")
        fragment = _session_fragment(ctx, stream, _param(query, "FragmentNumber"))
        pieces = _fragment_media(ctx, stream, fragment)
        return "video/MP2T", _remuxed(lambda: remux.mpeg_ts(*pieces, fragment.producer_ms))

    return _serve(emulator, request, "getTSFragment", produce)
