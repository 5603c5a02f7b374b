"""GetClip: the MP4 decodes (PyAV) to the frames of the selected fragments, with their duration,
over both timestamp selectors; the 200-fragment cut; every error of the reference."""
from __future__ import annotations

import datetime as dt
import io

import av
import numpy as np
import pytest
from botocore.exceptions import ClientError

from greenroom.media import ebml, mkv
from greenroom.media.testsrc import decoded_frames
from kvs_support import fake_cluster, header, video, video_body

BASE_MS = 1_700_000_000_000
END_OF_FRAGMENT = ebml.tags([("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")])


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def clip_selector(start_ms: int, end_ms: int, kind: str = "PRODUCER_TIMESTAMP") -> dict:
    return {"FragmentSelectorType": kind, "TimestampRange": {"StartTimestamp": at(start_ms), "EndTimestamp": at(end_ms)}}


def get_clip(kvs, start_ms: int, end_ms: int, kind: str = "PRODUCER_TIMESTAMP", stream: str = "cam") -> dict:
    archived = kvs.client("kinesis-video-archived-media")
    return archived.get_clip(StreamName=stream, ClipFragmentSelector=clip_selector(start_ms, end_ms, kind))


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def probe(mp4: bytes) -> tuple[str, int, float]:
    """(container format, video frame count, video duration in seconds) as PyAV reads the clip."""
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        duration = float(stream.duration * stream.time_base)
        return container.format.name, len(frames), duration


def test_clip_of_a_range_is_an_mp4_of_its_fragments(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4)
    # Fragments start at BASE + 0, 1, 2, 3 s: the range [1 s, 2.5 s] selects the 2nd and 3rd.
    response = get_clip(kvs, BASE_MS + 1000, BASE_MS + 2500)
    assert response["ContentType"] == "video/mp4"
    mp4 = response["Payload"].read()
    assert mp4[4:8] == b"ftyp"
    name, count, duration = probe(mp4)
    assert "mp4" in name
    assert count == 50
    assert duration == pytest.approx(2.0, abs=0.05)
    # Not re-encoded: the decoded pictures are the ones that were put (frames 25..74).
    original = decoded_frames(video(4.0, 25))
    assert all(np.array_equal(a, b) for a, b in zip(original[25:75], decoded_frames(mp4), strict=True))


def test_whole_stream_with_audio_and_server_timestamps(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4, audio=True)
    kvs.advance(5)  # a SERVER_TIMESTAMP range ends in the past
    fragments = kvs.fragments(kind="SERVER_TIMESTAMP")
    first = int(fragments[0]["ServerTimestamp"].timestamp() * 1000)
    mp4 = get_clip(kvs, first, first + 4000, kind="SERVER_TIMESTAMP")["Payload"].read()
    _, count, duration = probe(mp4)
    assert count == 100 and duration == pytest.approx(4.0, abs=0.05)
    with av.open(io.BytesIO(mp4)) as container:
        assert len(container.streams.audio) == 1
        assert len(list(container.decode(container.streams.audio[0]))) > 100


def test_a_clip_holds_at_most_200_fragments(mock_kvs):
    kvs = mock_kvs
    kvs.create_active_stream()
    body = list(video_body_header_and_clusters())
    acks = kvs.put_media(body, stream_name="cam", timecode_type="RELATIVE", producer_start_ms=BASE_MS)
    assert len([a for a in acks if a["EventType"] == "RECEIVED"]) == 210, acks[:3]
    _, count, _ = probe(get_clip(kvs, BASE_MS, BASE_MS + 3600_000)["Payload"].read())
    assert count == 200


def video_body_header_and_clusters():
    """A real header, then 210 fragments of one frame each (the first keyframe of the test video
    repeated, 100 ms apart)."""
    pieces = video_body(1.0, 25, False)
    parser = mkv.MkvStreamParser()
    events = parser.feed(b"".join(pieces)) + parser.end()
    head = b"".join(e.raw for e in events if isinstance(e, mkv.HeaderRead)) + ebml.unknown_size_start(ebml.SEGMENT)
    head += b"".join(e.raw for e in events if isinstance(e, (mkv.InfoRead, mkv.TracksRead)))
    cluster = next(e for e in events if isinstance(e, mkv.ClusterEnded))
    _, frames = mkv.cluster_frames(cluster.raw)
    track, _, flags, data = frames[0]
    yield head
    for index in range(210):
        yield mkv.cluster(index * 100, [mkv.simple_block(track, 0, flags, data)]) + END_OF_FRAGMENT


def test_errors(kvs):
    archived = kvs.client("kinesis-video-archived-media")
    assert error_of(lambda: get_clip(kvs, BASE_MS, BASE_MS + 1000, stream="nope")) == ("ResourceNotFoundException", 404)
    kvs.create_active_stream(name="buffered", retention=0)
    kvs.put_video(stream="buffered", seconds=2)
    assert error_of(lambda: get_clip(kvs, BASE_MS, BASE_MS + 5000, stream="buffered"))[0] == "NoDataRetentionException"

    kvs.create_active_stream()
    assert error_of(lambda: get_clip(kvs, BASE_MS, BASE_MS + 5000)) == ("ResourceNotFoundException", 404)
    kvs.put_video(seconds=2)
    assert error_of(lambda: get_clip(kvs, BASE_MS + 2000, BASE_MS + 1000))[0] == "InvalidArgumentException"
    assert error_of(lambda: get_clip(kvs, BASE_MS, BASE_MS + 25 * 3600_000))[0] == "InvalidArgumentException"
    assert error_of(lambda: archived.get_clip(StreamName="cam", StreamARN="arn:aws:kinesisvideo:us-east-1:1:stream/cam/1",
                                              ClipFragmentSelector=clip_selector(BASE_MS, BASE_MS + 1000))
                    )[0] == "InvalidArgumentException"

    # Media a clip cannot hold: a track 1 that is not H.264/H.265, an H.264 track without CPD.
    kvs.create_active_stream(name="vp8")
    vp8_header = header().replace(b"V_MPEG4/ISO/AVC", b"V_VP8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    kvs.put_media([vp8_header, fake_cluster(0)], stream_name="vp8", timecode_type="RELATIVE", producer_start_ms=BASE_MS)
    assert error_of(lambda: get_clip(kvs, BASE_MS, BASE_MS + 1000, stream="vp8"))[0] == "UnsupportedStreamMediaTypeException"

    kvs.create_active_stream(name="nocpd")
    bare = (ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT) + mkv.info()
            + mkv.tracks(mkv.track_entry(1, "V_MPEG4/ISO/AVC", width=64, height=48)))
    kvs.put_media([bare, fake_cluster(0)], stream_name="nocpd", timecode_type="RELATIVE", producer_start_ms=BASE_MS)
    assert error_of(lambda: get_clip(kvs, BASE_MS, BASE_MS + 1000, stream="nocpd"))[0] == "MissingCodecPrivateDataException"
