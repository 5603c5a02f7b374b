"""Synthetic test media, made with PyAV: H.264 video (optionally with AAC audio) whose frames
are easy to tell apart (each frame's index is painted into it), for tests and benchmarks."""
from __future__ import annotations

import io
from fractions import Fraction


def synthetic_video(*, seconds: float = 4.0, fps: int = 25, width: int = 160, height: int = 120,
                    gop: int | None = None, audio: bool = False, container: str = "matroska",
                    bitrate: int | None = None, noise: bool = False, bframes: int = 0) -> bytes:
    """An encoded file (``container``: matroska, mp4, mpegts...) as bytes. ``gop`` frames per
    keyframe (default: one a second); ``noise`` makes frames incompressible (big fragments);
    ``bframes`` allows that many B-frames in a row (frames stored out of presentation order)."""
    import av
    import numpy as np

    gop = gop or fps
    buffer = io.BytesIO()
    output = av.open(buffer, "w", format=container)
    video = output.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "preset": "ultrafast",
               "bf": str(bframes)}
    if bitrate:
        options.update({"b": str(bitrate), "maxrate": str(bitrate), "bufsize": str(bitrate)})
    video.options = options
    sound = None
    if audio:
        sound = output.add_stream("aac", rate=48000)
        sound.layout = "mono"
    frames = int(seconds * fps)
    random = np.random.default_rng(7)
    samples_per_frame, total_samples = 1024, int(seconds * 48000)
    audio_at = 0

    def encode_audio(until: int) -> None:
        """AAC frames up to sample ``until``, muxed between the video frames (a muxer holding
        seconds of video before any audio would flush them alone)."""
        nonlocal audio_at
        while sound is not None and audio_at < min(until, total_samples):
            wave = np.sin(2 * np.pi * 440 * (np.arange(audio_at, audio_at + samples_per_frame) / 48000)) * 0.3
            frame = av.AudioFrame.from_ndarray(wave.astype(np.float32).reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate = 48000
            frame.pts = audio_at
            frame.time_base = Fraction(1, 48000)
            for packet in sound.encode(frame):
                output.mux(packet)
            audio_at += samples_per_frame

    for index in range(frames):
        image = np.full((height, width, 3), 16, np.uint8)
        image[:, :, 0] = (index * 7) % 256
        image[(index * 3) % height, :, 1] = 255          # a moving line
        image[:8, : min(width, index % width + 1), 2] = 255  # a growing bar
        if noise:
            image = random.integers(0, 256, (height, width, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        for packet in video.encode(frame):
            output.mux(packet)
        encode_audio((index + 1) * 48000 // fps)
    for packet in video.encode():
        output.mux(packet)
    if sound is not None:
        encode_audio(total_samples)
        for packet in sound.encode():
            output.mux(packet)
    output.close()
    return buffer.getvalue()


def decoded_frames(data: bytes, *, kind: str = "video") -> list:
    """Every decoded frame of the first ``kind`` stream of an encoded file, as ndarrays."""
    import av

    with av.open(io.BytesIO(data)) as container:
        streams = container.streams.video if kind == "video" else container.streams.audio
        if not streams:
            return []
        return [frame.to_ndarray() for frame in container.decode(streams[0])]
