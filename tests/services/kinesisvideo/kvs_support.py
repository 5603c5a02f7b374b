"""Helpers of the Kinesis Video tests: synthetic media (real H.264 made with PyAV, in support.py,
and hand-built MKV for the error cases) and reading GetMedia payloads."""
from __future__ import annotations

from greenroom.media import ebml, mkv
from support import EVERYTHING, http_put, make_client, video, video_body, video_path  # noqa: F401  (re-exported)

# ---------------------------------------------------------------------------- hand-built MKV

def header(track_count: int = 1, timecode_scale_ns: int = 1_000_000) -> bytes:
    entries = [mkv.track_entry(1, "V_MPEG4/ISO/AVC", codec_private=b"\x01\x42\xc0\x1e", width=64, height=48)]
    for number in range(2, track_count + 1):
        entries.append(mkv.track_entry(number, "A_AAC", track_type=2, codec_private=b"\x11\x90",
                                       sampling_frequency=48000.0, channels=1))
    return (ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT) + mkv.info(timecode_scale_ns)
            + mkv.tracks(*entries))


def fake_cluster(timecode: int, *, frames: int = 10, interval: int = 100, tracks=(1,), frame_bytes: int = 200,
                 end_of_fragment: bool = True, tags: list | None = None, live: bool = True) -> bytes:
    """A cluster of fake frames (structurally valid, not decodable) on ``tracks``; the first
    frame of each track is a keyframe. ``tags`` adds fragment metadata after it."""
    blocks = []
    for index in range(frames):
        for track in tracks:
            flags = 0x80 if index == 0 else 0
            blocks.append(mkv.simple_block(track, index * interval, flags, bytes([index % 256]) * frame_bytes))
    pairs = list(tags or [])
    if end_of_fragment:
        pairs.append(("AWS_KINESISVIDEO_END_OF_FRAGMENT", ""))
    return mkv.cluster(timecode, blocks, live=live) + (ebml.tags(pairs) if pairs else b"")


def documents(payload: bytes) -> list[list]:
    """Split a GetMedia payload into its MKV documents, each a list of parser events."""
    parser = mkv.MkvStreamParser()
    result: list[list] = []
    for event in parser.feed(payload) + parser.end():
        if isinstance(event, mkv.HeaderRead):
            result.append([])
        result[-1].append(event)
    return result


def tags_of(document: list) -> list[dict]:
    return [dict(event.pairs) for event in document if isinstance(event, mkv.TagsRead)]
