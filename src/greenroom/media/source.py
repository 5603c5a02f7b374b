"""Any file PyAV can read, as a PutMedia body: remuxed to Matroska, cut into one Cluster per
fragment at video keyframes.

PyAV's own Matroska muxer does the codec work (H.264 in MPEG-TS becomes AVCC with its
CodecPrivate, and so on); its output is read back with ``MkvStreamParser`` and its frames are
regrouped: a fragment starts at every video keyframe (without video: every 2 seconds), and a
fragment that would pass ``MAX_FRAGMENT_MS`` is cut there (KVS refuses fragments over 10 s).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Iterator

from . import ebml, mkv

MAX_FRAGMENT_MS = 9_000
AUDIO_ONLY_FRAGMENT_MS = 2_000
MAX_TRACKS = 3
END_OF_FRAGMENT_TAGS = ebml.tags([("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")])


@dataclass
class Frame:
    track: int
    timecode_ms: int   # from the start of the file
    flags: int         # SimpleBlock flags: 0x80 keyframe (lacing bits kept)
    data: bytes

    @property
    def keyframe(self) -> bool:
        return bool(self.flags & 0x80)


class _Sink:
    """Where PyAV's muxer writes: handed straight to the MKV parser."""

    def __init__(self) -> None:
        self.parser = mkv.MkvStreamParser()
        self.events: list = []

    def write(self, data) -> int:
        self.events += self.parser.feed(bytes(data))
        return len(data)


class MediaSource:
    """A media file remuxed to Matroska: ``tracks`` (the Tracks element) and ``frames()``."""

    def __init__(self, path: str | os.PathLike, *, audio: bool = True):
        import av  # PyAV is only needed by the producer side

        self.path = str(path)
        self._av = av
        with av.open(self.path) as probe:
            video = [s for s in probe.streams.video][:1]
            sound = [s for s in probe.streams.audio][:1] if audio else []
            if not video and not sound:
                raise ValueError(f"{self.path} has no video or audio stream")
            self.stream_indexes = [s.index for s in video + sound][:MAX_TRACKS]
            self.has_video = bool(video)
        self.tracks = b""
        self.video_track = 1 if self.has_video else None
        # Read the header now, so Tracks is known before the first frame is asked for.
        self._frames = self._remux()
        self._first = next(self._frames, None)

    def _remux(self) -> Iterator[Frame]:
        av = self._av
        sink = _Sink()
        with av.open(self.path) as source:
            inputs = [source.streams[index] for index in self.stream_indexes]
            output = av.open(sink, "w", format="matroska", options={"live": "1"})
            mapping = {}
            for stream in inputs:
                mapping[stream.index] = output.add_stream_from_template(stream)
            origin = None
            for packet in source.demux(inputs):
                if packet.dts is None and packet.pts is None:
                    continue  # a demuxer's flush packet
                packet.stream = mapping[packet.stream.index]
                output.mux(packet)
                for frame in self._drain(sink):
                    if origin is None:
                        origin = frame.timecode_ms
                    frame.timecode_ms -= origin
                    yield frame
            output.close()
            for event in sink.parser.end():
                sink.events.append(event)
            for frame in self._drain(sink):
                if origin is None:
                    origin = frame.timecode_ms
                frame.timecode_ms -= origin
                yield frame

    def _drain(self, sink: _Sink) -> Iterator[Frame]:
        events, sink.events = sink.events, []
        for event in events:
            if isinstance(event, mkv.TracksRead):
                self.tracks = event.raw
            elif isinstance(event, mkv.InfoRead):
                self._scale = event.timecode_scale_ns
            elif isinstance(event, mkv.ClusterEnded):
                scale = getattr(self, "_scale", mkv.DEFAULT_TIMECODE_SCALE_NS)
                timecode, frames = mkv.cluster_frames(event.raw)
                for track, relative, flags, data in frames:
                    yield Frame(track, round((timecode + relative) * scale / 1_000_000), flags, data)

    def frames(self) -> Iterator[Frame]:
        if self._first is not None:
            yield self._first
            yield from self._frames

    def header(self) -> bytes:
        """EBML header, Segment of unknown size, Info (milliseconds) and the remuxed Tracks."""
        return (ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT)
                + mkv.info(segment_uid=os.urandom(16)) + self.tracks)


def fragments(frames: Iterator[Frame], video_track: int | None) -> Iterator[list[Frame]]:
    """Group frames into fragments: a new one at each video keyframe, and whenever one would
    last longer than MAX_FRAGMENT_MS (every AUDIO_ONLY_FRAGMENT_MS without video)."""
    current: list[Frame] = []
    start = 0
    has_video = False
    limit = MAX_FRAGMENT_MS if video_track is not None else AUDIO_ONLY_FRAGMENT_MS
    for frame in frames:
        is_video = frame.track == video_track
        # Audio before the first video frame joins the first fragment (every fragment needs
        # frames of every track).
        cut = bool(current) and ((is_video and frame.keyframe and has_video)
                                 or frame.timecode_ms - start >= limit)
        if cut:
            yield current
            current, has_video = [], False
        if not current:
            start = frame.timecode_ms
        current.append(frame)
        has_video = has_video or is_video
    if current:
        yield current


def fragment_cluster(frames: list[Frame], timecode_ms: int, offset_ms: int = 0) -> bytes:
    """The fragment as a live Cluster (unknown size) at ``timecode_ms`` + the SDK's end-of-fragment
    Tags, with every frame moved by ``offset_ms``."""
    return b"".join(piece for _, piece in _fragment_pieces(frames, timecode_ms, offset_ms))


def _fragment_pieces(frames: list[Frame], timecode_ms: int, offset_ms: int):
    """(due ms, bytes): the cluster's start when its first frame is due, each frame when it is
    due, the end-of-fragment Tags when the next frame would be."""
    blocks = []
    for frame in frames:
        due = frame.timecode_ms + offset_ms
        blocks.append((due, mkv.simple_block(frame.track, due - timecode_ms, frame.flags, frame.data)))
    yield timecode_ms, ebml.unknown_size_start(ebml.CLUSTER) + ebml.uint(ebml.TIMECODE, timecode_ms)
    # Frames go out in time order (the muxer's order may put audio slightly ahead).
    last = timecode_ms
    for due, block in blocks:
        last = max(last, due)
        yield last, block
    yield last + _frame_interval(frames), END_OF_FRAGMENT_TAGS


def paced_pieces(path: str | os.PathLike, *, loop: bool = False, max_loops: int | None = None,
                 audio: bool = True):
    """(due ms from the start, bytes) of a PutMedia body for a file: the header (due at 0), then
    per fragment the Cluster's start, its frames and the end-of-fragment Tags, each due when a
    live camera would have it. ``loop`` repeats the file with continuing timecodes
    (``max_loops`` times, or forever)."""
    source = MediaSource(path, audio=audio)
    yield 0, source.header()
    offset = 0
    passes = 0
    cached: list[list[Frame]] | None = None
    while True:
        groups = cached if cached is not None else fragments(source.frames(), source.video_track)
        collected = []
        end = 0
        for group in groups:
            if cached is None and loop:
                collected.append(group)
            yield from _fragment_pieces(group, offset + group[0].timecode_ms, offset)
            end = max(end, max(f.timecode_ms for f in group) + _frame_interval(group))
        passes += 1
        if not loop or (max_loops is not None and passes >= max_loops) or end == 0:
            return
        if cached is None:
            cached = collected
        offset += end


def putmedia_body(path: str | os.PathLike, *, realtime: bool = False, loop: bool = False,
                  audio: bool = True, max_loops: int | None = None, clock=time.monotonic,
                  sleep=time.sleep) -> Iterator[bytes]:
    """The pieces of a PutMedia body for a file: the header, then a Cluster (+ end-of-fragment
    Tags) per fragment, with timecodes in milliseconds from the start (RELATIVE timecodes);
    ``realtime`` paces them as a live camera would send them (see ``paced_pieces``)."""
    started = clock()
    pieces = paced_pieces(path, loop=loop, max_loops=max_loops, audio=audio)
    yield next(pieces)[1]  # the header
    fragment = []
    for due, piece in pieces:
        if realtime:
            delay = started + due / 1000 - clock()
            if delay > 0:
                sleep(delay)
            yield piece
            continue
        # Whole fragments at once when nothing paces them.
        fragment.append(piece)
        if piece is END_OF_FRAGMENT_TAGS:
            yield b"".join(fragment)
            fragment = []


def _frame_interval(group: list[Frame]) -> int:
    times = sorted({f.timecode_ms for f in group})
    if len(times) < 2:
        return 33
    return max(1, round((times[-1] - times[0]) / (len(times) - 1)))
