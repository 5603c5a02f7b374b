"""Matroska read incrementally, as a live producer sends it, and written back per fragment.

``MkvStreamParser`` takes the bytes of a PutMedia body in whatever pieces they arrive and turns
them into events: the EBML header, the segment's Info and Tracks, each Cluster's start (its
timecode) and end (its bytes, re-encoded with a known size, and a summary of its blocks), and Tags
elements. It never holds more than the element being read: a live Segment and its Clusters have
unknown sizes, so a Cluster ends where the next level-1 element (Cluster, Tags, ...) or a new EBML
header starts, or where the input ends.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

from . import ebml
from .ebml import EbmlError

# The Video and Audio settings of a TrackEntry that are read: element id -> (Track field, reader).
_TRACK_SETTINGS = {
    ebml.PIXEL_WIDTH: ("width", ebml.read_uint),
    ebml.PIXEL_HEIGHT: ("height", ebml.read_uint),
    ebml.SAMPLING_FREQUENCY: ("sampling_frequency", ebml.read_float),
    ebml.CHANNELS: ("channels", ebml.read_uint),
}

DEFAULT_TIMECODE_SCALE_NS = 1_000_000  # Matroska's default: timecodes in milliseconds
MAX_HEADER_ELEMENT_BYTES = 16 * 1024 * 1024  # Info, Tracks, Tags... are small; refuse absurd ones

# What a Cluster may contain; a live cluster ends at anything that is not one of these.
_CLUSTER_CHILDREN = frozenset({ebml.TIMECODE, ebml.POSITION, ebml.PREV_SIZE, ebml.SIMPLE_BLOCK,
                               ebml.BLOCK_GROUP, ebml.SILENT_TRACKS, ebml.ENCRYPTED_BLOCK,
                               ebml.VOID, ebml.CRC32})
# Children that only make sense at their original position in the producer's file.
_DROPPED_CLUSTER_CHILDREN = frozenset({ebml.POSITION, ebml.PREV_SIZE, ebml.VOID, ebml.CRC32})


class MkvError(ValueError):
    """The input is not the Matroska a producer may send. ``truncated`` marks input that ended
    inside an element (a read error rather than invalid data)."""

    def __init__(self, message: str, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated
        self.events: list = []   # what the same input completed before the problem


@dataclass
class Track:
    number: int
    uid: int = 0
    type: int = 0
    codec_id: str = ""
    codec_private: bytes = b""
    default_duration_ns: int = 0
    width: int = 0
    height: int = 0
    sampling_frequency: float = 0.0
    channels: int = 0


@dataclass
class TrackBlocks:
    """What one fragment holds for one track (timecodes relative to the cluster, in ticks)."""
    frames: int = 0
    keyframes: int = 0
    first: int | None = None
    last: int | None = None
    end: int = 0            # the latest (timecode + known duration) seen
    last_with_duration: bool = False


# ---------------------------------------------------------------------------- events

@dataclass
class HeaderRead:
    raw: bytes
    doc_type: str


@dataclass
class InfoRead:
    raw: bytes
    timecode_scale_ns: int


@dataclass
class TracksRead:
    raw: bytes
    tracks: list[Track]


@dataclass
class ClusterStarted:
    timecode: int           # in ticks of the segment's TimecodeScale


@dataclass
class ClusterEnded:
    timecode: int
    parts: list             # the Cluster element (its size in 8 bytes; Position/PrevSize/Void
                            # dropped) as pieces: views of the input, not copies
    blocks: dict[int, TrackBlocks] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def raw(self) -> bytes:
        return b"".join(self.parts)

    def duration_ticks(self) -> int:
        """From the cluster's timecode to the end of its last frame. A SimpleBlock has no
        duration of its own: a track's last frame lasts as long as its typical frame interval
        [inferred: what a player would show]."""
        end = 0
        for blocks in self.blocks.values():
            if blocks.last is None:
                continue
            if blocks.last_with_duration:
                track_end = blocks.end
            elif blocks.frames > 1:
                track_end = blocks.last + (blocks.last - blocks.first) / (blocks.frames - 1)
            else:
                track_end = blocks.last
            end = max(end, track_end, blocks.end)
        return round(end)


@dataclass
class TagsRead:
    raw: bytes
    pairs: list[tuple[str, str]]


# ---------------------------------------------------------------------------- parsing helpers

def parse_ebml_header(payload: bytes) -> str:
    doc_type = "matroska"
    for element_id, start, end in ebml.children(payload):
        if element_id == ebml.DOC_TYPE:
            doc_type = bytes(payload[start:end]).rstrip(b"\x00").decode("ascii", "replace")
    return doc_type


def parse_info(payload: bytes) -> int:
    scale = DEFAULT_TIMECODE_SCALE_NS
    for element_id, start, end in ebml.children(payload):
        if element_id == ebml.TIMECODE_SCALE:
            scale = ebml.read_uint(payload[start:end])
    if scale <= 0:
        raise MkvError("TimecodeScale must be positive")
    return scale


def parse_tracks(payload: bytes) -> list[Track]:
    tracks = []
    for element_id, start, end in ebml.children(payload):
        if element_id != ebml.TRACK_ENTRY:
            continue
        track = Track(number=0)
        for child, child_start, child_end in ebml.children(payload, start, end):
            value = payload[child_start:child_end]
            if child == ebml.TRACK_NUMBER:
                track.number = ebml.read_uint(value)
            elif child == ebml.TRACK_UID:
                track.uid = ebml.read_uint(value)
            elif child == ebml.TRACK_TYPE:
                track.type = ebml.read_uint(value)
            elif child == ebml.CODEC_ID:
                track.codec_id = bytes(value).rstrip(b"\x00").decode("ascii", "replace")
            elif child == ebml.CODEC_PRIVATE:
                track.codec_private = bytes(value)
            elif child == ebml.DEFAULT_DURATION:
                track.default_duration_ns = ebml.read_uint(value)
            elif child in (ebml.VIDEO, ebml.AUDIO):
                for grandchild, g_start, g_end in ebml.children(payload, child_start, child_end):
                    if grandchild in _TRACK_SETTINGS:
                        name, read = _TRACK_SETTINGS[grandchild]
                        setattr(track, name, read(payload[g_start:g_end]))
        if track.number == 0:
            raise MkvError("a TrackEntry has no TrackNumber")
        tracks.append(track)
    return tracks


def parse_tags(payload: bytes) -> list[tuple[str, str]]:
    """The (TagName, TagString) of every SimpleTag directly inside a Tag."""
    pairs = []
    for element_id, start, end in ebml.children(payload):
        if element_id != ebml.TAG:
            continue
        for child, child_start, child_end in ebml.children(payload, start, end):
            if child != ebml.SIMPLE_TAG:
                continue
            name, value = None, ""
            for grandchild, g_start, g_end in ebml.children(payload, child_start, child_end):
                if grandchild == ebml.TAG_NAME:
                    name = bytes(payload[g_start:g_end]).decode("utf-8", "replace")
                elif grandchild == ebml.TAG_STRING:
                    value = bytes(payload[g_start:g_end]).rstrip(b"\x00").decode("utf-8", "replace")
                elif grandchild == ebml.TAG_BINARY:
                    value = bytes(payload[g_start:g_end]).hex()
            if name is not None:
                pairs.append((name, value))
    return pairs


def block_header(payload, start: int, end: int) -> tuple[int, int, int]:
    """(track number, signed relative timecode, flags) of a (Simple)Block's payload."""
    track, pos = ebml.read_vint_value(payload, start)
    if pos + 3 > end:
        raise MkvError("block header truncated")
    relative = int.from_bytes(payload[pos:pos + 2], "big", signed=True)
    return track, relative, payload[pos + 2]


# ---------------------------------------------------------------------------- the stream parser

_OUTSIDE, _SEGMENT, _CLUSTER = range(3)
_CLUSTER_ID = ebml.encode_id(ebml.CLUSTER)
_HEADER_PEEK = 12  # the longest element header: a 4-byte id and an 8-byte size
_BLOCK_PEEK = 11   # a block's track number (up to 8 bytes), timecode (2) and flags (1)


class _Input:
    """The bytes fed and not yet consumed, kept as the pieces they arrived in: a cluster's
    frames are handed on as views of those pieces, never copied (fresh memory costs more than
    the copy itself: every new page faults)."""

    def __init__(self) -> None:
        self.pieces: collections.deque = collections.deque()
        self.offset = 0      # consumed bytes of pieces[0]
        self.size = 0        # bytes available

    def append(self, data) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)  # a caller's buffer may change under us
        if data:
            self.pieces.append(data)
            self.size += len(data)

    def peek(self, count: int) -> bytes:
        """Up to ``count`` bytes from the read position, without consuming them."""
        first = self.pieces[0] if self.pieces else b""
        if len(first) - self.offset >= count:
            return first[self.offset:self.offset + count]
        gathered, offset = bytearray(), self.offset
        for piece in self.pieces:
            gathered += piece[offset:offset + count - len(gathered)]
            offset = 0
            if len(gathered) >= count:
                break
        return bytes(gathered)

    def take(self, count: int) -> list[memoryview]:
        """``count`` bytes as views of the pieces they are in (consumed)."""
        views = []
        self.size -= count
        while count:
            piece = self.pieces[0]
            available = len(piece) - self.offset
            if available <= count:
                views.append(memoryview(piece)[self.offset:])
                self.pieces.popleft()
                self.offset = 0
                count -= available
            else:
                views.append(memoryview(piece)[self.offset:self.offset + count])
                self.offset += count
                count = 0
        return views

    def take_bytes(self, count: int) -> bytes:
        views = self.take(count)
        return bytes(views[0]) if len(views) == 1 else b"".join(views)


class MkvStreamParser:
    """Feed bytes with ``feed``; each call returns the events completed by them. Call ``end``
    when the input is over. Raises MkvError for invalid input (its ``events`` are those the
    same call completed before the problem)."""

    def __init__(self) -> None:
        self._input = _Input()
        self._state = _OUTSIDE
        self._cluster: list = []          # the current cluster's children, as views
        self._cluster_size = 0
        self._cluster_remaining = None    # bytes left in a known-size cluster (None: unknown)
        self._cluster_timecode: int | None = None
        self._blocks: dict[int, TrackBlocks] = {}
        self._pending_child = 0           # declared size of the cluster child being waited for
        self._segment_remaining = None    # bytes left in a known-size segment

    # ---- what the caller may ask while a cluster is read
    @property
    def in_cluster(self) -> bool:
        return self._state == _CLUSTER

    @property
    def cluster_bytes(self) -> int:
        """Bytes of the current cluster so far, counting a child whose header has been read."""
        return self._cluster_size + self._pending_child if self._state == _CLUSTER else 0

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet part of an element read."""
        return self._input.size

    # ---- input
    def feed(self, data) -> list:
        self._input.append(data)
        events: list = []
        try:
            while self._step(events):
                pass
        except (EbmlError, MkvError) as error:
            problem = error if isinstance(error, MkvError) else MkvError(str(error))
            problem.events = events
            raise problem from None
        return events

    def end(self) -> list:
        """The input is over: a live cluster ends here; anything half-read is an error."""
        events: list = []
        if self._input.size:
            raise MkvError(f"the input ended inside an element ({self._input.size} bytes left over)",
                           truncated=True)
        if self._state == _CLUSTER:
            if self._cluster_remaining:
                raise MkvError("the input ended inside a cluster", truncated=True)
            events.append(self._finish_cluster())
        return events

    # ---- one element at a time
    def _consumed(self, count: int) -> None:
        if self._segment_remaining is not None:
            self._segment_remaining -= count

    def _step(self, events: list) -> bool:
        head = self._input.peek(_HEADER_PEEK)
        header = ebml.read_header(head, 0)
        if header is None:
            return False
        element_id, size, header_length = header

        if self._state == _CLUSTER:
            if element_id in _CLUSTER_CHILDREN and (self._cluster_remaining is None or self._cluster_remaining > 0):
                return self._cluster_child(element_id, size, header_length, events)
            if self._cluster_remaining not in (None, 0):
                raise MkvError(f"element 0x{element_id:x} cannot be inside a Cluster")
            if element_id not in ebml.SEGMENT_CHILDREN and element_id != ebml.EBML:
                raise MkvError(f"element 0x{element_id:x} cannot follow a Cluster")
            events.append(self._finish_cluster())
            return True

        if self._state == _OUTSIDE:
            if element_id == ebml.EBML:
                raw = self._whole(size, header_length)
                if raw is None:
                    return False
                doc_type = parse_ebml_header(raw[header_length:])
                if doc_type not in ("matroska", "webm"):
                    raise MkvError(f"DocType {doc_type} is not matroska")
                events.append(HeaderRead(raw, doc_type))
                return True
            if element_id == ebml.SEGMENT:
                self._input.take(header_length)
                self._state = _SEGMENT
                self._segment_remaining = None if size == ebml.UNKNOWN_SIZE else size
                return True
            raise MkvError(f"expected an EBML header or a Segment, found element 0x{element_id:x}")

        # Inside a segment.
        if self._segment_remaining == 0 or element_id == ebml.EBML:
            # A known-size segment is over, or a new one starts (the producer restarted).
            self._state = _OUTSIDE
            self._segment_remaining = None
            return True
        if element_id == ebml.CLUSTER:
            self._input.take(header_length)
            self._consumed(header_length)
            self._state = _CLUSTER
            self._cluster, self._cluster_size = [], 0
            self._cluster_remaining = None if size == ebml.UNKNOWN_SIZE else size
            self._cluster_timecode = None
            self._blocks = {}
            return True
        if element_id not in ebml.SEGMENT_CHILDREN:
            raise MkvError(f"element 0x{element_id:x} cannot be inside a Segment")
        if size == ebml.UNKNOWN_SIZE:
            raise MkvError(f"element 0x{element_id:x} has an unknown size")
        raw = self._whole(size, header_length)
        if raw is None:
            return False
        payload = raw[header_length:]
        if element_id == ebml.INFO:
            events.append(InfoRead(raw, parse_info(payload)))
        elif element_id == ebml.TRACKS:
            events.append(TracksRead(raw, parse_tracks(payload)))
        elif element_id == ebml.TAGS:
            events.append(TagsRead(raw, parse_tags(payload)))
        return True

    def _whole(self, size: int, header_length: int) -> bytes | None:
        """The whole element at the read position once it is all buffered (else None)."""
        if size == ebml.UNKNOWN_SIZE or size > MAX_HEADER_ELEMENT_BYTES:
            raise MkvError(f"an element of {size} bytes is not acceptable here")
        total = header_length + size
        if self._input.size < total:
            return None
        self._consumed(total)
        return self._input.take_bytes(total)

    def _cluster_child(self, element_id: int, size: int, header_length: int, events: list) -> bool:
        if size == ebml.UNKNOWN_SIZE:
            raise MkvError("a Cluster child has an unknown size")
        total = header_length + size
        if self._cluster_remaining is not None and total > self._cluster_remaining:
            raise MkvError("a Cluster child overruns the Cluster")
        if self._input.size < total:
            self._pending_child = total
            return False
        self._pending_child = 0
        if element_id == ebml.TIMECODE:
            if self._cluster_timecode is not None:
                raise MkvError("a Cluster has two Timecodes")
            payload = self._input.peek(total)[header_length:]
            self._cluster_timecode = ebml.read_uint(payload)
            events.append(ClusterStarted(self._cluster_timecode))
        elif element_id == ebml.SIMPLE_BLOCK:
            if self._cluster_timecode is None:
                raise MkvError("a block comes before its Cluster's Timecode")
            head = self._input.peek(header_length + min(size, _BLOCK_PEEK))
            self._note_block(*block_header(head, header_length, len(head)), None)
        elif element_id == ebml.BLOCK_GROUP:
            if self._cluster_timecode is None:
                raise MkvError("a block comes before its Cluster's Timecode")
            self._note_group(self._input.peek(total), header_length, total)
        views = self._input.take(total)
        if element_id not in _DROPPED_CLUSTER_CHILDREN:
            self._cluster += views
            self._cluster_size += total
        self._consumed(total)
        if self._cluster_remaining is not None:
            self._cluster_remaining -= total
            if self._cluster_remaining == 0:
                events.append(self._finish_cluster())
        return True

    def _note_group(self, data: bytes, start: int, end: int) -> None:
        track = relative = duration = None
        keyframe = True
        for child, child_start, child_end in ebml.children(data, start, end):
            if child == ebml.BLOCK:
                track, relative, _ = block_header(data, child_start, child_end)
            elif child == ebml.BLOCK_DURATION:
                duration = ebml.read_uint(data[child_start:child_end])
            elif child == ebml.REFERENCE_BLOCK:
                keyframe = False
        if track is None:
            raise MkvError("a BlockGroup has no Block")
        self._note_block(track, relative, 0x80 if keyframe else 0, duration)

    def _note_block(self, track: int, relative: int, flags: int, duration: int | None) -> None:
        blocks = self._blocks.get(track)
        if blocks is None:
            blocks = self._blocks[track] = TrackBlocks()
        blocks.frames += 1
        blocks.keyframes += bool(flags & 0x80)
        if blocks.first is None or relative < blocks.first:
            blocks.first = relative
        if blocks.last is None or relative >= blocks.last:
            blocks.last = relative
            blocks.last_with_duration = duration is not None
        blocks.end = max(blocks.end, relative + (duration or 0))

    def _finish_cluster(self) -> ClusterEnded:
        if self._cluster_timecode is None:
            raise MkvError("a Cluster has no Timecode")
        # A known size, written in 8 bytes like the live "unknown" size it replaces.
        head = _CLUSTER_ID + ebml.encode_size(self._cluster_size, 8)
        ended = ClusterEnded(self._cluster_timecode, [head, *self._cluster], self._blocks)
        self._state = _SEGMENT
        self._cluster, self._cluster_size = [], 0
        self._cluster_remaining = None
        self._pending_child = 0
        return ended


# ---------------------------------------------------------------------------- writing

def segment_document(ebml_header: bytes, segment_head: bytes, *elements: bytes) -> bytes:
    """A complete MKV document: the EBML header, a Segment of unknown size holding the
    producer's Info and Tracks (``segment_head``) and then ``elements``."""
    return b"".join((ebml_header, ebml.unknown_size_start(ebml.SEGMENT), segment_head, *elements))


def simple_block(track: int, relative_timecode: int, flags: int, data: bytes) -> bytes:
    """A SimpleBlock element; ``flags`` 0x80 marks a keyframe."""
    if not -32768 <= relative_timecode <= 32767:
        raise ValueError(f"relative timecode {relative_timecode} does not fit a block")
    return ebml.element(ebml.SIMPLE_BLOCK, ebml.encode_size(track) + relative_timecode.to_bytes(2, "big", signed=True)
                        + bytes((flags,)) + data)


def cluster(timecode: int, blocks: list[bytes], *, live: bool = True) -> bytes:
    """A Cluster holding its Timecode and ``blocks``; ``live`` writes it with an unknown size,
    as the producer SDKs do."""
    body = ebml.uint(ebml.TIMECODE, timecode) + b"".join(blocks)
    if live:
        return ebml.unknown_size_start(ebml.CLUSTER) + body
    return ebml.element(ebml.CLUSTER, body)


def info(timecode_scale_ns: int = DEFAULT_TIMECODE_SCALE_NS, app: str = "greenroom",
         segment_uid: bytes | None = None) -> bytes:
    parts = [ebml.uint(ebml.TIMECODE_SCALE, timecode_scale_ns), ebml.string(ebml.MUXING_APP, app),
             ebml.string(ebml.WRITING_APP, app)]
    if segment_uid:
        parts.insert(0, ebml.element(ebml.SEGMENT_UID, segment_uid))
    return ebml.master(ebml.INFO, *parts)


def track_entry(number: int, codec_id: str, *, track_type: int = 1, codec_private: bytes = b"",
                uid: int | None = None, width: int = 0, height: int = 0,
                sampling_frequency: float = 0.0, channels: int = 0) -> bytes:
    parts = [ebml.uint(ebml.TRACK_NUMBER, number), ebml.uint(ebml.TRACK_UID, uid or number),
             ebml.uint(ebml.TRACK_TYPE, track_type), ebml.string(ebml.CODEC_ID, codec_id)]
    if codec_private:
        parts.append(ebml.element(ebml.CODEC_PRIVATE, codec_private))
    if width and height:
        parts.append(ebml.master(ebml.VIDEO, ebml.uint(ebml.PIXEL_WIDTH, width), ebml.uint(ebml.PIXEL_HEIGHT, height)))
    if sampling_frequency:
        parts.append(ebml.master(ebml.AUDIO, ebml.float64(ebml.SAMPLING_FREQUENCY, sampling_frequency),
                                 ebml.uint(ebml.CHANNELS, channels or 1)))
    return ebml.master(ebml.TRACK_ENTRY, *parts)


def tracks(*entries: bytes) -> bytes:
    return ebml.master(ebml.TRACKS, *entries)


def cluster_frames(raw: bytes) -> tuple[int, list[tuple[int, int, int, bytes]]]:
    """(timecode, [(track, relative timecode, flags, data after the flags)]) of a Cluster element
    (BlockGroups become SimpleBlock-style entries: keyframe unless they reference another block)."""
    header = ebml.read_header(raw, 0)
    if header is None or header[0] != ebml.CLUSTER:
        raise MkvError("not a Cluster")
    _, size, body = header
    end = len(raw) if size == ebml.UNKNOWN_SIZE else body + size
    timecode, frames = 0, []
    for element_id, start, stop in ebml.children(raw, body, end):
        if element_id == ebml.TIMECODE:
            timecode = ebml.read_uint(raw[start:stop])
        elif element_id == ebml.SIMPLE_BLOCK:
            track, relative, flags = block_header(raw, start, stop)
            data_start = ebml.read_vint_value(raw, start)[1] + 3
            frames.append((track, relative, flags, bytes(raw[data_start:stop])))
        elif element_id == ebml.BLOCK_GROUP:
            block, referenced = None, False
            for child, child_start, child_stop in ebml.children(raw, start, stop):
                if child == ebml.BLOCK:
                    block = (child_start, child_stop)
                elif child == ebml.REFERENCE_BLOCK:
                    referenced = True
            if block is not None:
                track, relative, flags = block_header(raw, *block)
                data_start = ebml.read_vint_value(raw, block[0])[1] + 3
                flags = (flags & 0x0E) | (0 if referenced else 0x80)
                frames.append((track, relative, flags, bytes(raw[data_start:block[1]])))
    return timecode, frames
