"""GetDASHStreamingSessionURL (``kinesis-video-archived-media``) and the MPEG-DASH endpoints its URL
leads to (routes no model describes):

    /dash/v1/getDASHManifest.mpd?SessionToken=...
    /dash/v1/getMP4InitFragment.mp4?SessionToken=...&TrackNumber=1
    /dash/v1/getMP4MediaFragment.mp4?FragmentNumber=...&SessionToken=...&TrackNumber=1

Sessions, selectors, modes, expiry and the 10-session limit are those of HLS (``hls.py``; the
limit counts each protocol's sessions). The manifest lists the same fragments an HLS media
playlist would (MaxManifestFragmentResults, default 5 live and 1000 on demand) as one
Representation with a SegmentList: a SegmentTimeline in milliseconds on the producer clock (the
segments' absolute ``tfdt``), ``presentationTimeOffset`` at the first listed fragment, and one
SegmentURL per fragment. ON_DEMAND (and a LIVE_REPLAY that reached the end of its range) is a
``static`` MPD with its duration; LIVE and LIVE_REPLAY are ``dynamic``, refreshed every second.

[inferred] DisplayFragmentTimestamp / DisplayFragmentNumber ALWAYS add ``kvs:ts`` (the selector's
timestamp, epoch seconds) / ``kvs:fn`` attributes to each ``S`` element, in the namespace
``https://kinesisvideo.amazonaws.com/ns/dash`` (AWS documents the attributes, not the namespace).
"""
from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import quoteattr

from ...core.context import RequestContext
from ...core.operations import operation
from ...core.routes import http_route
from ...protocol.http import HttpResponse
from . import storage
from .clips import fragment_time, segment_tracks
from .hls import (SERVICE, _codecs, _frame_rate, _playlist_fragments, _serve, _token_param, create_session,
                  init_fragment, media_fragment)

MPD_TYPE = "application/dash+xml"
KVS_NAMESPACE = "https://kinesisvideo.amazonaws.com/ns/dash"


@operation(SERVICE, "GetDASHStreamingSessionURL")
def get_dash_streaming_session_url(ctx: RequestContext, req: dict) -> dict:
    def settings(selector_type: str) -> dict:
        return {"Container": "FRAGMENTED_MP4", "Discontinuity": "NEVER",
                "DisplayNumber": req.get("DisplayFragmentNumber", "NEVER")}

    token = create_session(ctx, req, "DASH", req.get("DASHFragmentSelector"),
                           req.get("MaxManifestFragmentResults"), settings)
    return {"DASHStreamingSessionURL": ctx.public_url(f"/dash/v1/getDASHManifest.mpd?SessionToken={token}")}


def _duration(ms: int) -> str:
    return f"PT{ms / 1000:.3f}S"


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _manifest(ctx, session: dict, stream: dict, token: str) -> str:
    fragments, _, ended = _playlist_fragments(ctx, session, stream)
    static = ended
    first_ms = fragments[0].producer_ms if fragments else 0
    total_ms = (fragments[-1].producer_ms + fragments[-1].duration_ms - first_ms) if fragments else 0
    attributes = ['xmlns="urn:mpeg:dash:schema:mpd:2011"', f'xmlns:kvs="{KVS_NAMESPACE}"',
                  'profiles="urn:mpeg:dash:profile:isoff-live:2011"', 'minBufferTime="PT2S"']
    if static:
        attributes += ['type="static"', f'mediaPresentationDuration="{_duration(total_ms)}"']
    else:
        # The live edge: the last listed fragment's end, on the session's clock.
        attributes += ['type="dynamic"', 'minimumUpdatePeriod="PT1S"', f'publishTime="{_iso(ctx.now)}"',
                       f'availabilityStartTime="{_iso(ctx.now - total_ms / 1000)}"',
                       f'timeShiftBufferDepth="{_duration(max(total_ms, 1000))}"']
    representation = ['id="1"']
    if fragments:
        recent = fragments[-1]
        segment_head = storage.read_header(ctx.conn, recent.header)[1]
        tracks = segment_tracks(segment_head)
        representation.append(f'codecs="{_codecs(tracks)}"')
        video = next((t for t in tracks if t.number == 1), None)
        if video is not None and video.width and video.height:
            representation += [f'width="{video.width}"', f'height="{video.height}"']
        rate = _frame_rate(ctx, stream, recent, segment_head)
        if rate:
            representation.append(f'frameRate="{round(rate * 1000)}/1000"')
        representation.append(f'bandwidth="{max(f.size * 8000 // max(f.duration_ms, 1) for f in fragments)}"')
    else:
        representation.append('bandwidth="1"')
    init_url = f"getMP4InitFragment.mp4?SessionToken={token}&TrackNumber=1"
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<MPD {' '.join(attributes)}>",
             '  <Period id="0" start="PT0S">',
             '    <AdaptationSet mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">',
             f"      <Representation {' '.join(representation)}>",
             f'        <SegmentList timescale="1000" presentationTimeOffset="{first_ms}">',
             f"          <Initialization sourceURL={quoteattr(init_url)}/>",
             "          <SegmentTimeline>"]
    for fragment in fragments:
        extra = ""
        if session["DisplayTimestamp"] == "ALWAYS":
            extra += f' kvs:ts="{fragment_time(fragment, session["SelectorType"]) / 1000:.3f}"'
        if session.get("DisplayNumber") == "ALWAYS":
            extra += f' kvs:fn="{fragment.number}"'
        lines.append(f'            <S t="{fragment.producer_ms}" d="{fragment.duration_ms}"{extra}/>')
    lines.append("          </SegmentTimeline>")
    for fragment in fragments:
        url = f"getMP4MediaFragment.mp4?FragmentNumber={fragment.number}&SessionToken={token}&TrackNumber=1"
        lines.append(f"          <SegmentURL media={quoteattr(url)}/>")
    lines += ["        </SegmentList>", "      </Representation>", "    </AdaptationSet>", "  </Period>", "</MPD>"]
    return "\n".join(lines) + "\n"


@http_route("GET", "/dash/v1/getDASHManifest.mpd")
def manifest_route(emulator, request) -> HttpResponse:
    return _serve(emulator, request, "getDASHManifest",
                  lambda ctx, session, stream, query: (
                      MPD_TYPE, _manifest(ctx, session, stream, _token_param(request)).encode()),
                  protocol="DASH")


@http_route("GET", "/dash/v1/getMP4InitFragment.mp4")
def init_fragment_route(emulator, request) -> HttpResponse:
    return _serve(emulator, request, "getMP4InitFragment", init_fragment, protocol="DASH")


@http_route("GET", "/dash/v1/getMP4MediaFragment.mp4")
def media_fragment_route(emulator, request) -> HttpResponse:
    return _serve(emulator, request, "getMP4MediaFragment", media_fragment, protocol="DASH")
