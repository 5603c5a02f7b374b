"""GetDASHStreamingSessionURL (``kinesis-video-archived-media``) and the MPEG-DASH endpoints its URL
leads to (routes no model describes):

    /dash/v1/getDASHManifest.mpd?SessionToken=...
    /dash/v1/getMP4InitFragment.mp4?SessionToken=...&TrackNumber=1
    /dash/v1/getMP4MediaFragment.mp4?SessionToken=...&TrackNumber=1&FragmentTimestamp=...

Sessions, selectors, modes, expiry and the 10-session limit are those of HLS (``hls.py``; the
limit counts each protocol's sessions). The manifest lists the same fragments an HLS media
playlist would (MaxManifestFragmentResults, default 5 live and 1000 on demand), one segment per
fragment and track: the video track in an AdaptationSet ``video/mp4`` (TrackNumber=1), an AAC
track 2 in its own AdaptationSet ``audio/mp4`` (TrackNumber=2), each Representation with its own
init segment and a SegmentTemplate: a SegmentTimeline in milliseconds on the producer clock (the
segments' absolute ``tfdt``, ``media/fmp4.py``) and a media URL naming the segment by its time
(``FragmentTimestamp=$Time$``, the fragment's producer timestamp in ms) [inferred: AWS documents
that its manifests identify fragments by their sequence in the session; a time identifies a
segment across manifest updates for every player, including FFmpeg, whose live DASH reader
renumbers segments on each update].

ON_DEMAND (and a LIVE_REPLAY that reached the end of its range) is a ``static`` MPD with its
duration, ``presentationTimeOffset`` at the first listed fragment. LIVE and LIVE_REPLAY are
``dynamic`` and keep one timeline for the whole session, as a live MPD must (segment times only
grow; a player computes availability from ``availabilityStartTime``): the session's anchor
fragment (LIVE: the oldest of the first live window; LIVE_REPLAY: the range's first) fixes
``presentationTimeOffset`` (its producer timestamp) and ``availabilityStartTime`` (its server
timestamp; for LIVE_REPLAY the session's start), so a fragment's segment becomes available when
its producer time has passed on the server's clock. Fragments older than the anchor or going back
in time are left out. The MPD carries the server's time (``UTCTiming`` direct) so players align
their clock with greenroom's (also under a manual clock) [inferred], is refreshed every second, and
suggests a presentation delay of three segments [inferred].

Not done: AWS "adjusts the media timeline in the manifest file to enable playback of media with
discontinuities"; here a gap between fragments stays a gap in the timeline (and in ``tfdt``),
which players bridge by jumping it.

[inferred] DisplayFragmentTimestamp / DisplayFragmentNumber ALWAYS add ``kvs:ts`` (the selector's
timestamp, epoch seconds) / ``kvs:fn`` attributes to each ``S`` element, in the namespace
``https://kinesisvideo.amazonaws.com/ns/dash`` (AWS documents the attributes, not the namespace).
"""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from ...core.clock import iso_utc_ms
from ...core.context import RequestContext
from ...core.operations import operation
from ...core.routes import http_route
from ...media import fmp4
from ...protocol.http import HttpResponse
from . import storage
from .clips import fragment_time
from .hls import (SERVICE, _bandwidth, _frame_rate, _playlist_fragments, _serve,
                  _token_param, create_session, init_fragment, media_fragment, segment_durations,
                  session_tracks)

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


def _timeline(fragments: list[storage.Fragment], anchor_ms: int | None) -> list[tuple[storage.Fragment, int]]:
    """(fragment, segment duration ms) in presentation order: durations reach the next fragment
    unless there is a real gap, and nothing before ``anchor_ms`` or going back in time is kept."""
    kept: list[storage.Fragment] = []
    for fragment in fragments:
        if anchor_ms is not None and fragment.producer_ms < anchor_ms:
            continue
        if kept and fragment.producer_ms <= kept[-1].producer_ms:
            continue
        kept.append(fragment)
    return list(zip(kept, segment_durations(kept)))


def _adaptation_set(ctx, session: dict, stream: dict, token: str, track, timeline, offset_ms: int) -> list[str]:
    video = fmp4.is_video(track)
    fragments = [fragment for fragment, _ in timeline]
    representation = [f'id="{track.number}"', f'codecs="{fmp4.codec_string(track)}"',
                      f'bandwidth="{_bandwidth(fragments) if fragments else 1}"']
    if video:
        content = 'contentType="video" mimeType="video/mp4"'
        if track.width and track.height:
            representation += [f'width="{track.width}"', f'height="{track.height}"']
        if fragments:
            segment_head = storage.read_header(ctx.conn, fragments[-1].header)[1]
            rate = _frame_rate(ctx, stream, fragments[-1], segment_head)
            if rate:
                representation.append(f'frameRate="{round(rate * 1000)}/1000"')
    else:
        content = 'contentType="audio" mimeType="audio/mp4" lang="und"'
        config = fmp4.aac_config(track.codec_private)
        representation.append(f'audioSamplingRate="{config.sample_rate}"')
    init_url = f"getMP4InitFragment.mp4?SessionToken={token}&TrackNumber={track.number}"
    media_url = f"getMP4MediaFragment.mp4?SessionToken={token}&TrackNumber={track.number}&FragmentTimestamp=$Time$"
    lines = [f'    <AdaptationSet id="{track.number}" {content} segmentAlignment="true" startWithSAP="1">',
             f"      <Representation {' '.join(representation)}>"]
    if not video:
        channels = track.channels or fmp4.aac_config(track.codec_private).channels or 2
        lines.append('        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011"'
                     f' value="{channels}"/>')
    lines += [f'        <SegmentTemplate timescale="1000" presentationTimeOffset="{offset_ms}"'
              f" initialization={quoteattr(init_url)} media={quoteattr(media_url)}>",
              "          <SegmentTimeline>"]
    for fragment, duration in timeline:
        extra = ""
        if session["DisplayTimestamp"] == "ALWAYS":
            extra += f' kvs:ts="{fragment_time(fragment, session["SelectorType"]) / 1000:.3f}"'
        if session.get("DisplayNumber") == "ALWAYS":
            extra += f' kvs:fn="{fragment.number}"'
        lines.append(f'            <S t="{fragment.producer_ms}" d="{duration}"{extra}/>')
    lines.append("          </SegmentTimeline>")
    lines += ["        </SegmentTemplate>", "      </Representation>", "    </AdaptationSet>"]
    return lines


def _manifest(ctx, session: dict, stream: dict, token: str) -> str:
    fragments, _, ended = _playlist_fragments(ctx, session, stream)
    static = ended
    anchor = session.get("Anchor")
    timeline = _timeline(fragments, None if static or anchor is None else anchor["Producer"])
    first_ms = timeline[0][0].producer_ms if timeline else 0
    last_end_ms = timeline[-1][0].producer_ms + timeline[-1][1] if timeline else first_ms
    longest_ms = max([duration for _, duration in timeline] or [1000])
    attributes = ['xmlns="urn:mpeg:dash:schema:mpd:2011"', f'xmlns:kvs="{KVS_NAMESPACE}"',
                  'profiles="urn:mpeg:dash:profile:isoff-live:2011"', 'minBufferTime="PT2S"',
                  f'maxSegmentDuration="{_duration(longest_ms)}"']
    utc_timing = []
    if static:
        offset_ms = first_ms
        attributes += ['type="static"', f'mediaPresentationDuration="{_duration(last_end_ms - first_ms)}"']
    else:
        offset_ms = anchor["Producer"] if anchor else first_ms
        available_from = anchor["Server"] / 1000 if anchor else ctx.now - (last_end_ms - first_ms) / 1000
        depth_ms = max(last_end_ms - first_ms, longest_ms)
        attributes += ['type="dynamic"', 'minimumUpdatePeriod="PT1S"', f'publishTime="{iso_utc_ms(ctx.now)}"',
                       f'availabilityStartTime="{iso_utc_ms(available_from)}"',
                       f'timeShiftBufferDepth="{_duration(depth_ms)}"',
                       f'suggestedPresentationDelay="{_duration(min(3 * longest_ms, depth_ms))}"']
        utc_timing = [f'  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="{iso_utc_ms(ctx.now)}"/>']
    tracks = session_tracks(ctx, session, timeline[-1][0]) if timeline else []
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<MPD {' '.join(attributes)}>",
             '  <Period id="0" start="PT0S">']
    for track in tracks:
        lines += _adaptation_set(ctx, session, stream, token, track, timeline, offset_ms)
    lines += ["  </Period>", *utc_timing, "</MPD>"]
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
