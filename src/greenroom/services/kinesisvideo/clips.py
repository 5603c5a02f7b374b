"""GetClip (``kinesis-video-archived-media``): a regular MP4 of the archived fragments in a time
range, remuxed from the stored Matroska without re-encoding (``media/remux.py``).

Rules (the reference and the API documentation):
- a fragment is selected when its (producer or server) timestamp is >= StartTimestamp and
  <= EndTimestamp; StartTimestamp must be before EndTimestamp, the span at most 24 hours;
- the stream must retain data (NoDataRetentionException), hold fragments in the range
  (ResourceNotFoundException), and carry H.264/H.265 on track 1 (UnsupportedStreamMediaType)
  with codec private data (MissingCodecPrivateData); tracks and codec private data must stay the
  same across the clip (InvalidCodecPrivateData);
- the clip holds the first 200 fragments or the first 100 MB from the start, whichever comes first
  (the documentation: "the output will contain the first 100 MB or the first 200 fragments"), so
  a longer range is cut rather than refused.

[inferred] The 1 call/s per stream limit (ClientLimitExceededException) is not enforced: tests
and tools ask for clips back to back under a manual clock.
"""
from __future__ import annotations


from ...core.context import RequestContext
from ...core.operations import operation
from ...media import ebml, mkv, remux
from . import storage
from .common import errors, find_stream
from .fragments import epoch_ms

SERVICE = "kinesis-video-archived-media"
CONTENT_TYPE = "video/mp4"
MAX_CLIP_FRAGMENTS = 200
MAX_CLIP_BYTES = 100 * 1024 * 1024
MAX_RANGE_MS = 24 * 3600 * 1000
VIDEO_CODECS = ("V_MPEG4/ISO/AVC", "V_MPEGH/ISO/HEVC")
AUDIO_CODECS = ("A_AAC", "A_MS/ACM")


def require_retention(stream: dict, what: str) -> None:
    if stream["DataRetentionInHours"] == 0:
        raise errors.NoDataRetention(f"{what} was requested for stream {stream['StreamName']}, which does not retain data "
                                     "(DataRetentionInHours is 0).")


def time_column(selector_type: str):
    return storage.fragments.c.producer_ms if selector_type == "PRODUCER_TIMESTAMP" else storage.fragments.c.server_ms


def fragment_time(fragment: storage.Fragment, selector_type: str) -> int:
    return fragment.producer_ms if selector_type == "PRODUCER_TIMESTAMP" else fragment.server_ms


def segment_tracks(segment_head: bytes) -> list[mkv.Track]:
    """The tracks of a stored producer header's Info + Tracks."""
    for element_id, start, end in ebml.children(segment_head):
        if element_id == ebml.TRACKS:
            return mkv.parse_tracks(segment_head[start:end])
    return []


def check_playable(stream: dict, tracks: list[mkv.Track]) -> None:
    """The media rules of MP4 output (GetClip, HLS/DASH fMP4): H.264/H.265 on track 1 with codec
    private data, optionally AAC/G.711 on track 2."""
    video = next((track for track in tracks if track.number == 1), None)
    if video is None or video.codec_id not in VIDEO_CODECS or any(
            track.number == 2 and track.codec_id not in AUDIO_CODECS for track in tracks):
        found = ", ".join(f"track {t.number}: {t.codec_id}" for t in tracks) or "no tracks"
        raise errors.UnsupportedStreamMediaType(f"The media type of stream {stream['StreamName']} ({found}) is not supported: "
                                                "track 1 must be H.264 (V_MPEG4/ISO/AVC) or H.265 (V_MPEGH/ISO/HEVC), track 2 "
                                                "(optional) AAC or G.711.")
    missing = [track.number for track in tracks if not track.codec_private and track.number in (1, 2)]
    if missing:
        raise errors.MissingCodecPrivateData(f"No codec private data was found in track {missing[0]} of stream {stream['StreamName']}.")


def selected_fragments(ctx: RequestContext, stream: dict, selector_type: str, start_ms: int, end_ms: int,
                       limit: int) -> list[storage.Fragment]:
    column = time_column(selector_type)
    condition = storage.archived(stream, ctx.now, column, start_ms, end_ms)
    return storage.fetch(ctx.conn, storage.select_fragments(condition, column, storage.fragments.c.seq, limit=limit))


def clip_document(ctx: RequestContext, stream: dict, fragments: list[storage.Fragment]) -> bytes:
    """One Matroska document of the fragments (checked: playable, one set of tracks)."""
    ebml_header, segment_head = storage.read_header(ctx.conn, fragments[0].header)
    check_playable(stream, segment_tracks(segment_head))
    first_tracks = [(t.number, t.codec_id, t.codec_private) for t in segment_tracks(segment_head)]
    clusters, total = [], 0
    checked_headers = {fragments[0].header}
    for fragment in fragments:
        if fragment.header not in checked_headers:
            other = [(t.number, t.codec_id, t.codec_private)
                     for t in segment_tracks(storage.read_header(ctx.conn, fragment.header)[1])]
            if other != first_tracks:
                raise errors.InvalidCodecPrivateData("The tracks or codec private data change within the requested range; "
                                                     "they must stay the same across a clip.")
            checked_headers.add(fragment.header)
        data = storage.fragment_bytes(ctx.conn, stream, fragment)
        if data is None:
            continue  # expired between the query and the read
        if clusters and total + len(data) > MAX_CLIP_BYTES:
            break
        clusters.append(bytes(data))
        total += len(data)
    return remux.matroska(ebml_header, segment_head, clusters)


@operation(SERVICE, "GetClip")
def get_clip(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    selector = req["ClipFragmentSelector"]
    selector_type = selector["FragmentSelectorType"]
    start_ms = epoch_ms(selector["TimestampRange"]["StartTimestamp"])
    end_ms = epoch_ms(selector["TimestampRange"]["EndTimestamp"])
    if start_ms >= end_ms:
        raise errors.InvalidArgument("StartTimestamp must be before EndTimestamp.")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise errors.InvalidArgument("The time range between StartTimestamp and EndTimestamp must not exceed 24 hours.")
    require_retention(stream, "GetClip")
    fragments = selected_fragments(ctx, stream, selector_type, start_ms, end_ms, MAX_CLIP_FRAGMENTS)
    if not fragments:
        raise errors.ResourceNotFound(f"No fragments were found in stream {stream['StreamName']} for the requested time range.")
    document = clip_document(ctx, stream, fragments)
    try:
        payload = remux.to_mp4(document)
    except remux.RemuxError as error:
        raise errors.InvalidMediaFrame(f"The frames of the requested clip could not be parsed: {error}") from error
    return {"ContentType": CONTENT_TYPE, "Payload": payload}
