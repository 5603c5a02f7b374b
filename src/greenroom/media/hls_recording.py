"""A live recording as HLS: encoded WebRTC frames in (VP8/H.264 pictures, Opus packets, as
``media.sfu`` taps hand them out), MPEG-TS segments, playlists and JPEG thumbnails out, written
through a ``write(name, data, content_type)`` callback as they are made.

Pictures are decoded and encoded again as H.264 (libx264) and sound as AAC: HLS players take
neither VP8 nor Opus in MPEG-TS. Each segment is its own MPEG-TS file with encoders of its own,
so it starts with a keyframe and lasts the target duration (cut on the pictures' times); a
segment's sound continues the previous one's timeline (each AAC encoder adds its priming).

Names under the recording: ``hls/multivariant.m3u8`` -> ``hls/high/playlist.m3u8`` ->
``hls/high/{n}.ts`` (n from 0); thumbnails ``thumbnails/high/{n}.jpg`` (n from 1, one per
interval of recorded time, first at 0) and ``latest_thumbnail/high/thumb.jpg``; the caller puts
them under its own prefix. The media playlist is an EVENT playlist while recording and a VOD one
(with ``EXT-X-ENDLIST``) once finished; a recording resumed after a pause (``resume``) goes on
after an ``EXT-X-DISCONTINUITY``.

Work happens on a thread of the recorder's own: ``video``/``audio`` only queue, so an event
loop feeding it never waits for a codec.
"""
from __future__ import annotations

import fractions
import io
import logging
import math
import queue
import threading
from dataclasses import dataclass, field
from typing import Callable


log = logging.getLogger("greenroom.recording")

AUDIO_RATE = 48000
VIDEO_CLOCK = 90000
FRAME_RATE = 30


@dataclass
class ThumbnailPlan:
    interval: float                 # seconds of recorded time between thumbnails
    sequential: bool = True         # thumbnails/high/{n}.jpg
    latest: bool = False            # latest_thumbnail/high/thumb.jpg, overwritten


@dataclass
class Summary:
    duration: float = 0.0
    segments: list = field(default_factory=list)      # (name, seconds, discontinuity)
    width: int = 0
    height: int = 0
    thumbnails: int = 0


class _Segment:
    """One MPEG-TS file being written, with its own encoders."""

    def __init__(self, start: float, width: int, height: int, video: bool, audio: bool):
        self.start = self.end = start
        self.buffer = io.BytesIO()
        import av  # PyAV loads in ~0.1 s: only when a recording starts, not at server start
        self.container = av.open(self.buffer, "w", format="mpegts")
        self.video = self.audio = None
        if video:
            self.video = self.container.add_stream("libx264", rate=FRAME_RATE)
            self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
            self.video.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            self.video.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
        if audio:
            self.audio = self.container.add_stream("aac", rate=AUDIO_RATE)
            self.audio.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.last_video_pts = -1
        self.frames = 0

    def picture(self, frame: av.VideoFrame, at: float) -> None:
        pts = int(round(at * VIDEO_CLOCK))
        if pts <= self.last_video_pts:
            return  # two pictures at one time: keep the first
        self.last_video_pts = pts
        if frame.width != self.video.width or frame.height != self.video.height or frame.format.name != "yuv420p":
            frame = frame.reformat(self.video.width, self.video.height, "yuv420p")
        frame.pts, frame.time_base = pts, self.video.time_base
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def sound(self, frame: av.AudioFrame, at: float) -> None:
        frame.pts, frame.time_base = int(round(at * AUDIO_RATE)), self.audio.time_base
        for packet in self.audio.encode(frame):
            self.container.mux(packet)

    def close(self) -> bytes:
        for stream in (self.video, self.audio):
            if stream is not None:
                for packet in stream.encode(None):
                    self.container.mux(packet)
        self.container.close()
        return self.buffer.getvalue()


class HlsRecorder:
    def __init__(self, write: Callable[[str, bytes, str], None], *, segment_seconds: float = 6.0,
                 video: bool = True, audio: bool = True, thumbnails: ThumbnailPlan | None = None):
        self.write = write
        self._multivariant_written: bytes | None = None
        self.segment_seconds = segment_seconds
        self.record_video, self.record_audio = video, audio
        self.thumbnails = thumbnails
        self.summary = Summary()
        self._queue: queue.Queue = queue.Queue()
        self._decoders: dict[str, av.CodecContext] = {}
        self._segment: _Segment | None = None
        self._offset = 0.0                  # recorded time before the current attachment
        self._origin: dict[str, int] = {}   # first input timestamp of each kind in this attachment
        self._discontinuity = False
        self._next_thumbnail = 0.0
        import av
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self._thread = threading.Thread(target=self._run, name="hls-recorder", daemon=True)
        self._thread.start()

    # ---- feeding (any thread)
    def video(self, codec_name: str, data: bytes, timestamp: int) -> None:
        self._queue.put(("video", codec_name, data, timestamp))

    def audio(self, codec_name: str, data: bytes, timestamp: int) -> None:
        self._queue.put(("audio", codec_name, data, timestamp))

    def resume(self) -> None:
        """The publisher comes back: what follows continues the recording after a discontinuity."""
        self._queue.put(("resume",))

    def finish(self, timeout: float = 30) -> Summary:
        self._queue.put(None)
        self._thread.join(timeout)
        return self.summary

    # ---- work (the recorder's thread)
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            try:
                if item[0] == "resume":
                    self._close_segment()
                    self._offset = self.summary.duration
                    self._origin.clear()
                    self._discontinuity = True
                    self._decoders.clear()
                else:
                    self._take(*item)
            except Exception:
                log.exception("recording a %s frame failed", item[0])
        try:
            self._close_segment()
            self._write_playlist(finished=True)
        except Exception:
            log.exception("finishing a recording failed")

    def _take(self, kind: str, codec_name: str, data: bytes, timestamp: int) -> None:
        if kind == "video" and not (self.record_video or self.thumbnails):
            return
        if kind == "audio" and not self.record_audio:
            return
        import av
        decoder = self._decoders.get(kind)
        if decoder is None:
            decoder = self._decoders[kind] = av.CodecContext.create(codec_name.lower(), "r")
        clock = VIDEO_CLOCK if kind == "video" else AUDIO_RATE
        origin = self._origin.setdefault(kind, timestamp)
        at = self._offset + (timestamp - origin) / clock
        try:
            frames = decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return  # a picture that needs one lost before it: the next keyframe repairs
        for frame in frames:
            if kind == "video":
                self._picture(frame, at)
            else:
                for resampled in self._resampler.resample(frame):
                    self._sound(resampled, at)
                    at += resampled.samples / AUDIO_RATE

    def _picture(self, frame: av.VideoFrame, at: float) -> None:
        if self.thumbnails is not None and at >= self._next_thumbnail:
            self._thumbnail(frame)
            self._next_thumbnail = (math.floor(at / self.thumbnails.interval) + 1) * self.thumbnails.interval
        if not self.record_video:
            return
        segment = self._segment_for(at, frame)
        if segment is not None:
            segment.picture(frame, at)
            segment.end = max(segment.end, at + 1 / FRAME_RATE)
            self.summary.duration = max(self.summary.duration, segment.end)

    def _sound(self, frame: av.AudioFrame, at: float) -> None:
        segment = self._segment if self._segment is not None else (
            None if self.record_video else self._segment_for(at, None))
        if segment is None or segment.audio is None:
            return  # sound before the first picture waits for it (segments start with pictures)
        if not self.record_video and at - segment.start >= self.segment_seconds:
            segment = self._segment_for(at, None, cut=True)
        segment.sound(frame, at)
        segment.end = max(segment.end, at + frame.samples / AUDIO_RATE)
        self.summary.duration = max(self.summary.duration, segment.end)

    def _segment_for(self, at: float, frame, cut: bool = False) -> _Segment | None:
        segment = self._segment
        if segment is not None and (cut or at - segment.start >= self.segment_seconds):
            self._close_segment()
            segment = None
        if segment is None:
            width, height = (frame.width, frame.height) if frame is not None else (0, 0)
            width, height = width - width % 2, height - height % 2
            if self.record_video and not (width and height):
                return None
            segment = self._segment = _Segment(at, width, height, self.record_video, self.record_audio)
            if self.record_video:
                self.summary.width, self.summary.height = width, height
        return segment

    def _close_segment(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        data = segment.close()
        length = max(segment.end - segment.start, 1 / FRAME_RATE)
        name = f"{len(self.summary.segments)}.ts"
        self.write(f"hls/high/{name}", data, "video/MP2T")
        self.summary.segments.append((name, length, self._discontinuity))
        self._discontinuity = False
        self._write_playlist(finished=False)

    def _write_playlist(self, *, finished: bool) -> None:
        if not self.summary.segments:
            return
        target = max(math.ceil(max(length for _, length, _ in self.summary.segments)), 1)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
                 f"#EXT-X-PLAYLIST-TYPE:{'VOD' if finished else 'EVENT'}"]
        for name, length, discontinuity in self.summary.segments:
            if discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{length:.3f},", name]
        if finished:
            lines.append("#EXT-X-ENDLIST")
        self.write("hls/high/playlist.m3u8", ("\n".join(lines) + "\n").encode(), "application/x-mpegURL")
        codecs = ",".join((["avc1.42e01f"] if self.record_video else []) + (["mp4a.40.2"] if self.record_audio else []))
        resolution = f",RESOLUTION={self.summary.width}x{self.summary.height}" if self.record_video else ""
        multivariant = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS",
                        f'#EXT-X-STREAM-INF:BANDWIDTH=2000000{resolution},CODECS="{codecs}"', "high/playlist.m3u8"]
        text = ("\n".join(multivariant) + "\n").encode()
        if text != self._multivariant_written:  # fixed once the first frame is in: written once
            self.write("hls/multivariant.m3u8", text, "application/x-mpegURL")
            self._multivariant_written = text

    def _thumbnail(self, frame: av.VideoFrame) -> None:
        import av
        encoder = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height = frame.width - frame.width % 2, frame.height - frame.height % 2
        encoder.pix_fmt, encoder.time_base = "yuvj420p", fractions.Fraction(1, FRAME_RATE)
        picture = frame.reformat(encoder.width, encoder.height, "yuvj420p")
        picture.pts = None
        jpeg = b"".join(bytes(packet) for packet in encoder.encode(picture) + encoder.encode(None))
        self.summary.thumbnails += 1
        if self.thumbnails.sequential:
            self.write(f"thumbnails/high/{self.summary.thumbnails}.jpg", jpeg, "image/jpeg")
        if self.thumbnails.latest:
            self.write("latest_thumbnail/high/thumb.jpg", jpeg, "image/jpeg")
