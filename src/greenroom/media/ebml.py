"""EBML, the binary format of Matroska: element ids, variable-size integers, and writing elements.

An element is ``id`` (1-4 bytes, its length marker kept as part of the id, as the Matroska
specification writes ids), ``size`` (a variable-size integer, 1-8 bytes; all value bits set means
"unknown size") and ``size`` bytes of payload.
"""
from __future__ import annotations

import struct

# ---------------------------------------------------------------------------- element ids
EBML = 0x1A45DFA3
EBML_VERSION = 0x4286
EBML_READ_VERSION = 0x42F7
EBML_MAX_ID_LENGTH = 0x42F2
EBML_MAX_SIZE_LENGTH = 0x42F3
DOC_TYPE = 0x4282
DOC_TYPE_VERSION = 0x4287
DOC_TYPE_READ_VERSION = 0x4285

SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
INFO = 0x1549A966
TRACKS = 0x1654AE6B
CLUSTER = 0x1F43B675
CUES = 0x1C53BB6B
TAGS = 0x1254C367
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
VOID = 0xEC
CRC32 = 0xBF

TIMECODE_SCALE = 0x2AD7B1
DURATION = 0x4489
SEGMENT_UID = 0x73A4
MUXING_APP = 0x4D80
WRITING_APP = 0x5741
TITLE = 0x7BA9
DATE_UTC = 0x4461

TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_UID = 0x73C5
TRACK_TYPE = 0x83
CODEC_ID = 0x86
CODEC_PRIVATE = 0x63A2
CODEC_NAME = 0x258688
DEFAULT_DURATION = 0x23E383
TRACK_NAME = 0x536E
VIDEO = 0xE0
PIXEL_WIDTH = 0xB0
PIXEL_HEIGHT = 0xBA
AUDIO = 0xE1
SAMPLING_FREQUENCY = 0xB5
CHANNELS = 0x9F

TIMECODE = 0xE7
POSITION = 0xA7
PREV_SIZE = 0xAB
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
BLOCK_DURATION = 0x9B
REFERENCE_BLOCK = 0xFB
SILENT_TRACKS = 0x5854
ENCRYPTED_BLOCK = 0xAF

TAG = 0x7373
TARGETS = 0x63C0
TARGET_TYPE_VALUE = 0x68CA
TAG_TRACK_UID = 0x63C5
SIMPLE_TAG = 0x67C8
TAG_NAME = 0x45A3
TAG_LANGUAGE = 0x447A
TAG_DEFAULT = 0x4484
TAG_STRING = 0x4487
TAG_BINARY = 0x4485

# The elements that may follow one another directly inside a Segment ("level 1").
SEGMENT_CHILDREN = frozenset({SEEK_HEAD, INFO, TRACKS, CLUSTER, CUES, TAGS, CHAPTERS, ATTACHMENTS,
                              VOID, CRC32})

UNKNOWN_SIZE = -1
# An 8-byte "unknown size" (all 56 value bits set), as live producers write it.
UNKNOWN_SIZE_BYTES = b"\x01\xff\xff\xff\xff\xff\xff\xff"


class EbmlError(ValueError):
    """Bytes that are not valid EBML."""


# ---------------------------------------------------------------------------- reading

def read_id(data, pos: int) -> tuple[int, int] | None:
    """(id, position after it), or None when ``data`` ends before the id does."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first >= 0x80:
        length = 1
    elif first >= 0x40:
        length = 2
    elif first >= 0x20:
        length = 3
    elif first >= 0x10:
        length = 4
    else:
        raise EbmlError(f"invalid element id byte 0x{first:02x}")
    end = pos + length
    if end > len(data):
        return None
    return int.from_bytes(data[pos:end], "big"), end


def read_size(data, pos: int) -> tuple[int, int] | None:
    """(size, position after it) with UNKNOWN_SIZE for all-ones, or None when truncated."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first == 0:
        raise EbmlError("invalid element size (no length marker in the first byte)")
    length = 9 - first.bit_length()
    end = pos + length
    if end > len(data):
        return None
    value = first & ((1 << (8 - length)) - 1)
    for byte in data[pos + 1:end]:
        value = (value << 8) | byte
    if value == (1 << (7 * length)) - 1:
        return UNKNOWN_SIZE, end
    return value, end


def read_header(data, pos: int) -> tuple[int, int, int] | None:
    """(id, size, payload start) of the element at ``pos``, or None when truncated."""
    found = read_id(data, pos)
    if found is None:
        return None
    element_id, after_id = found
    sized = read_size(data, after_id)
    if sized is None:
        return None
    return element_id, sized[0], sized[1]


def children(payload, start: int = 0, end: int | None = None):
    """Yield (id, payload start, payload end) of the complete elements in a master's payload."""
    end = len(payload) if end is None else end
    pos = start
    while pos < end:
        header = read_header(payload, pos)
        if header is None:
            raise EbmlError("element header truncated")
        element_id, size, body = header
        if size == UNKNOWN_SIZE or body + size > end:
            raise EbmlError(f"element 0x{element_id:x} overruns its parent")
        yield element_id, body, body + size
        pos = body + size


def read_uint(payload) -> int:
    return int.from_bytes(payload, "big") if len(payload) else 0


def read_float(payload) -> float:
    if len(payload) == 4:
        return struct.unpack(">f", payload)[0]
    if len(payload) == 8:
        return struct.unpack(">d", payload)[0]
    if len(payload) == 0:
        return 0.0
    raise EbmlError("a float element must be 0, 4 or 8 bytes")


def read_vint_value(data, pos: int) -> tuple[int, int]:
    """A variable-size integer without its marker (block track numbers); (value, end)."""
    found = read_size(data, pos)
    if found is None:
        raise EbmlError("variable-size integer truncated")
    return found


# ---------------------------------------------------------------------------- writing

def encode_id(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


def encode_size(size: int, length: int | None = None) -> bytes:
    """The shortest variable-size integer for ``size`` (or exactly ``length`` bytes)."""
    if length is None:
        length = 1
        while size >= (1 << (7 * length)) - 1:
            length += 1
    if length > 8 or size >= (1 << (7 * length)) - 1:
        raise EbmlError(f"size {size} does not fit in {length} bytes")
    # The length marker is the bit just above the 7 * length value bits.
    return (size | (1 << (7 * length))).to_bytes(length, "big")


def element(element_id: int, payload: bytes) -> bytes:
    return encode_id(element_id) + encode_size(len(payload)) + payload


def master(element_id: int, *parts: bytes) -> bytes:
    return element(element_id, b"".join(parts))


def uint(element_id: int, value: int) -> bytes:
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def string(element_id: int, text: str) -> bytes:
    return element(element_id, text.encode("utf-8"))


def float64(element_id: int, value: float) -> bytes:
    return element(element_id, struct.pack(">d", value))


def unknown_size_start(element_id: int) -> bytes:
    """The start of a master element of unknown size (a live Segment or Cluster)."""
    return encode_id(element_id) + UNKNOWN_SIZE_BYTES


def ebml_header(doc_type: str = "matroska", doc_type_version: int = 4) -> bytes:
    return master(
        EBML,
        uint(EBML_VERSION, 1), uint(EBML_READ_VERSION, 1), uint(EBML_MAX_ID_LENGTH, 4),
        uint(EBML_MAX_SIZE_LENGTH, 8), string(DOC_TYPE, doc_type),
        uint(DOC_TYPE_VERSION, doc_type_version), uint(DOC_TYPE_READ_VERSION, 2),
    )


def tags(pairs, target_type_value: int | None = None) -> bytes:
    """A Tags element with one Tag holding a SimpleTag (TagName, TagString) per pair."""
    targets = master(TARGETS, uint(TARGET_TYPE_VALUE, target_type_value)) if target_type_value else master(TARGETS)
    simple = [master(SIMPLE_TAG, string(TAG_NAME, name), string(TAG_STRING, value)) for name, value in pairs]
    return master(TAGS, master(TAG, targets, *simple))
