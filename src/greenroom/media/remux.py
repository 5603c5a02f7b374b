"""Stored Kinesis Video fragments turned into what players and viewers read, with PyAV (FFmpeg):
a regular MP4 of several fragments (GetClip), remuxed without re-encoding, and still images of
chosen instants (GetImages), decoded from the fragments and encoded as JPEG or PNG.

Fragments arrive here as one Matroska document: the producer's EBML header, Info and Tracks,
then the fragments' Clusters (known sizes, as stored), which is what FFmpeg's matroska demuxer
reads directly.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

from . import ebml, fmp4
from .mkv import segment_document


class RemuxError(ValueError):
    """The stored media cannot be read or written as asked (bad frames, unsupported codec)."""


def matroska(ebml_header: bytes, segment_head: bytes, clusters) -> bytes:
    """One Matroska document of a producer header and Clusters."""
    return segment_document(ebml_header, segment_head, *clusters)


def to_mp4(document: bytes) -> bytes:
    """A regular (non-fragmented) MP4 of every track of a Matroska document, packets
    copied as they are (``moov`` after the media: faststart needs a file to rewrite). Timestamps start where the document's do [inferred: AWS's clips start
    at 0; players seek the edit list either way, and FFmpeg's mp4 muxer shifts to 0 itself]."""
    import av

    output_buffer = io.BytesIO()
    try:
        with av.open(io.BytesIO(document), "r", format="matroska") as source:
            with av.open(output_buffer, "w", format="mp4") as target:
                mapping = {}
                for stream in source.streams:
                    if stream.type in ("video", "audio"):
                        mapping[stream.index] = target.add_stream_from_template(stream)
                if not mapping:
                    raise RemuxError("The fragments hold no audio or video track.")
                for packet in source.demux(*[source.streams[i] for i in mapping]):
                    if packet.dts is None and packet.pts is None:
                        continue  # the flush packet at the end of each stream
                    packet.stream = mapping[packet.stream.index]
                    target.mux(packet)
    except av.FFmpegError as error:
        raise RemuxError(str(error)) from error
    return output_buffer.getvalue()


@dataclass
class DecodedFrame:
    """A decoded video frame and its time in milliseconds from the document's first frame."""
    offset_ms: float
    frame: object  # av.VideoFrame


def video_frames(document: bytes) -> list[DecodedFrame]:
    """Every frame of the first video track, in presentation order, timed from the first one."""
    import av

    try:
        with av.open(io.BytesIO(document), "r", format="matroska") as source:
            if not source.streams.video:
                return []
            stream = source.streams.video[0]
            decoded = [(frame.time, frame) for frame in source.decode(stream) if frame.time is not None]
    except av.FFmpegError as error:
        raise RemuxError(str(error)) from error
    if not decoded:
        return []
    decoded.sort(key=lambda item: item[0])
    first = decoded[0][0]
    return [DecodedFrame((time - first) * 1000, frame) for time, frame in decoded]


def scaled_size(width: int, height: int, want_width: int | None, want_height: int | None) -> tuple[int, int]:
    """The output size: as asked, with the aspect ratio kept when only one side is given, the
    source size when neither is."""
    if want_width and want_height:
        return want_width, want_height
    if want_width:
        return want_width, max(1, round(height * want_width / width))
    if want_height:
        return max(1, round(width * want_height / height)), want_height
    return width, height


def encode_image(frame, image_format: str, *, width: int | None = None, height: int | None = None,
                 jpeg_quality: int = 80) -> bytes:
    """One frame as a JPEG (``jpeg_quality`` 1-100) or PNG image of the given size."""
    import av

    out_width, out_height = scaled_size(frame.width, frame.height, width, height)
    if image_format == "PNG":
        codec, pix_fmt = av.CodecContext.create("png", "w"), "rgb24"
    else:
        codec, pix_fmt = av.CodecContext.create("mjpeg", "w"), "yuvj420p"
        # FFmpeg's qscale runs 2 (best) .. 31 (worst); map 100 -> 2 and 1 -> 31.
        # [inferred] JPEGQuality maps linearly onto the mjpeg quantizer, pinned by qmin = qmax.
        qscale = str(round(31 - (jpeg_quality - 1) * 29 / 99))
        codec.options = {"qmin": qscale, "qmax": qscale}
    codec.width, codec.height, codec.pix_fmt = out_width, out_height, pix_fmt
    codec.time_base = Fraction(1, 25)
    image = frame.reformat(width=out_width, height=out_height, format=pix_fmt)
    image.pts = 0
    packets = list(codec.encode(image)) + list(codec.encode(None))
    return b"".join(bytes(packet) for packet in packets)


# ---------------------------------------------------------------------------- fragmented MP4

def _boxes(data, start: int = 0, end: int | None = None):
    """(type, box start, payload start, box end) of the ISO BMFF boxes in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind = bytes(data[pos + 4:pos + 8]).decode("latin-1")
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise RemuxError(f"bad {kind!r} box at {pos}")
        yield kind, pos, pos + header, pos + size
        pos += size


def _child(data, start: int, end: int, kind: str):
    return next(((s, p, e) for k, s, p, e in _boxes(data, start, end) if k == kind), None)


def track_timescales(init: bytes) -> dict[int, int]:
    """track_ID -> media timescale, from an init segment's moov."""
    found = {}
    moov = _child(init, 0, len(init), "moov")
    if moov is None:
        raise RemuxError("no moov box")
    for kind, _, payload, end in _boxes(init, moov[1], moov[2]):
        if kind != "trak":
            continue
        tkhd, mdia = _child(init, payload, end, "tkhd"), _child(init, payload, end, "mdia")
        version = init[tkhd[1]]
        track_id_at = tkhd[1] + (20 if version == 1 else 12)
        track_id = int.from_bytes(init[track_id_at:track_id_at + 4], "big")
        mdhd = _child(init, mdia[1], mdia[2], "mdhd")
        version = init[mdhd[1]]
        timescale_at = mdhd[1] + (20 if version == 1 else 12)
        found[track_id] = int.from_bytes(init[timescale_at:timescale_at + 4], "big")
    return found


def _cluster_start_seconds(segment_head: bytes, cluster: bytes) -> float:
    from .mkv import cluster_frames, parse_info
    scale = 1_000_000
    for element_id, start, end in ebml.children(segment_head):
        if element_id == ebml.INFO:
            scale = parse_info(segment_head[start:end])
    return cluster_frames(cluster)[0] * scale / 1e9


def _remux_rebased(ebml_header: bytes, segment_head: bytes, cluster: bytes, container: str,
                   options: dict, shift_seconds: float) -> bytes:
    """One fragment remuxed into ``container``, its timestamps moved so the cluster starts at
    ``shift_seconds``."""
    import av

    start = _cluster_start_seconds(segment_head, cluster)
    output_buffer = io.BytesIO()
    try:
        with av.open(io.BytesIO(matroska(ebml_header, segment_head, [cluster])), "r", format="matroska") as source:
            with av.open(output_buffer, "w", format=container, options=options) as target:
                mapping, shifts = {}, {}
                for stream in source.streams:
                    if stream.type in ("video", "audio"):
                        mapping[stream.index] = target.add_stream_from_template(stream)
                        shifts[stream.index] = round((shift_seconds - start) / stream.time_base)
                for packet in source.demux(*[source.streams[i] for i in mapping]):
                    if packet.dts is None and packet.pts is None:
                        continue
                    shift = shifts[packet.stream.index]
                    if packet.pts is not None:
                        packet.pts += shift
                    if packet.dts is not None:
                        packet.dts += shift
                    packet.stream = mapping[packet.stream.index]
                    target.mux(packet)
    except av.FFmpegError as error:
        raise RemuxError(str(error)) from error
    return output_buffer.getvalue()


def _playable_track(segment_head: bytes, track_number: int):
    from .mkv import parse_tracks
    for element_id, start, end in ebml.children(segment_head):
        if element_id == ebml.TRACKS:
            for track in parse_tracks(segment_head[start:end]):
                if track.number == track_number:
                    return track
    raise RemuxError(f"the fragment has no track {track_number}")


def fmp4_init(segment_head: bytes, track_number: int) -> bytes:
    """The fragmented MP4 init segment of one track of a producer header (``media/fmp4.py``)."""
    try:
        return fmp4.init_segment(_playable_track(segment_head, track_number))
    except fmp4.Fmp4Error as error:
        raise RemuxError(str(error)) from error


def fmp4_media(segment_head: bytes, cluster: bytes, track_number: int, start_ms: int, sequence: int,
               next_start_ms: int | None = None) -> bytes:
    """One track of one fragment as a fragmented MP4 media segment (``moof`` + ``mdat``, no
    ``moov``) whose ``tfdt`` is the absolute decode time of its first sample, the cluster
    starting at ``start_ms`` (``next_start_ms``: where the following fragment starts)."""
    track = _playable_track(segment_head, track_number)
    try:
        samples = fmp4.track_samples(track, fmp4.timecode_scale_ns(segment_head), cluster, start_ms, next_start_ms)
        return fmp4.media_segment(track_number, samples, sequence)
    except fmp4.Fmp4Error as error:
        raise RemuxError(str(error)) from error
    except (ValueError, IndexError) as error:   # a damaged cluster
        raise RemuxError(f"the fragment cannot be read: {error}") from error


TS_WRAP_MS = (1 << 33) // 90   # MPEG-TS timestamps are 33-bit, 90 kHz


def mpeg_ts(ebml_header: bytes, segment_head: bytes, cluster: bytes, start_ms: int) -> bytes:
    """One fragment as an MPEG-TS segment whose timestamps are ``start_ms`` (modulo the 33-bit
    90 kHz clock), so consecutive segments continue each other."""
    return _remux_rebased(ebml_header, segment_head, cluster, "mpegts",
                          {"mpegts_copyts": "1", "avoid_negative_ts": "disabled",
                           # each segment is muxed on its own: its first packets say their continuity
                           # counters start afresh (no "corrupt packet" at segment boundaries)
                           "mpegts_flags": "+initial_discontinuity"},
                          (start_ms % TS_WRAP_MS) / 1000)
