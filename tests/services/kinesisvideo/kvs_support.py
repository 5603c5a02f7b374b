"""Helpers of the Kinesis Video tests: synthetic media (real H.264 made with PyAV, and hand-built
MKV for the error cases), and a driver that runs a test against the HTTP server or in process."""
from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
from dataclasses import dataclass
from typing import Callable

from greenroom.media import ebml, mkv
from greenroom.media.producer import PutMediaError, put_media_bytes
from greenroom.media.source import putmedia_body
from greenroom.media.testsrc import synthetic_video
from support import make_client  # noqa: F401  (re-exported for the KVS tests)

EVERYTHING = {"StartTimestamp": dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
              "EndTimestamp": dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)}


@functools.cache
def video(seconds: float = 4.0, fps: int = 25, audio: bool = False, container: str = "matroska",
          gop: int | None = None) -> bytes:
    """Real H.264 (and AAC) media, made once per set of arguments."""
    return synthetic_video(seconds=seconds, fps=fps, audio=audio, container=container, gop=gop)


@functools.cache
def video_path(seconds: float = 4.0, fps: int = 25, audio: bool = False, container: str = "matroska",
               gop: int | None = None) -> str:
    suffix = {"matroska": ".mkv", "mp4": ".mp4", "mpegts": ".ts"}[container]
    descriptor, path = tempfile.mkstemp(suffix=suffix, prefix="greenroom-kvs-")
    with os.fdopen(descriptor, "wb") as file:
        file.write(video(seconds, fps, audio, container, gop))
    return path


@functools.cache
def video_body(seconds: float = 4.0, fps: int = 25, audio: bool = False) -> tuple[bytes, ...]:
    """A real PutMedia body: header, then one Cluster (+ end-of-fragment Tags) per second."""
    return tuple(putmedia_body(video_path(seconds, fps, audio)))


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


# ---------------------------------------------------------------------------- clients and servers



# ---------------------------------------------------------------------------- driver

@dataclass
class Kvs:
    """One way of reaching greenroom: ``mode`` is "server" or "mock"."""
    mode: str
    client: Callable
    advance: Callable
    put: Callable          # put(body, **options) -> list of acknowledgements
    set_delays: Callable
    emulator: object = None
    base_url: str = ""
    ca_file: str = ""      # the CA to trust when base_url is https://

    def create_active_stream(self, name: str = "cam", retention: int = 24, **options) -> str:
        arn = self.client("kinesisvideo").create_stream(StreamName=name, DataRetentionInHours=retention,
                                                        **options)["StreamARN"]
        self.advance(1)
        return arn

    def put_video(self, stream: str = "cam", seconds: float = 4.0, audio: bool = False,
                  start_ms: int = 1_700_000_000_000) -> list[dict]:
        return self.put(list(video_body(seconds, 25, audio)), stream_name=stream, timecode_type="RELATIVE",
                        producer_start_ms=start_ms)

    def fragments(self, stream: str = "cam", kind: str = "PRODUCER_TIMESTAMP", **time_range) -> list[dict]:
        archived = self.client("kinesis-video-archived-media")
        pages = archived.get_paginator("list_fragments").paginate(
            StreamName=stream, FragmentSelector={"FragmentSelectorType": kind,
                                                 "TimestampRange": time_range or EVERYTHING})
        return [fragment for page in pages for fragment in page["Fragments"]]


def http_put(base_url: str, body, **options) -> list[dict]:
    try:
        return put_media_bytes(base_url, body, **options).acks
    except PutMediaError as error:
        return [{"HttpStatus": error.status, "ErrorType": error.error_type, "Message": error.message}]


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
