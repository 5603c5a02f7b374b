"""greenroom.media: EBML integers, the incremental MKV parser on real and hand-built input, the
writers, and the PyAV remux that cuts a file into one Cluster per keyframe."""
from __future__ import annotations

import numpy as np
import pytest

from greenroom.media import ebml, mkv
from greenroom.media.source import MediaSource, fragments, putmedia_body
from greenroom.media.testsrc import decoded_frames
from kvs_support import fake_cluster, header, video, video_path


@pytest.mark.parametrize("size", [0, 1, 126, 127, 16382, 16383, 2**21, 2**40])
def test_sizes_round_trip(size):
    encoded = ebml.encode_size(size)
    assert ebml.read_size(encoded, 0) == (size, len(encoded))
    assert ebml.read_size(encoded[:-1], 0) is None or len(encoded) == 1


def test_unknown_size_and_ids():
    assert ebml.read_size(ebml.UNKNOWN_SIZE_BYTES, 0) == (ebml.UNKNOWN_SIZE, 8)
    assert ebml.read_size(b"\xff", 0) == (ebml.UNKNOWN_SIZE, 1)
    assert ebml.read_id(ebml.encode_id(ebml.CLUSTER), 0) == (ebml.CLUSTER, 4)
    with pytest.raises(ebml.EbmlError):
        ebml.read_id(b"\x00\x01", 0)
    with pytest.raises(ebml.EbmlError):
        ebml.read_size(b"\x00", 0)


def _events(data: bytes, piece: int) -> list:
    parser = mkv.MkvStreamParser()
    events = []
    for start in range(0, len(data), piece):
        events += parser.feed(data[start:start + piece])
    return events + parser.end()


def _summary(events) -> list:
    return [(type(e).__name__, getattr(e, "timecode", None), getattr(e, "raw", None)) for e in events]


def test_real_file_parses_the_same_in_any_pieces():
    data = video(4.0, 25)
    whole = _events(data, len(data))
    assert _summary(_events(data, 1)) == _summary(whole)
    assert _summary(_events(data, 4093)) == _summary(whole)
    kinds = [type(e).__name__ for e in whole]
    assert kinds[:2] == ["HeaderRead", "InfoRead"] and "TracksRead" in kinds
    tracks = next(e for e in whole if isinstance(e, mkv.TracksRead)).tracks
    assert [(t.number, t.codec_id, t.width, t.height) for t in tracks] == [(1, "V_MPEG4/ISO/AVC", 160, 120)]
    assert tracks[0].codec_private[:1] == b"\x01"  # avcC
    clusters = [e for e in whole if isinstance(e, mkv.ClusterEnded)]
    assert sum(c.blocks[1].frames for c in clusters) == 100
    # A cluster is stored with a known size and re-reads to the same frames.
    for cluster in clusters:
        header_ = ebml.read_header(cluster.raw, 0)
        assert header_[0] == ebml.CLUSTER and header_[2] + header_[1] == len(cluster.raw)
        timecode, frames = mkv.cluster_frames(cluster.raw)
        assert timecode == cluster.timecode and len(frames) == cluster.blocks[1].frames


def test_live_clusters_end_at_the_next_level_one_element_or_the_end():
    body = header() + fake_cluster(0, end_of_fragment=False) + fake_cluster(1000, tags=[("k", "v")]) \
        + fake_cluster(2000, end_of_fragment=False)
    events = _events(body, 7)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["HeaderRead", "InfoRead", "TracksRead",
                     "ClusterStarted", "ClusterEnded", "ClusterStarted", "ClusterEnded", "TagsRead",
                     "ClusterStarted", "ClusterEnded"]
    tags = next(e for e in events if isinstance(e, mkv.TagsRead))
    assert tags.pairs == [("k", "v"), ("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")]
    ended = [e for e in events if isinstance(e, mkv.ClusterEnded)]
    assert [e.timecode for e in ended] == [0, 1000, 2000]
    # 10 frames 100 ms apart: the last lasts as long as the others.
    assert ended[0].duration_ticks() == 1000
    # A new EBML header also ends a cluster (a producer restarting its segment).
    events = _events(header() + fake_cluster(0, end_of_fragment=False) + header(), 1000)
    assert [type(e).__name__ for e in events][-4:] == ["ClusterEnded", "HeaderRead", "InfoRead", "TracksRead"]


def test_known_size_clusters_and_block_groups():
    group = ebml.master(ebml.BLOCK_GROUP,
                        ebml.element(ebml.BLOCK, ebml.encode_size(1) + (500).to_bytes(2, "big") + b"\x00" + b"x" * 10),
                        ebml.uint(ebml.BLOCK_DURATION, 700))
    cluster = ebml.element(ebml.CLUSTER, ebml.uint(ebml.TIMECODE, 40) + mkv.simple_block(1, 0, 0x80, b"k" * 5) + group)
    events = _events(header() + cluster, 3)
    ended = [e for e in events if isinstance(e, mkv.ClusterEnded)][0]
    assert ended.blocks[1].frames == 2 and ended.blocks[1].keyframes == 2
    assert ended.duration_ticks() == 1200  # the grouped block says how long it lasts
    timecode, frames = mkv.cluster_frames(ended.raw)
    assert timecode == 40 and [(f[0], f[1], f[2] & 0x80) for f in frames] == [(1, 0, 0x80), (1, 500, 0x80)]


@pytest.mark.parametrize("garbage", [
    b"\x00\x00\x00\x00",                                   # no id marker
    ebml.element(0x4321, b"xx"),                           # not an EBML header
    ebml.ebml_header(doc_type="mp4"),                      # not matroska
])
def test_invalid_input(garbage):
    with pytest.raises(mkv.MkvError) as caught:
        _events(garbage, 2)
    assert not caught.value.truncated


def test_invalid_inside_a_cluster_and_truncation():
    with pytest.raises(mkv.MkvError) as caught:
        _events(header() + ebml.unknown_size_start(ebml.CLUSTER) + ebml.uint(ebml.TIMECODE, 0) + b"\x42\x42\x80", 5)
    assert not caught.value.truncated
    with pytest.raises(mkv.MkvError) as caught:  # a block before the cluster's timecode
        _events(header() + ebml.unknown_size_start(ebml.CLUSTER) + mkv.simple_block(1, 0, 0x80, b"x"), 5)
    assert not caught.value.truncated
    body = header() + fake_cluster(0)
    with pytest.raises(mkv.MkvError) as caught:
        _events(body[:-7], 100)
    assert caught.value.truncated


def test_parser_holds_no_more_than_an_element():
    parser = mkv.MkvStreamParser()
    parser.feed(header())
    for timecode in range(0, 50_000, 1000):
        parser.feed(fake_cluster(timecode, frame_bytes=1000))
        assert parser.buffered < 20_000


def test_remux_cuts_a_cluster_at_every_keyframe():
    source = MediaSource(video_path(4.0, 25, gop=10, container="mp4"))
    groups = list(fragments(source.frames(), source.video_track))
    assert len(groups) == 10
    for group in groups:
        assert group[0].keyframe and not any(frame.keyframe for frame in group[1:])
        assert [f.timecode_ms for f in group] == sorted(f.timecode_ms for f in group)
    assert groups[1][0].timecode_ms == 400


@pytest.mark.parametrize("container", ["mp4", "mpegts"])
def test_putmedia_body_decodes_to_the_frames_of_the_file(container):
    # MPEG-TS carries H.264 as Annex B: the remux turns it into AVCC with a CodecPrivate.
    path = video_path(2.0, 25, container=container)
    body = b"".join(putmedia_body(path))
    original = decoded_frames(video(2.0, 25, container=container))
    remuxed = decoded_frames(body)
    assert len(remuxed) == len(original) == 50
    assert all(np.array_equal(a, b) for a, b in zip(original, remuxed))


def test_putmedia_body_loops_with_growing_timecodes():
    pieces = list(putmedia_body(video_path(2.0, 25), loop=True, max_loops=3))
    parser = mkv.MkvStreamParser()
    events = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.end()
    timecodes = [e.timecode for e in events if isinstance(e, mkv.ClusterStarted)]
    assert timecodes == [0, 1000, 2000, 3000, 4000, 5000]
