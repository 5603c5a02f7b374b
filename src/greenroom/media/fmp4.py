"""Fragmented MP4 (ISO BMFF) written directly from stored Matroska frames, one track per file:
the init segment (``ftyp`` + ``moov`` of that track) and one media segment (``moof`` + ``mdat``)
per fragment, for the HLS and DASH sessions.

Written here rather than by FFmpeg's mp4 muxer because a player joins segments made one at a time:
each track's ``tfdt`` is the absolute decode time of its first sample (the producer clock in the
track's timescale), and sample durations come from the frames' own timestamps, so consecutive
segments continue each other exactly and decode times only grow (FFmpeg restarts every file at 0
and pads or trims each track on its own). No codec work is needed: Matroska's
``V_MPEG4/ISO/AVC`` / ``V_MPEGH/ISO/HEVC`` frames are already length-prefixed NAL units and their
CodecPrivate is the ``avcC`` / ``hvcC`` record; ``A_AAC`` frames are raw AAC and their
CodecPrivate the AudioSpecificConfig that goes into ``esds``.

Timing:
- video runs at 90 kHz [inferred, the usual video timescale]; Matroska timecodes are presentation
  times in storage (decode) order, so decode times are the fragment's sorted presentation times,
  moved back by the largest reordering (B-frames) so no sample presents before it decodes;
- AAC runs at its sampling rate; frames are 1024 (or 960) samples, so a frame whose timecode is
  within a millisecond of the previous frame's end continues it sample-exactly (Matroska rounds
  to milliseconds), a later one starts a gap where its timecode says;
- the last sample of a segment lasts the track's DefaultDuration, else its typical interval
  (video) or one AAC frame (audio); a video frame followed by the next fragment lasts until that
  fragment starts (its keyframe), so video segments continue each other exactly. Audio segments
  continue each other to within one Matroska tick (a millisecond): each fragment's first AAC
  frame starts where its own timecode says [inferred: the stored timecodes carry no more].
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from . import ebml, mkv

VIDEO_TIMESCALE = 90_000
AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
KEYFRAME_FLAGS = 0x02000000       # sample_depends_on = 2 (an I-frame / sync sample)
NON_KEYFRAME_FLAGS = 0x01010000   # sample_depends_on = 1, sample_is_non_sync_sample
UNITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
LACING_BITS = 0x06


class Fmp4Error(ValueError):
    """The frames cannot be written as fragmented MP4 (unsupported codec, laced blocks)."""


# ---------------------------------------------------------------------------- tracks

@dataclass(frozen=True)
class AudioConfig:
    object_type: int
    sample_rate: int
    channels: int
    frame_samples: int


def aac_config(codec_private: bytes) -> AudioConfig | None:
    """The AudioSpecificConfig's object type, (core) sampling rate, channels and frame length."""
    if len(codec_private) < 2:
        return None
    bits = int.from_bytes(codec_private[:8].ljust(8, b"\0"), "big")
    position = 64

    def take(count: int) -> int:
        nonlocal position
        position -= count
        return (bits >> position) & ((1 << count) - 1)

    object_type = take(5)
    if object_type == 31:
        object_type = 32 + take(6)
    index = take(4)
    rate = take(24) if index == 15 else (AAC_SAMPLE_RATES[index] if index < len(AAC_SAMPLE_RATES) else 0)
    channels = take(4)
    frame_samples = 1024
    if object_type in (5, 29):   # explicit SBR/PS: an extension rate, then the core object type
        extension = take(4)
        if extension == 15:
            take(24)
        object_type_core = take(5)
        if object_type_core in (1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23) and take(1):
            frame_samples = 960
    elif object_type in (1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23) and take(1):
        frame_samples = 960
    if not rate:
        return None
    return AudioConfig(object_type, rate, channels, frame_samples)


def is_video(track: mkv.Track) -> bool:
    return track.codec_id in ("V_MPEG4/ISO/AVC", "V_MPEGH/ISO/HEVC")


def is_aac(track: mkv.Track) -> bool:
    return track.codec_id == "A_AAC" and aac_config(track.codec_private) is not None


def codec_string(track: mkv.Track) -> str:
    """The RFC 6381 ``codecs`` value of a track (HLS CODECS, DASH @codecs)."""
    if track.codec_id == "V_MPEG4/ISO/AVC" and len(track.codec_private) >= 4:
        return "avc1." + track.codec_private[1:4].hex()
    if track.codec_id == "V_MPEGH/ISO/HEVC":
        return "hvc1.1.6.L93.B0"   # [inferred] a generic Main-profile string
    if track.codec_id == "A_AAC":
        config = aac_config(track.codec_private)
        return f"mp4a.40.{config.object_type if config else 2}"
    return ""


def timescale(track: mkv.Track) -> int:
    if is_video(track):
        return VIDEO_TIMESCALE
    config = aac_config(track.codec_private)
    if config is None:
        raise Fmp4Error(f"track {track.number} ({track.codec_id}) cannot be written as fragmented MP4")
    return config.sample_rate


# ---------------------------------------------------------------------------- boxes

def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _descriptor(tag: int, payload: bytes) -> bytes:
    """An MPEG-4 descriptor (ISO/IEC 14496-1) with its size in four 7-bit groups."""
    size = len(payload)
    length = bytes([0x80 | ((size >> 21) & 0x7F), 0x80 | ((size >> 14) & 0x7F), 0x80 | ((size >> 7) & 0x7F),
                    size & 0x7F])
    return bytes([tag]) + length + payload


def _sample_entry(track: mkv.Track) -> bytes:
    if is_video(track):
        kind, config_box = ((b"avc1", b"avcC") if track.codec_id == "V_MPEG4/ISO/AVC" else (b"hvc1", b"hvcC"))
        if not track.codec_private:
            raise Fmp4Error(f"track {track.number} has no codec private data")
        visual = (b"\0" * 6 + struct.pack(">H", 1) + b"\0" * 16
                  + struct.pack(">HHIIIH", track.width, track.height, 0x00480000, 0x00480000, 0, 1)
                  + b"\0" * 32 + struct.pack(">Hh", 0x18, -1))
        return _box(kind, visual, _box(config_box, track.codec_private))
    config = aac_config(track.codec_private) if track.codec_id == "A_AAC" else None
    if config is None:
        raise Fmp4Error(f"track {track.number} ({track.codec_id}) cannot be written as fragmented MP4")
    channels = track.channels or config.channels or 2
    rate = config.sample_rate
    audio = (b"\0" * 6 + struct.pack(">H", 1) + b"\0" * 8
             + struct.pack(">HHHHI", channels, 16, 0, 0, (rate << 16) if rate < 65536 else 0))
    decoder_config = _descriptor(0x04, bytes([0x40, 0x15]) + b"\0\0\0" + struct.pack(">II", 0, 0)
                                 + _descriptor(0x05, track.codec_private))
    es = _descriptor(0x03, struct.pack(">HB", 0, 0) + decoder_config + _descriptor(0x06, b"\x02"))
    return _box(b"mp4a", audio, _full_box(b"esds", 0, 0, es))


def init_segment(track: mkv.Track) -> bytes:
    """``ftyp`` + ``moov`` of one track (its Matroska track number is the MP4 track_ID)."""
    video = is_video(track)
    scale = timescale(track)
    ftyp = _box(b"ftyp", b"iso6", struct.pack(">I", 0), b"iso6", b"mp41", b"dash")
    mvhd = _full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 0), struct.pack(">IH", 0x10000, 0x100),
                     b"\0" * 10, UNITY_MATRIX, b"\0" * 24, struct.pack(">I", track.number + 1))
    tkhd = _full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, track.number, 0, 0), b"\0" * 8,
                     struct.pack(">hhhH", 0, 0, 0 if video else 0x100, 0), UNITY_MATRIX,
                     struct.pack(">II", (track.width << 16) if video else 0, (track.height << 16) if video else 0))
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, scale, 0), struct.pack(">HH", 0x55C4, 0))
    handler, name = (b"vide", b"VideoHandler\0") if video else (b"soun", b"SoundHandler\0")
    hdlr = _full_box(b"hdlr", 0, 0, b"\0" * 4, handler, b"\0" * 12, name)
    media_header = _full_box(b"vmhd", 0, 1, b"\0" * 8) if video else _full_box(b"smhd", 0, 0, b"\0" * 4)
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stbl = _box(b"stbl", _full_box(b"stsd", 0, 0, struct.pack(">I", 1), _sample_entry(track)),
                _full_box(b"stts", 0, 0, b"\0" * 4), _full_box(b"stsc", 0, 0, b"\0" * 4),
                _full_box(b"stsz", 0, 0, b"\0" * 8), _full_box(b"stco", 0, 0, b"\0" * 4))
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", media_header, dinf, stbl)))
    trex = _full_box(b"trex", 0, 0, struct.pack(">IIIII", track.number, 1, 0, 0, 0))
    return ftyp + _box(b"moov", mvhd, trak, _box(b"mvex", trex))


# ---------------------------------------------------------------------------- samples

@dataclass
class Sample:
    decode: int        # decode time, in the track's timescale
    duration: int
    offset: int        # composition offset: presentation - decode
    keyframe: bool
    data: bytes


def timecode_scale_ns(segment_head: bytes) -> int:
    for element_id, start, end in ebml.children(segment_head):
        if element_id == ebml.INFO:
            return mkv.parse_info(segment_head[start:end])
    return mkv.DEFAULT_TIMECODE_SCALE_NS


def track_samples(track: mkv.Track, scale_ns: int, cluster: bytes, start_ms: int,
                  next_start_ms: int | None = None) -> list[Sample]:
    """The samples of one track of a stored Cluster, timed absolutely in the track's timescale:
    the Cluster's own timecode is ``start_ms`` (the fragment's producer timestamp). With
    ``next_start_ms`` (where the next fragment of the stream starts, when it follows on) the
    last video frame lasts until then, so the next segment continues this one exactly."""
    rate = timescale(track)
    _, frames = mkv.cluster_frames(cluster)
    picked = []
    for number, relative, flags, data in frames:
        if number != track.number:
            continue
        if flags & LACING_BITS:
            raise Fmp4Error("laced Matroska blocks are not supported")
        ticks = (start_ms * 1_000_000 + relative * scale_ns) * rate
        picked.append((ticks // 1_000_000_000 + (ticks % 1_000_000_000 >= 500_000_000), bool(flags & 0x80), data))
    if not picked:
        return []
    default = round(track.default_duration_ns * rate / 1e9) if track.default_duration_ns else 0
    if is_video(track):
        presented = [time for time, _, _ in picked]
        ordered = sorted(presented)
        reorder = max(0, max(decode - shown for decode, shown in zip(ordered, presented)))
        decodes = [time - reorder for time in ordered]
        offsets = [shown - decode for shown, decode in zip(presented, decodes)]
        if not default and len(ordered) > 1:
            default = max(1, round((ordered[-1] - ordered[0]) / (len(ordered) - 1)))
        if next_start_ms is not None:
            rest = (next_start_ms * rate + 500) // 1000 - reorder - decodes[-1]
            if 0 < rest <= 2 * (default or rest):
                default = rest
    else:
        frame = aac_config(track.codec_private).frame_samples
        tolerance = (scale_ns * rate + 999_999_999) // 1_000_000_000 + 1   # one Matroska tick, rounded up
        decodes = []
        for time, _, _ in picked:
            if decodes and abs(time - (decodes[-1] + frame)) <= tolerance:
                time = decodes[-1] + frame
            decodes.append(max(time, decodes[-1] + 1) if decodes else time)
        offsets = [0] * len(decodes)
        default = default or frame
    default = default or rate // 25
    durations = [after - before for before, after in zip(decodes, decodes[1:])] + [default]
    return [Sample(decode, duration, offset, keyframe or not is_video(track), data)
            for decode, duration, offset, (_, keyframe, data) in zip(decodes, durations, offsets, picked)]


def media_segment(track_id: int, samples: list[Sample], sequence: int) -> bytes:
    """``moof`` (``mfhd`` with ``sequence``, one ``traf`` with an absolute ``tfdt``) + ``mdat``."""
    signed = any(sample.offset < 0 for sample in samples)
    entries = b"".join(struct.pack(">III", sample.duration, len(sample.data),
                                   KEYFRAME_FLAGS if sample.keyframe else NON_KEYFRAME_FLAGS)
                       + struct.pack(">i" if signed else ">I", sample.offset) for sample in samples)
    # data-offset, sample duration, size, flags and composition offset present
    trun_flags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800

    def moof(data_offset: int) -> bytes:
        trun = _full_box(b"trun", 1 if signed else 0, trun_flags, struct.pack(">Ii", len(samples), data_offset),
                         entries)
        traf = _box(b"traf", _full_box(b"tfhd", 0, 0x020000, struct.pack(">I", track_id)),
                    _full_box(b"tfdt", 1, 0, struct.pack(">Q", samples[0].decode if samples else 0)), trun)
        return _box(b"moof", _full_box(b"mfhd", 0, 0, struct.pack(">I", sequence & 0xFFFFFFFF)), traf)

    size = len(moof(0))
    payload = b"".join(sample.data for sample in samples)
    return moof(size + 8) + _box(b"mdat", payload)
