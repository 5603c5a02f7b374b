"""GetHLSStreamingSessionURL (``kinesis-video-archived-media``) and the HLS endpoints its URL
leads to (routes no model describes, on greenroom's own address):

    /hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=...
    /hls/v1/getHLSMediaPlaylist.m3u8?SessionToken=...&TrackNumber=1
    /hls/v1/getMP4InitFragment.mp4?SessionToken=...&TrackNumber=1&SequenceNumber=0
    /hls/v1/getMP4MediaFragment.mp4?FragmentNumber=...&SessionToken=...&TrackNumber=1
    /hls/v1/getTSFragment.ts?FragmentNumber=...&SessionToken=...&TrackNumber=1

One KVS fragment is one HLS segment, made on request. FRAGMENTED_MP4 follows the API reference:
"There is a distinct HLS media playlist for the video track and the audio track (if applicable)
that contains MP4 media URLs for the specific track" -- the master playlist names the video
playlist (TrackNumber=1) in EXT-X-STREAM-INF and the audio playlist (TrackNumber=2, an AAC track
2) as the EXT-X-MEDIA rendition of group "audio"; each track has its own init segment and media
segments, written by ``media/fmp4.py`` with the absolute decode time of the first sample in
``tfdt`` (the producer clock in the track's timescale), so consecutive segments continue each
other and no media segment repeats the init segment (``moof`` + ``mdat`` only). MPEG_TS follows
the reference too: GetTSFragment "retrieves MPEG TS fragments containing both initialization and
media data for all tracks in the stream", so a TS session has one media playlist (TrackNumber=1)
whose segments carry video and audio, remuxed by FFmpeg (``media/remux.py``) with timestamps from
the same producer clock (modulo 2^33 at 90 kHz).

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
A segment's EXTINF reaches where the next fragment starts when it follows on (an audio frame may
run past the next keyframe), so the durations add up to the media's span.
DiscontinuityMode ALWAYS puts EXT-X-DISCONTINUITY before every segment (and
EXT-X-DISCONTINUITY-SEQUENCE = MEDIA-SEQUENCE), ON_DISCONTINUITY where a fragment starts more than
50 ms away from the end of the one before it (counted within the playlist [inferred]), NEVER
nowhere; the default is ALWAYS for SERVER_TIMESTAMP selectors, NEVER for PRODUCER_TIMESTAMP.
DisplayFragmentTimestamp ALWAYS adds EXT-X-PROGRAM-DATE-TIME (the selector's timestamp).

[inferred] Only AAC audio gets an fMP4 audio playlist (browsers' Media Source cannot play G.711); a
TrackNumber the session does not have is an InvalidArgumentException. The master's CODECS lists
video and audio (the rendition's codec included, as HLS asks). The ClientLimitExceededException
rate limits are not enforced.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from urllib.parse import quote

import sqlalchemy as sa

from ...core.context import RequestContext
from ...core.lifecycle import transition
from ...core.operations import operation
from ...core.routes import http_route
from ...media import fmp4, mkv, remux
from ...protocol.http import HttpResponse
from . import storage
from .clips import check_playable, fragment_time, require_retention, segment_tracks, time_column
from .common import STREAM, errors, find_stream
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
ANCHOR_CLOCK_SLACK_MS = 30_000
PLAYLIST_TYPE = "application/x-mpegURL"


# ---------------------------------------------------------------------------- the session URL

def _session_range(ctx: RequestContext, mode: str, selector: dict) -> tuple[str, int | None, int | None]:
    """(selector type, start ms, end ms) of a request, checked against the mode's rules."""
    selector_type = selector.get("FragmentSelectorType", "SERVER_TIMESTAMP")
    time_range = selector.get("TimestampRange")
    if mode == "LIVE":
        if time_range:
            raise errors.InvalidArgument("TimestampRange must not be set when PlaybackMode is LIVE.")
        return selector_type, None, None
    if not time_range or time_range.get("StartTimestamp") is None:
        raise errors.InvalidArgument(f"TimestampRange.StartTimestamp is required when PlaybackMode is {mode}.")
    start_ms = epoch_ms(time_range["StartTimestamp"])
    end_ms = epoch_ms(time_range["EndTimestamp"]) if time_range.get("EndTimestamp") is not None else None
    if end_ms is None:
        if mode == "ON_DEMAND":
            raise errors.InvalidArgument("TimestampRange.EndTimestamp is required when PlaybackMode is ON_DEMAND.")
        return selector_type, start_ms, None
    if end_ms <= start_ms:
        raise errors.InvalidArgument("EndTimestamp must be later than StartTimestamp.")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise errors.InvalidArgument("The time range between StartTimestamp and EndTimestamp must not exceed 24 hours.")
    if selector_type == "SERVER_TIMESTAMP" and end_ms > int(ctx.now * 1000):
        raise errors.InvalidArgument("EndTimestamp must be in the past when FragmentSelectorType is SERVER_TIMESTAMP.")
    return selector_type, start_ms, end_ms


def _range_condition(stream: dict, now: float, selector_type: str, start_ms: int, end_ms: int | None):
    column = time_column(selector_type)
    return storage.archived(stream, now, column, start_ms, end_ms)


def _live_anchor(window: list[storage.Fragment]) -> dict:
    """The fragment that anchors a LIVE session's timeline: the oldest of the first live window
    (newest first) that still runs on the newest fragment's clock -- producer times falling
    going back, and producer and server clocks apart by the same amount within
    ``ANCHOR_CLOCK_SLACK_MS`` [inferred: a producer that restarted with other timestamps
    starts a new timeline]."""
    newest = anchor = window[0]
    for fragment in window[1:]:
        if fragment.producer_ms >= anchor.producer_ms or abs(
                (newest.producer_ms - fragment.producer_ms) - (newest.server_ms - fragment.server_ms)
        ) > ANCHOR_CLOCK_SLACK_MS:
            break
        anchor = fragment
    return {"Producer": anchor.producer_ms, "Server": anchor.server_ms}


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
    default_results = DEFAULT_ON_DEMAND_RESULTS if mode == "ON_DEMAND" else DEFAULT_LIVE_RESULTS
    limit = max_results or default_results
    if mode == "LIVE":
        recent = storage.archived(stream, ctx.now, storage.fragments.c.server_ms,
                                  int(ctx.now * 1000) - LIVE_RECENT_MS)
        found = storage.fetch(ctx.conn, storage.select_fragments(recent, storage.fragments.c.seq.desc(), limit=1))
        if not found:
            raise errors.ResourceNotFound(f"No fragments were ingested into stream {stream['StreamName']} in the last 30 seconds.")
        window = storage.fetch(ctx.conn, storage.select_fragments(
            storage.archived(stream, ctx.now), storage.fragments.c.seq.desc(), limit=limit))
        anchor = _live_anchor(window)
    else:
        condition = _range_condition(stream, ctx.now, selector_type, start_ms, end_ms)
        found = storage.fetch(ctx.conn, storage.select_fragments(
            condition, time_column(selector_type), storage.fragments.c.seq, limit=1))
        if not found:
            raise errors.ResourceNotFound(f"No fragments were found in stream {stream['StreamName']} for the requested time range.")
        # A replay shows the range's first fragment when the session begins.
        anchor = {"Producer": found[0].producer_ms, "Server": int(ctx.now * 1000)}
    check_playable(stream, segment_tracks(storage.read_header(ctx.conn, found[0].header)[1]))

    # [inferred] The limit of 10 counts the sessions of one protocol.
    stream_key = str(stream["_media_key"])
    existing = ctx.resources.list(SESSION, where={"StreamKey": stream_key, "Protocol": protocol})
    for _, old in existing[:max(0, len(existing) - MAX_SESSIONS_PER_STREAM + 1)]:
        ctx.resources.delete(SESSION, old["Id"])   # the oldest sessions are revoked
    session_id = ctx.ids.alphanumeric(32)
    expires_at = ctx.now + req.get("Expires", DEFAULT_EXPIRES)
    ctx.resources.insert(SESSION, session_id, {
        "Id": session_id, "Protocol": protocol, "StreamName": stream["StreamName"], "StreamKey": stream_key,
        "Mode": mode, "DisplayTimestamp": req.get("DisplayFragmentTimestamp", "NEVER"),
        "MaxResults": limit, "Anchor": anchor,
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
                                         "x-amz-ErrorType": refused.code}, body)


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
        with emulator.context(SERVICE, label, account, region) as ctx:
            session = ctx.resources.get(SESSION, session_id)
            if (session is None or ctx.now >= session["ExpiresAt"]
                    or session.get("Protocol", "HLS") != protocol):
                raise _Refused(403, "NotAuthorizedException", "The session token has expired or is not valid.")
            stream = ctx.resources.get(STREAM, session["StreamName"])
            if stream is None or str(stream.get("_media_key")) != session["StreamKey"]:
                raise _Refused(404, "ResourceNotFoundException", f"The stream {session['StreamName']} does not exist.")
            content_type, body = produce(ctx, session, stream, query)
        return HttpResponse(200, {"Content-Type": content_type}, body, f"{SERVICE} {label}")
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


def session_tracks(ctx, session: dict, fragment: storage.Fragment) -> list[mkv.Track]:
    """The tracks a session serves, from a fragment's producer header: fMP4 has the video track 1
    and an AAC track 2 (each its own playlist / AdaptationSet); MPEG-TS carries every track in
    its segments, listed under TrackNumber 1."""
    tracks = segment_tracks(storage.read_header(ctx.conn, fragment.header)[1])
    return [track for track in tracks
            if (track.number == 1 and fmp4.is_video(track)) or (track.number == 2 and fmp4.is_aac(track))]


def _track_number(query: dict, session: dict, tracks: list[mkv.Track]) -> int:
    """The request's TrackNumber (default 1), refused when the session does not serve it."""
    text = _param(query, "TrackNumber", required=False) or "1"
    numbers = [1] if session["Container"] == "MPEG_TS" else [track.number for track in tracks]
    if not text.isdigit() or int(text) not in numbers:
        raise _Refused(400, "InvalidArgumentException", f"Track {text} is not available in this session.")
    return int(text)


def segment_durations(fragments: list[storage.Fragment]) -> list[int]:
    """Each fragment's segment duration (ms): up to where the next one starts when it follows on
    (an audio track's last frame may reach a little past the next keyframe), its own duration
    at a gap and for the last one, so the durations add up to the media's span."""
    durations = []
    for fragment, after in zip(fragments, fragments[1:] + [None]):
        duration = max(fragment.duration_ms, 1)
        if after is not None and 0 < after.producer_ms - fragment.producer_ms <= duration + DISCONTINUITY_GAP_MS:
            duration = after.producer_ms - fragment.producer_ms
        durations.append(duration)
    return durations


def _media_playlist(ctx, session: dict, stream: dict, token: str, query: dict) -> str:
    fragments, sequence, ended = _playlist_fragments(ctx, session, stream)
    mp4 = session["Container"] == "FRAGMENTED_MP4"
    track = _track_number(query, session, session_tracks(ctx, session, fragments[-1]) if fragments else [])
    durations = segment_durations(fragments)
    # HLS: every EXTINF, rounded to the nearest integer, is at most the target duration.
    target = max([round(d / 1000) for d in durations] or [1])
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{max(target, 1)}",
             f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    if session["Discontinuity"] == "ALWAYS":
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{sequence}")
    if session["Mode"] == "ON_DEMAND":
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if mp4:
        lines.append(f'#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken={token}&TrackNumber={track}'
                     '&SequenceNumber=0"')
    previous_end = None
    for fragment, duration in zip(fragments, durations):
        if session["Discontinuity"] == "ALWAYS" or (
                session["Discontinuity"] == "ON_DISCONTINUITY" and previous_end is not None
                and abs(fragment.producer_ms - previous_end) > DISCONTINUITY_GAP_MS):
            lines.append("#EXT-X-DISCONTINUITY")
        previous_end = fragment.producer_ms + fragment.duration_ms
        if session["DisplayTimestamp"] == "ALWAYS":
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_timestamp(fragment_time(fragment, session['SelectorType']))}")
        lines.append(f"#EXTINF:{duration / 1000:.3f},")
        segment = "getMP4MediaFragment.mp4" if mp4 else "getTSFragment.ts"
        lines.append(f"{segment}?FragmentNumber={fragment.number}&SessionToken={token}&TrackNumber={track}")
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _codecs(tracks: list[mkv.Track]) -> str:
    return ",".join(code for code in (fmp4.codec_string(track) for track in tracks) if code)


def _frame_rate(ctx, stream: dict, fragment: storage.Fragment, segment_head: bytes) -> float | None:
    """Video frames per second in a fragment: frames over the span of their timecodes."""
    data = storage.fragment_bytes(ctx.conn, stream, fragment)
    if data is None:
        return None
    times = sorted(relative for track, relative, _, _ in mkv.cluster_frames(bytes(data))[1] if track == 1)
    if len(times) < 2 or times[-1] == times[0]:
        return None
    return (len(times) - 1) * 1e9 / ((times[-1] - times[0]) * fmp4.timecode_scale_ns(segment_head))


def _bandwidth(fragments: list[storage.Fragment]) -> int:
    return max(f.size * 8000 // max(f.duration_ms, 1) for f in fragments)


def _master_playlist(ctx, session: dict, stream: dict, token: str) -> str:
    fragments, _, _ = _playlist_fragments(ctx, session, stream)
    recent = fragments[-1] if fragments else None
    attributes, renditions = [], []
    if recent is not None:
        segment_head = storage.read_header(ctx.conn, recent.header)[1]
        tracks = segment_tracks(segment_head)
        attributes.append(f"BANDWIDTH={_bandwidth(fragments)}")
        attributes.append(f'CODECS="{_codecs(tracks)}"')
        video = next((t for t in tracks if t.number == 1), None)
        if video is not None and video.width and video.height:
            attributes.append(f"RESOLUTION={video.width}x{video.height}")
        rate = _frame_rate(ctx, stream, recent, segment_head)
        if rate:
            attributes.append(f"FRAME-RATE={rate:.3f}")
        audio = next((t for t in session_tracks(ctx, session, recent) if t.number == 2), None)
        if audio is not None and session["Container"] == "FRAGMENTED_MP4":
            channels = audio.channels or fmp4.aac_config(audio.codec_private).channels
            renditions.append(
                f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,'
                f'CHANNELS="{channels}",URI="getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber=2"')
            attributes.append('AUDIO="audio"')
    else:
        attributes.append("BANDWIDTH=1")
    return "\n".join(["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS", *renditions,
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


def _fragment_at(ctx, stream: dict, producer_ms: str) -> storage.Fragment:
    """The fragment a DASH segment URL names by its producer timestamp (ms)."""
    found = []
    if producer_ms.isdigit():
        condition = sa.and_(storage.archived(stream, ctx.now), storage.fragments.c.producer_ms == int(producer_ms))
        found = storage.fetch(ctx.conn, storage.select_fragments(condition, storage.fragments.c.seq.desc(), limit=1))
    if not found:
        raise _Refused(404, "ResourceNotFoundException", f"No fragment starts at {producer_ms} in the stream.")
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
                      PLAYLIST_TYPE, _media_playlist(ctx, session, stream, _token_param(request), query).encode()))


def _require_mp4(session: dict) -> None:
    if session["Container"] != "FRAGMENTED_MP4":
        raise _Refused(400, "InvalidArgumentException", "This session's ContainerFormat is MPEG_TS.")


def init_fragment(ctx, session: dict, stream: dict, query: dict) -> tuple[str, bytes]:
    """The fMP4 init segment of one track of a session (from the producer header of the first
    fragment its playlist lists)."""
    _require_mp4(session)
    fragments, _, _ = _playlist_fragments(ctx, session, stream)
    if not fragments:
        raise _Refused(404, "ResourceNotFoundException", "The session has no fragments.")
    track = _track_number(query, session, session_tracks(ctx, session, fragments[0]))
    segment_head = storage.read_header(ctx.conn, fragments[0].header)[1]
    return "video/mp4", _remuxed(lambda: remux.fmp4_init(segment_head, track))


def media_fragment(ctx, session: dict, stream: dict, query: dict) -> tuple[str, bytes]:
    """One track of one fragment as an fMP4 media segment with an absolute tfdt."""
    _require_mp4(session)
    if session["Protocol"] == "DASH":
        fragment = _fragment_at(ctx, stream, _param(query, "FragmentTimestamp"))
    else:
        fragment = _session_fragment(ctx, stream, _param(query, "FragmentNumber"))
    track = _track_number(query, session, session_tracks(ctx, session, fragment))
    _, segment_head, cluster = _fragment_media(ctx, stream, fragment)
    following = storage.fetch(ctx.conn, storage.select_fragments(
        sa.and_(storage.archived(stream, ctx.now), storage.fragments.c.seq == fragment.seq + 1),
        storage.fragments.c.seq, limit=1))
    next_start = None
    if following and 0 < following[0].producer_ms - fragment.producer_ms <= fragment.duration_ms + DISCONTINUITY_GAP_MS:
        next_start = following[0].producer_ms
    # [inferred] mfhd sequence numbers: the fragment's place in the stream, counted from 1.
    return "video/mp4", _remuxed(lambda: remux.fmp4_media(segment_head, cluster, track, fragment.producer_ms,
                                                          fragment.seq + 1, next_start))


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
        _track_number(query, session, [])
        fragment = _session_fragment(ctx, stream, _param(query, "FragmentNumber"))
        pieces = _fragment_media(ctx, stream, fragment)
        return "video/MP2T", _remuxed(lambda: remux.mpeg_ts(*pieces, fragment.producer_ms))

    return _serve(emulator, request, "getTSFragment", produce)
