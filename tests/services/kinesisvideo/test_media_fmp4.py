"""media/fmp4.py on its own: fragmented MP4 written from real Matroska fragments (PyAV-encoded
H.264, with B-frames too, and AAC) decodes with PyAV to every frame in presentation order, with
times that continue across segments; AAC configurations and codec strings."""
from __future__ import annotations

import io
import tempfile

import av
import pytest

from greenroom.media import fmp4, mkv, remux
from greenroom.media.source import putmedia_body
from greenroom.media.testsrc import synthetic_video

START_MS = 1_700_000_000_000


def fragments_of(data: bytes) -> tuple[bytes, list[bytes]]:
    """(Segment head = Info + Tracks, Clusters) of a PutMedia body made from an encoded file."""
    with tempfile.NamedTemporaryFile(suffix=".mkv") as file:
        file.write(data)
        file.flush()
        body = b"".join(putmedia_body(file.name))
    parser = mkv.MkvStreamParser()
    head, clusters = b"", []
    for event in parser.feed(body) + parser.end():
        if isinstance(event, (mkv.InfoRead, mkv.TracksRead)):
            head += bytes(event.raw)
        elif isinstance(event, mkv.ClusterEnded):
            clusters.append(event.raw)
    return head, clusters


def segments(head: bytes, clusters: list[bytes], track: int) -> tuple[bytes, list[bytes]]:
    starts = [START_MS + mkv.cluster_frames(c)[0] for c in clusters]
    media = [remux.fmp4_media(head, cluster, track, start, index + 1, starts[index + 1] if index + 1 < len(starts) else None)
             for index, (cluster, start) in enumerate(zip(clusters, starts))]
    return remux.fmp4_init(head, track), media


@pytest.mark.parametrize("bframes", [0, 2])
def test_video_decodes_in_presentation_order_across_segments(bframes):
    source = synthetic_video(seconds=3, fps=25, gop=25, bframes=bframes)
    with av.open(io.BytesIO(source)) as container:
        stored = [p.pts for p in container.demux(video=0) if p.pts is not None]
    if bframes:
        assert stored != sorted(stored)   # the encoder did reorder frames
    head, clusters = fragments_of(source)
    init, media = segments(head, clusters, 1)
    with av.open(io.BytesIO(init + b"".join(media))) as container:
        packets = [(p.dts, p.pts) for p in container.demux(video=0) if p.size]
    with av.open(io.BytesIO(init + b"".join(media))) as container:
        frames = [frame.time for frame in container.decode(video=0)]
    assert len(frames) == 75
    assert frames == sorted(frames)
    assert frames[0] == pytest.approx(START_MS / 1000, abs=1e-6)
    # Presentation times are 40 ms apart; decode times only grow and never pass presentation.
    assert [round((b - a) * 1000) for a, b in zip(frames, frames[1:])] == [40] * 74
    assert all(dts <= pts for dts, pts in packets)
    assert [dts for dts, _ in packets] == sorted(dts for dts, _ in packets)


def test_audio_segments_continue_each_other():
    source = synthetic_video(seconds=3, fps=25, audio=True)
    head, clusters = fragments_of(source)
    init, media = segments(head, clusters, 2)
    with av.open(io.BytesIO(init + b"".join(media))) as container:
        frames = list(container.decode(container.streams.audio[0]))
    with av.open(io.BytesIO(source)) as container:
        sent = len([p for p in container.demux(audio=0) if p.size])
    assert len(frames) == sent
    starts = [frame.pts for frame in frames]
    # One AAC frame (1024 samples at 48 kHz) after another, to within a millisecond at segment joins.
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(abs(gap - 1024) <= 48 for gap in gaps)
    assert sum(gap == 1024 for gap in gaps) >= len(gaps) - len(media)


def test_aac_configuration_and_codec_strings():
    assert fmp4.aac_config(bytes([0x11, 0x88])) == fmp4.AudioConfig(2, 48000, 1, 1024)     # AAC-LC 48 kHz mono
    assert fmp4.aac_config(bytes([0x12, 0x10])) == fmp4.AudioConfig(2, 44100, 2, 1024)     # AAC-LC 44.1 kHz stereo
    assert fmp4.aac_config(bytes([0x11, 0x8C])).frame_samples == 960                      # frameLengthFlag
    he_aac = fmp4.aac_config(bytes([0x2B, 0x11, 0x88, 0x00]))                              # SBR, 24 kHz core
    assert he_aac == fmp4.AudioConfig(5, 24000, 2, 1024)
    assert fmp4.aac_config(b"\x11") is None
    audio = mkv.Track(2, codec_id="A_AAC", codec_private=bytes([0x11, 0x88]))
    video = mkv.Track(1, codec_id="V_MPEG4/ISO/AVC", codec_private=bytes([1, 0x64, 0x00, 0x1F]))
    assert fmp4.codec_string(audio) == "mp4a.40.2" and fmp4.codec_string(video) == "avc1.64001f"
    with pytest.raises(remux.RemuxError):
        remux.fmp4_init(mkv.tracks(mkv.track_entry(1, "V_MPEG4/ISO/AVC", width=64, height=48)), 2)
