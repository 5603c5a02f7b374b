"""Live pictures (decoded frames, e.g. a WebRTC track's) encoded to H.264, and optionally live
sound encoded to AAC, written as a PutMedia body: the MKV header once, then one Cluster
(+ end-of-fragment Tags) per fragment, cut at video keyframes, with ABSOLUTE timecodes in
milliseconds since the epoch.

The encoders are PyAV's (libx264, FFmpeg's aac) without a muxer: libx264's Annex B output is
turned into AVCC (length prefixed NAL units) here, and the first keyframe's SPS/PPS become the
track's CodecPrivate (avcC), so nothing waits in a muxer's buffer. With audio, nothing is
written until both tracks have data (PutMedia refuses a fragment without frames of a declared
track).
"""
from __future__ import annotations

import os
from fractions import Fraction

from . import ebml, mkv
from .source import END_OF_FRAGMENT_TAGS

NAL_SPS, NAL_PPS, NAL_AUD, NAL_SEI = 7, 8, 9, 6
KEYFRAME_INTERVAL_MS = 1000      # a fragment per second
MAX_FRAME_RATE = 30
AUDIO_RATE = 48000
GLOBAL_HEADER = 1 << 22          # AV_CODEC_FLAG_GLOBAL_HEADER


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

    def __init__(self, width: int, height: int, *, audio: bool = False):
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
        self.audio = None
        if audio:
            self.audio = av.CodecContext.create("aac", "w")
            self.audio.sample_rate, self.audio.layout, self.audio.format = AUDIO_RATE, "stereo", "fltp"
            self.audio.time_base = Fraction(1, AUDIO_RATE)
            self.audio.flags |= GLOBAL_HEADER   # extradata: the AudioSpecificConfig for CodecPrivate
            self.audio.open()
            self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE,
                                               frame_size=self.audio.frame_size)
            self.audio_origin_ms: int | None = None
            self.audio_samples = 0
            self.audio_blocks: list[tuple[int, bytes]] = []   # waiting for the next fragment

    def push_audio(self, frame, epoch_ms: int) -> None:
        """Sound (any PyAV AudioFrame) at ``epoch_ms``: encoded now, stored with the fragment
        it falls in (the first sound waits for the first video fragment)."""
        if self.audio is None:
            return
        if self.audio_origin_ms is None:
            self.audio_origin_ms = epoch_ms
        frame.pts = None
        for chunk in self.resampler.resample(frame):
            chunk.pts = self.audio_samples
            self.audio_samples += chunk.samples
            for packet in self.audio.encode(chunk):
                ms = self.audio_origin_ms + packet.pts * 1000 // AUDIO_RATE
                self.audio_blocks.append((ms, bytes(packet)))

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
            if not self.codec_private or (self.audio is not None and not self.audio_blocks):
                return pieces
            pieces.insert(0, self.header())
            self.header_sent = True
            # Sound from before the first picture is not kept (its time would precede the fragment).
            if self.audio is not None:
                self.audio_blocks = [block for block in self.audio_blocks if block[0] >= pts]
        self.fragment.append((pts, keyframe, body))
        return pieces

    def header(self) -> bytes:
        entries = [mkv.track_entry(1, "V_MPEG4/ISO/AVC", codec_private=self.codec_private,
                                   width=self.width, height=self.height)]
        if self.audio is not None:
            entries.append(mkv.track_entry(2, "A_AAC", track_type=2, codec_private=bytes(self.audio.extradata),
                                           sampling_frequency=float(AUDIO_RATE), channels=2))
        return (ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT)
                + mkv.info(segment_uid=os.urandom(16)) + mkv.tracks(*entries))

    def _cluster(self) -> bytes:
        start = self.fragment[0][0]
        end = self.last_key_ms if self.last_key_ms and self.last_key_ms > start else self.fragment[-1][0] + 1
        timed = [(ms, 1, 0x80 if key else 0, data) for ms, key, data in self.fragment]
        if self.audio is not None:
            # The sound up to the next fragment's first picture (every fragment gets some: the
            # earliest waiting sound is kept even if it came late).
            kept = [block for block in self.audio_blocks if block[0] < end] or self.audio_blocks[:1]
            self.audio_blocks = self.audio_blocks[len(kept):]
            timed += [(max(ms, start), 2, 0x80, data) for ms, data in kept]
        timed.sort(key=lambda block: (block[0], block[1]))
        blocks = [mkv.simple_block(track, ms - start, flags, data) for ms, track, flags, data in timed]
        self.fragment = []
        return mkv.cluster(start, blocks) + END_OF_FRAGMENT_TAGS
