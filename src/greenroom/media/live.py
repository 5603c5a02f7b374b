"""Live pictures (decoded frames, e.g. a WebRTC track's) encoded to H.264 and written as a
PutMedia body: the MKV header once, then one Cluster (+ end-of-fragment Tags) per fragment,
cut at keyframes, with ABSOLUTE timecodes in milliseconds since the epoch.

The encoder is PyAV's libx264 without a muxer: its Annex B output is turned into AVCC (length
prefixed NAL units) here, and the first keyframe's SPS/PPS become the track's CodecPrivate
(avcC), so nothing waits in a muxer's buffer.
"""
from __future__ import annotations

import os
from fractions import Fraction

from . import ebml, mkv
from .source import END_OF_FRAGMENT_TAGS

NAL_SPS, NAL_PPS, NAL_AUD, NAL_SEI = 7, 8, 9, 6
KEYFRAME_INTERVAL_MS = 1000      # a fragment per second
MAX_FRAME_RATE = 30


def annexb_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (start codes 00 00 01 / 00 00 00 01)."""
    units, start, index, length = [], None, 0, len(data)
    while index + 3 <= length:
        if data[index] == 0 and data[index + 1] == 0 and data[index + 2] == 1:
            if start is not None:
                units.append(data[start:index].rstrip(b"\x00"))
            index += 3
            start = index
        else:
            index += 1
    if start is not None and start < length:
        units.append(data[start:])
    return [unit for unit in units if unit]


def avc_configuration(sps: bytes, pps: bytes) -> bytes:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15) for one SPS and one PPS."""
    return (bytes((1, sps[1], sps[2], sps[3], 0xFF, 0xE1)) + len(sps).to_bytes(2, "big") + sps
            + b"\x01" + len(pps).to_bytes(2, "big") + pps)


class LiveH264Fragments:
    """``push(frame, epoch_ms)`` with PyAV VideoFrames; returns the PutMedia pieces now
    complete (the header before the first fragment, then whole fragments)."""

    def __init__(self, width: int, height: int):
        import av

        self.width, self.height = width - width % 2, height - height % 2
        self.codec = av.CodecContext.create("libx264", "w")
        self.codec.width, self.codec.height, self.codec.pix_fmt = self.width, self.height, "yuv420p"
        self.codec.time_base = Fraction(1, 1000)
        self.codec.framerate = Fraction(MAX_FRAME_RATE, 1)
        keyint = str(KEYFRAME_INTERVAL_MS * MAX_FRAME_RATE // 1000)
        self.codec.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0", "g": keyint,
                              "keyint_min": keyint, "sc_threshold": "0"}
        self.header_sent = False
        self.codec_private = b""
        self.fragment: list[tuple[int, bool, bytes]] = []   # (epoch ms, keyframe, AVCC data)
        self.last_ms = -1
        self.last_key_ms = None

    def push(self, frame, epoch_ms: int) -> list[bytes]:
        import av

        if epoch_ms <= self.last_ms:
            return []   # the encoder wants growing timestamps
        self.last_ms = epoch_ms
        picture = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        picture.pts, picture.time_base = epoch_ms, Fraction(1, 1000)
        force_key = self.last_key_ms is None or epoch_ms - self.last_key_ms >= KEYFRAME_INTERVAL_MS
        picture.pict_type = av.video.frame.PictureType.I if force_key else av.video.frame.PictureType.NONE
        pieces = []
        for packet in self.codec.encode(picture):
            pieces += self._packet(bytes(packet), packet.pts, packet.is_keyframe)
        return pieces

    def finish(self) -> list[bytes]:
        """The last fragment (the encoder flushed)."""
        pieces = []
        try:
            for packet in self.codec.encode(None):
                pieces += self._packet(bytes(packet), packet.pts, packet.is_keyframe)
        except Exception:
            pass
        if self.fragment and self.header_sent:
            pieces.append(self._cluster())
        return pieces

    def _packet(self, data: bytes, pts: int, keyframe: bool) -> list[bytes]:
        units = annexb_units(data)
        sps = next((u for u in units if u[0] & 0x1F == NAL_SPS), None)
        pps = next((u for u in units if u[0] & 0x1F == NAL_PPS), None)
        if sps and pps and not self.codec_private:
            self.codec_private = avc_configuration(sps, pps)
        body = b"".join(len(u).to_bytes(4, "big") + u for u in units
                        if u[0] & 0x1F not in (NAL_SPS, NAL_PPS, NAL_AUD))
        pieces = []
        if keyframe:
            self.last_key_ms = pts
            if self.fragment:
                pieces.append(self._cluster())
        if not self.fragment and not keyframe:
            return pieces   # a fragment starts with a keyframe
        if not self.header_sent:
            if not self.codec_private:
                return pieces
            pieces.insert(0, self.header())
            self.header_sent = True
        self.fragment.append((pts, keyframe, body))
        return pieces

    def header(self) -> bytes:
        entry = mkv.track_entry(1, "V_MPEG4/ISO/AVC", codec_private=self.codec_private,
                                width=self.width, height=self.height)
        return (ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT)
                + mkv.info(segment_uid=os.urandom(16)) + mkv.tracks(entry))

    def _cluster(self) -> bytes:
        start = self.fragment[0][0]
        blocks = [mkv.simple_block(1, ms - start, 0x80 if key else 0, data) for ms, key, data in self.fragment]
        self.fragment = []
        return mkv.cluster(start, blocks) + END_OF_FRAGMENT_TAGS
