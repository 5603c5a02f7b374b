"""A generated "application" to stream over WebRTC: a picture that shows what it is (title
lines), a running clock, a moving bar and the last input events, and a steady tone.

Drawing is cheap on purpose (a streamed session should cost little more than its encoder):
the picture is built in YUV 4:2:0 with numpy; text is rendered with Pillow only when it
changes (the static layer when the title or the input lines change, the clock line ten times a
second, each rendering cached); a frame is one copy of the static layer, the clock and the bar.
The tone is one precomputed 20 ms frame of a 400 Hz sine (a whole number of periods), sent again
and again.

``Screen`` is the application's state (shared by every peer that shows it, so a reconnected
client sees the same clock and inputs); ``ScreenTrack`` and ``ToneTrack`` are aiortc tracks
paced in real time: a track that falls behind skips frames instead of drifting (its
``frames_sent``/``frames_skipped`` say how well it keeps up).
"""
from __future__ import annotations

import asyncio
import collections
import fractions
import threading
import time

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from PIL import Image, ImageDraw, ImageFont

VIDEO_CLOCK_RATE = 90000
AUDIO_RATE = 48000
AUDIO_FRAME_SAMPLES = 960          # 20 ms, what aiortc's Opus encoder takes per packet
TONE_HZ = 400                      # 120 samples a period: 8 whole periods per frame
BACKGROUND_Y, TEXT_Y = 40, 235
INPUT_LINES = 8


class _TextCache:
    """Text rendered once into grayscale masks (numpy, 0-255), by (text, size)."""

    def __init__(self, limit: int = 64):
        self._fonts: dict[int, ImageFont.ImageFont] = {}
        self._masks: collections.OrderedDict = collections.OrderedDict()
        self._limit = limit

    def mask(self, text: str, size: int) -> np.ndarray:
        key = (text, size)
        found = self._masks.get(key)
        if found is not None:
            self._masks.move_to_end(key)
            return found
        font = self._fonts.get(size)
        if font is None:
            font = self._fonts[size] = ImageFont.load_default(size=size)
        left, top, right, bottom = font.getbbox(text or " ")
        image = Image.new("L", (max(1, right), max(1, bottom)))
        ImageDraw.Draw(image).text((0, 0), text, font=font, fill=255)
        found = self._masks[key] = np.asarray(image, dtype=np.uint16)
        if len(self._masks) > self._limit:
            self._masks.popitem(last=False)
        return found


class Screen:
    """What the application shows: ``title`` lines (fixed), the clock, the last inputs."""

    def __init__(self, title: list[str], width: int = 1280, height: int = 720, fps: int = 30):
        self.width, self.height, self.fps = width - width % 2, height - height % 2, fps
        self.title = list(title)
        self.inputs: collections.deque[str] = collections.deque(maxlen=INPUT_LINES)
        self.input_count = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()   # inputs arrive on the media loop, frames may be drawn elsewhere
        self._version = 0               # bumped when the static layer must be drawn again
        self._drawn_version = -1
        self._text = _TextCache()
        self._buffer: np.ndarray | None = None   # (height * 3 / 2, width) YUV 4:2:0, reused
        self._static_y: np.ndarray | None = None
        scale = max(1, self.height // 360)
        self._sizes = {"title": 18 * scale, "line": 12 * scale}
        self._margin = 16 * scale

    def show_input(self, text: str) -> None:
        with self._lock:
            self.input_count += 1
            self.inputs.appendleft(f"#{self.input_count} {text}"[:120])
            self._version += 1

    def clock_text(self, now: float | None = None) -> str:
        elapsed = (time.monotonic() if now is None else now) - self.started
        whole = int(elapsed)
        return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{int(elapsed * 10) % 10}"

    def release(self) -> None:
        """Forget the drawing buffers (no track shows the screen now)."""
        with self._lock:
            self._buffer = self._static_y = None
            self._drawn_version = -1
            self._text = _TextCache()

    def _blit(self, plane: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
        height = min(mask.shape[0], plane.shape[0] - y)
        width = min(mask.shape[1], plane.shape[1] - x)
        if height <= 0 or width <= 0:
            return
        region = plane[y:y + height, x:x + width]
        # background + mask * (text - background) / 255, in integers
        region[:] = (BACKGROUND_Y + (mask[:height, :width] * (TEXT_Y - BACKGROUND_Y) >> 8)).astype(np.uint8)

    def _draw_static(self) -> None:
        y_plane = np.full((self.height, self.width), BACKGROUND_Y, np.uint8)
        top = self._margin
        for index, line in enumerate(self.title):
            size = self._sizes["title"] if index == 0 else self._sizes["line"]
            self._blit(y_plane, self._text.mask(line, size), self._margin, top)
            top += int(size * 1.4)
        self._clock_top = top
        top += int(self._sizes["title"] * 1.6)
        self._bar_top = top
        # The inputs fill the lower half (newest first), under their heading.
        step = int(self._sizes["line"] * 1.4)
        top = max(top + self._sizes["line"] * 2, self.height // 2 - step)
        self._blit(y_plane, self._text.mask("Last input:" if self.inputs else "No input yet", self._sizes["line"]),
                   self._margin, top)
        for line in self.inputs:
            top += step
            self._blit(y_plane, self._text.mask(line, self._sizes["line"]), self._margin * 2, top)
        self._static_y = y_plane

    def draw(self, index: int) -> av.VideoFrame:
        """Frame ``index`` (the bar's position comes from it, the clock from real time)."""
        with self._lock:
            if self._buffer is None:
                self._buffer = np.full((self.height * 3 // 2, self.width), 128, np.uint8)
            if self._drawn_version != self._version:
                self._draw_static()
                self._drawn_version = self._version
            y_plane = self._buffer[:self.height]
            y_plane[:] = self._static_y
            self._blit(y_plane, self._text.mask(self.clock_text(), self._sizes["title"]), self._margin, self._clock_top)
            bar = max(8, self.width // 20)
            x = (index * max(1, self.width // (self.fps * 4))) % (self.width - bar)
            y_plane[self._bar_top:self._bar_top + self._sizes["line"], x:x + bar] = 255
            return av.VideoFrame.from_ndarray(self._buffer, format="yuv420p")


class _PacedTrack(MediaStreamTrack):
    """Frames at ``rate`` per second of real time from the first recv; a late reader skips."""

    def __init__(self, rate: float):
        super().__init__()
        self._period = 1.0 / rate
        self._start: float | None = None
        self._index = -1
        self.frames_sent = 0
        self.frames_skipped = 0

    async def _next_index(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = int((now - self._start) / self._period)
        if due > self._index + 1:                 # behind: skip to the frame due now
            self.frames_skipped += due - self._index - 1
            self._index = due
        else:
            self._index += 1
            wait = self._start + self._index * self._period - now
            if wait > 0:
                await asyncio.sleep(wait)
        self.frames_sent += 1
        return self._index


class ScreenTrack(_PacedTrack):
    """The screen as video at its frame rate (90 kHz timestamps)."""

    kind = "video"

    def __init__(self, screen: Screen):
        super().__init__(screen.fps)
        self.screen = screen

    async def recv(self) -> av.VideoFrame:
        index = await self._next_index()
        frame = self.screen.draw(index)
        frame.pts = index * VIDEO_CLOCK_RATE // self.screen.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        return frame


def _tone_frame() -> np.ndarray:
    samples = np.arange(AUDIO_FRAME_SAMPLES)
    wave = 0.2 * np.sin(2 * np.pi * TONE_HZ * samples / AUDIO_RATE)
    return (wave * 32767).astype(np.int16).reshape(1, -1)


class ToneTrack(_PacedTrack):
    """A steady 400 Hz tone, mono 48 kHz, 20 ms frames."""

    kind = "audio"
    _samples = _tone_frame()

    def __init__(self):
        super().__init__(AUDIO_RATE / AUDIO_FRAME_SAMPLES)

    async def recv(self) -> av.AudioFrame:
        index = await self._next_index()
        frame = av.AudioFrame.from_ndarray(self._samples, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * AUDIO_FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame
