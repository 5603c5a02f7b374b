"""GetImages: images at the sampling interval decode (PyAV) to the frames shown at those instants,
JPEG and PNG, sizes with the aspect ratio kept, JPEG quality, NO_MEDIA outside the video,
pagination through the paginator and NextToken, and the errors of the reference."""
from __future__ import annotations

import base64
import datetime as dt
import io

import av
import numpy as np
import pytest
from botocore.exceptions import ClientError

from greenroom.media.testsrc import decoded_frames
from kvs_support import video

BASE_MS = 1_700_000_000_000


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def get_images(kvs, start_ms: int, end_ms: int, stream: str = "cam", **options) -> dict:
    options.setdefault("SamplingInterval", 1000)
    options.setdefault("Format", "JPEG")
    return kvs.client("kinesis-video-archived-media").get_images(
        StreamName=stream, ImageSelectorType=options.pop("ImageSelectorType", "PRODUCER_TIMESTAMP"),
        StartTimestamp=at(start_ms), EndTimestamp=at(end_ms), **options)


def decode(image: dict):
    """(format name, frame as rgb ndarray) of an Image."""
    with av.open(io.BytesIO(base64.b64decode(image["ImageContent"]))) as container:
        frame = next(container.decode(video=0))
        return container.format.name, frame.to_ndarray(format="rgb24")


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


@pytest.fixture
def filmed(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4)
    return kvs


def test_images_at_the_sampling_interval_are_the_frames_shown(filmed):
    # Frames are 40 ms apart from BASE; 500 ms samples from 0 s to 3 s show frames 0, 12, 25, ...
    # (boto3 sends timestamps in whole seconds).
    response = get_images(filmed, BASE_MS, BASE_MS + 3000, SamplingInterval=500, Format="PNG")
    images = response["Images"]
    assert [image["TimeStamp"] for image in images] == [at(BASE_MS + 500 * k) for k in range(7)]
    assert "NextToken" not in response
    original = [frame for frame in decoded_frames(video(4.0, 25))]
    for k, image in enumerate(images):
        name, picture = decode(image)
        assert name == "png_pipe"
        expected = original[(500 * k) // 40]
        source = av.VideoFrame.from_ndarray(expected, format="yuv420p").to_ndarray(format="rgb24")
        assert picture.shape == (120, 160, 3)
        assert np.abs(picture.astype(int) - source.astype(int)).mean() < 3  # PNG is lossless


def test_sizes_keep_the_aspect_ratio_and_quality_changes_jpeg(filmed):
    def first(**options):
        return get_images(filmed, BASE_MS, BASE_MS, **options)["Images"][0]

    assert decode(first())[1].shape == (120, 160, 3)
    assert decode(first(WidthPixels=80))[1].shape == (60, 80, 3)
    assert decode(first(HeightPixels=240))[1].shape == (240, 320, 3)
    assert decode(first(WidthPixels=100, HeightPixels=30))[1].shape == (30, 100, 3)
    assert decode(first())[0] == "jpeg_pipe"
    low = len(base64.b64decode(first(FormatConfig={"JPEGQuality": "5"})["ImageContent"]))
    high = len(base64.b64decode(first(FormatConfig={"JPEGQuality": "100"})["ImageContent"]))
    default = len(base64.b64decode(first()["ImageContent"]))
    assert low < default < high


def test_range_shorter_than_the_interval_gives_the_image_at_start(filmed):
    images = get_images(filmed, BASE_MS + 1000, BASE_MS + 1100, SamplingInterval=3000)["Images"]
    assert len(images) == 1 and images[0]["TimeStamp"] == at(BASE_MS + 1000) and "ImageContent" in images[0]


def test_no_media_before_and_after_the_video(filmed):
    images = get_images(filmed, BASE_MS - 2000, BASE_MS + 6000, SamplingInterval=2000)["Images"]
    assert [image.get("Error") for image in images] == ["NO_MEDIA", None, None, None, "NO_MEDIA"]
    assert "ImageContent" not in images[0]


def test_pagination(filmed):
    first = get_images(filmed, BASE_MS, BASE_MS + 3000, SamplingInterval=200, MaxResults=7)
    assert len(first["Images"]) == 7 and first["NextToken"]
    second = get_images(filmed, BASE_MS, BASE_MS + 3000, SamplingInterval=200, MaxResults=7,
                        NextToken=first["NextToken"])
    assert second["Images"][0]["TimeStamp"] == at(BASE_MS + 7 * 200)
    with pytest.raises(ClientError):  # a token belongs to its own parameters
        get_images(filmed, BASE_MS, BASE_MS + 3000, SamplingInterval=400, NextToken=first["NextToken"])
    paginator = filmed.client("kinesis-video-archived-media").get_paginator("get_images")
    pages = list(paginator.paginate(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
                                    StartTimestamp=at(BASE_MS), EndTimestamp=at(BASE_MS + 3000),
                                    SamplingInterval=200, Format="JPEG", PaginationConfig={"PageSize": 6}))
    stamps = [image["TimeStamp"] for page in pages for image in page["Images"]]
    assert stamps == [at(BASE_MS + 200 * k) for k in range(16)]
    assert len(pages) == 3


def test_server_timestamps(filmed):
    filmed.advance(5)
    first = filmed.fragments(kind="SERVER_TIMESTAMP")[0]["ServerTimestamp"]
    # The fragments' server timestamps are those of their arrival; boto3 sends whole seconds.
    start = -(-int(first.timestamp() * 1000) // 1000) * 1000
    images = get_images(filmed, start - 2000, start, ImageSelectorType="SERVER_TIMESTAMP", SamplingInterval=2000)["Images"]
    assert [image.get("Error") for image in images] == ["NO_MEDIA", None]
    assert "ImageContent" in images[1]


def test_errors(kvs):
    assert error_code(lambda: get_images(kvs, BASE_MS, BASE_MS + 1000, stream="nope")) == "ResourceNotFoundException"
    kvs.create_active_stream(name="buffered", retention=0)
    assert error_code(lambda: get_images(kvs, BASE_MS, BASE_MS + 1000, stream="buffered")) == "NoDataRetentionException"
    kvs.create_active_stream()
    for options in ({"SamplingInterval": 199}, {"FormatConfig": {"JPEGQuality": "0"}},
                    {"FormatConfig": {"JPEGQuality": "101"}}, {"FormatConfig": {"JPEGQuality": "high"}}):
        assert error_code(lambda: get_images(kvs, BASE_MS, BASE_MS + 1000, **options)) == "InvalidArgumentException"
    assert error_code(lambda: get_images(kvs, BASE_MS, BASE_MS + 301_000)) == "InvalidArgumentException"
    assert error_code(lambda: get_images(kvs, BASE_MS + 1000, BASE_MS)) == "InvalidArgumentException"
    # 300 s exactly is allowed: an empty stream answers NO_MEDIA for every instant.
    images = get_images(kvs, BASE_MS, BASE_MS + 300_000, SamplingInterval=60_000)["Images"]
    assert [image["Error"] for image in images] == ["NO_MEDIA"] * 6
