"""Helpers of the Kinesis Video tests: synthetic media (real H.264 made with PyAV, in support.py,
and hand-built MKV for the error cases) and reading GetMedia payloads."""
from __future__ import annotations

import asyncio
import threading
import time

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


def received(acks: list[dict]) -> list[str]:
    """The fragment numbers of PutMedia's RECEIVED acknowledgements."""
    return [ack["FragmentNumber"] for ack in acks if ack["EventType"] == "RECEIVED"]


async def until(condition, timeout: float = 10.0) -> None:
    """Wait, without blocking the event loop (a producer's), until ``condition()`` is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def now_tail(media, seen: list, state: dict, stream: str = "cam") -> threading.Thread:
    """Read a GetMedia NOW tail to its end on a thread of its own, noting each fragment number in
    ``seen`` as it arrives, and in ``state`` when GetMedia answered (``started``) and when its
    payload ended (``ended``, both time.monotonic()). Returns the thread once GetMedia answered
    (10 s at most)."""
    answered = threading.Event()

    def read():
        answer = media.get_media(StreamName=stream, StartSelector={"StartSelectorType": "NOW"})
        state["started"] = time.monotonic()
        answered.set()
        parser = mkv.MkvStreamParser()
        for chunk in answer["Payload"].iter_chunks(1024):
            for event in parser.feed(chunk):
                if isinstance(event, mkv.TagsRead) and "AWS_KINESISVIDEO_FRAGMENT_NUMBER" in dict(event.pairs):
                    seen.append(dict(event.pairs)["AWS_KINESISVIDEO_FRAGMENT_NUMBER"])
        state["ended"] = time.monotonic()

    thread = threading.Thread(target=read)
    thread.start()
    answered.wait(10)
    return thread
