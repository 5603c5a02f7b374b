"""PutMedia: acknowledgements, fragment numbers and timestamps, every documented ErrorId, header
errors, IDLE, the 45-minute limit and deletion mid-connection (over HTTP and in process)."""
from __future__ import annotations

import asyncio
import re
import threading

import pytest
import requests

from greenroom.media import ebml, mkv
from greenroom.media.producer import put_media_stream
from greenroom.services.kinesisvideo.put_media import parse_start_timestamp
from kvs_support import fake_cluster, header, until, video_body

BASE_MS = 1_700_000_000_000


def events(acks):
    return [(ack["EventType"], ack.get("FragmentTimecode"), ack.get("ErrorId")) for ack in acks]


def test_acknowledgements_and_fragment_numbers(kvs):
    kvs.create_active_stream(retention=2)
    acks = kvs.put_video(seconds=3)
    assert events(acks) == [(kind, timecode, None) for timecode in (0, 1000, 2000)
                            for kind in ("BUFFERING", "RECEIVED", "PERSISTED")]
    numbers = [ack["FragmentNumber"] for ack in acks if ack["EventType"] == "RECEIVED"]
    assert all(re.fullmatch(r"[0-9]{47}", number) for number in numbers)
    assert all(isinstance(number, str) for number in numbers)
    # Every acknowledgement of a fragment names the same number; numbers increase, also
    # across connections.
    assert [a["FragmentNumber"] for a in acks if a["EventType"] == "BUFFERING"] == numbers
    later = [a["FragmentNumber"] for a in kvs.put_video(seconds=2, start_ms=BASE_MS + 10_000)
             if a["EventType"] == "RECEIVED"]
    assert [int(n) for n in numbers + later] == sorted(int(n) for n in numbers + later)
    assert len(set(numbers + later)) == 5
    listed = kvs.fragments()
    assert [f["FragmentNumber"] for f in listed] == numbers + later


def test_no_persisted_acknowledgement_without_retention(kvs):
    kvs.create_active_stream(retention=0)
    assert [kind for kind, _, _ in events(kvs.put_video(seconds=2))] == ["BUFFERING", "RECEIVED"] * 2


def test_acknowledgements_can_be_turned_off(kvs):
    kvs.create_active_stream()
    assert kvs.put_media(list(video_body(2.0)), stream_name="cam", timecode_type="RELATIVE",
                   producer_start_ms=BASE_MS, ack_required=False) == []
    assert len(kvs.fragments()) == 2
    # Errors are still reported.
    acks = kvs.put_media([header(), fake_cluster(0), b"\x00garbage"], stream_name="cam", timecode_type="ABSOLUTE",
                   ack_required=False)
    assert events(acks) == [("ERROR", None, 4006)]


def test_producer_timestamps_relative_and_absolute(kvs):
    arn = kvs.create_active_stream()
    kvs.put_media([header(), fake_cluster(0), fake_cluster(1000), fake_cluster(2500)], stream_arn=arn,
            timecode_type="RELATIVE", producer_start_ms=BASE_MS + 5)
    kvs.put_media([header(), fake_cluster(BASE_MS + 60_000)], stream_name="cam", timecode_type="ABSOLUTE")
    listed = kvs.fragments()
    produced = [round(f["ProducerTimestamp"].timestamp() * 1000) for f in listed]
    assert produced == [BASE_MS + 5, BASE_MS + 1005, BASE_MS + 2505, BASE_MS + 60_000]
    assert [f["FragmentLengthInMilliseconds"] for f in listed] == [1000] * 4
    # The same frames with a timecode scale of 100 µs: timecodes are ten times larger.
    kvs.put_media([header(timecode_scale_ns=100_000), fake_cluster(10_000, interval=1000)], stream_name="cam",
            timecode_type="RELATIVE", producer_start_ms=BASE_MS + 100_000)
    last = kvs.fragments()[-1]
    assert round(last["ProducerTimestamp"].timestamp() * 1000) == BASE_MS + 101_000
    assert last["FragmentLengthInMilliseconds"] == 1000


def test_start_timestamp_is_read_leniently():
    assert parse_start_timestamp("1700000000.5") == 1_700_000_000_005  # the C SDK's unpadded millis
    assert parse_start_timestamp("1700000000.050") == 1_700_000_000_050
    assert parse_start_timestamp("1700000000") == 1_700_000_000_000
    assert parse_start_timestamp("1700000000.123456") == 1_700_000_000_123
    for bad in ("", "abc", "1.2.3", "-5"):
        with pytest.raises(ValueError):
            parse_start_timestamp(bad)


def test_fragment_sizes_and_metadata_tags(kvs):
    kvs.create_active_stream()
    cluster = fake_cluster(0, tags=[("camera", "front"), ("lens", "wide")])
    kvs.put_media([header(), cluster], stream_name="cam", timecode_type="ABSOLUTE")
    (fragment,) = kvs.fragments(kind="SERVER_TIMESTAMP")
    live_cluster = cluster[:cluster.index(ebml.encode_id(ebml.TAGS))]
    # Stored with a known size: the live 8-byte "unknown" size field becomes the real size
    # (in 8 bytes too), so the stored cluster is as long as the one sent.
    assert fragment["FragmentSizeInBytes"] == len(live_cluster)


# ---------------------------------------------------------------------------- header errors

def test_header_errors(kvs):
    kvs.create_active_stream()
    body = [header(), fake_cluster(0)]
    (refused,) = kvs.put_media(body, timecode_type="ABSOLUTE")
    assert (refused["HttpStatus"], refused["ErrorType"]) == (400, "InvalidArgumentException")
    (refused,) = kvs.put_media(body, stream_name="cam", stream_arn="arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam/1",
                         timecode_type="ABSOLUTE")
    assert refused["ErrorType"] == "InvalidArgumentException"
    (refused,) = kvs.put_media(body, stream_name="nope", timecode_type="ABSOLUTE")
    assert (refused["HttpStatus"], refused["ErrorType"]) == (404, "ResourceNotFoundException")
    (refused,) = kvs.put_media(body, stream_name="cam", timecode_type="SOMETIMES")
    assert refused["ErrorType"] == "InvalidArgumentException"
    assert kvs.fragments(kind="SERVER_TIMESTAMP") == []


def test_http_header_errors_in_the_service_shape(http_kvs):
    http_kvs.create_active_stream()
    answer = requests.post(f"{http_kvs.base_url}/putMedia", data=b"", headers={
        "x-amzn-stream-name": "cam", "x-amzn-fragment-timecode-type": "RELATIVE",
        "x-amzn-producer-start-timestamp": "yesterday"}, verify=http_kvs.ca_file or True)
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == answer.headers["x-amz-ErrorType"] == "InvalidArgumentException"
    assert "x-amzn-producer-start-timestamp" in answer.json()["Message"]


# ---------------------------------------------------------------------------- ErrorIds

def huge_block_start(size: int) -> bytes:
    """The start of a SimpleBlock declaring ``size`` bytes (the rest never needs to come)."""
    return ebml.encode_id(ebml.SIMPLE_BLOCK) + ebml.encode_size(size, 8) + b"\x81\x00\x00\x80" + b"x" * 1000


ERROR_CASES = {
    4000: [fake_cluster(1000)[:-20]],                                  # the body ends mid-element
    4001: [ebml.unknown_size_start(ebml.CLUSTER) + ebml.uint(ebml.TIMECODE, 1000)
           + huge_block_start(51 * 1024 * 1024)],                      # a fragment over 50 MB
    4002: [fake_cluster(1000, frames=11, interval=1000)],              # 11 s
    4004: [fake_cluster(0)],                                           # timecode going back
    4006: [b"\x1f\x43\xb6\x75\x00\x00garbage"],                        # not Matroska
    4009: [fake_cluster(1000, tags=[(f"t{i}", "v") for i in range(11)])],
    4010: [fake_cluster(1000, tracks=(1, 2))],                         # track 2 is not declared
}


@pytest.mark.parametrize("error_id", sorted(ERROR_CASES))
def test_error_after_a_good_fragment_keeps_the_good_one(kvs, error_id):
    kvs.create_active_stream()
    acks = kvs.put_media([header(), fake_cluster(500)] + ERROR_CASES[error_id], stream_name="cam",
                   timecode_type="RELATIVE", producer_start_ms=BASE_MS)
    assert events(acks)[:3] == [("BUFFERING", 500, None), ("RECEIVED", 500, None), ("PERSISTED", 500, None)]
    assert events(acks)[-1][0::2] == ("ERROR", error_id)
    assert len(acks) <= 5  # nothing after the error
    (kept,) = kvs.fragments()
    assert kept["FragmentNumber"] == acks[0]["FragmentNumber"]


@pytest.mark.parametrize("name, value", [("AWS_CUSTOM", "x"), ("long", "v" * 257), ("n" * 129, "v")])
def test_fragment_metadata_limits(kvs, name, value):
    kvs.create_active_stream()
    acks = kvs.put_media([header(), fake_cluster(0, tags=[(name, value)])], stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks)[-1] == ("ERROR", 0, 4009)
    assert kvs.fragments(kind="SERVER_TIMESTAMP") == []


def test_track_errors(kvs):
    kvs.create_active_stream()
    acks = kvs.put_media([header(track_count=4), fake_cluster(0)], stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks) == [("ERROR", None, 4012)]
    # Two tracks declared, frames only on the first.
    acks = kvs.put_media([header(track_count=2), fake_cluster(0, tracks=(1, 2)), fake_cluster(1000, tracks=(1,))],
                   stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks)[-1] == ("ERROR", 1000, 4011)
    assert len(kvs.fragments(kind="SERVER_TIMESTAMP")) == 1


def test_invalid_producer_timestamps(kvs):
    kvs.create_active_stream()
    acks = kvs.put_media([header(), fake_cluster(0)], stream_name="cam", timecode_type="RELATIVE")
    assert events(acks) == [("ERROR", 0, 4007)]  # RELATIVE without a start timestamp
    acks = kvs.put_media([header(), fake_cluster(300_000_000_000_000)], stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks) == [("ERROR", 300_000_000_000_000, 4007)]  # after the year 9999
    # A cluster before the segment's Tracks is not Matroska a producer may send.
    acks = kvs.put_media([ebml.ebml_header() + ebml.unknown_size_start(ebml.SEGMENT), fake_cluster(0)],
                   stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks) == [("ERROR", 0, 4006)]


def test_real_fragment_over_50_megabytes(http_kvs):
    http_kvs.create_active_stream()
    block = mkv.simple_block(1, 0, 0x80, b"\x00" * (1024 * 1024))
    body = [header(), fake_cluster(0), ebml.unknown_size_start(ebml.CLUSTER) + ebml.uint(ebml.TIMECODE, 1000)]
    body += [block] * 51
    acks = http_kvs.put_media(body, stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks)[-1] == ("ERROR", 1000, 4001)
    assert len(http_kvs.fragments(kind="SERVER_TIMESTAMP")) == 1


def test_the_fragment_being_read_is_named_in_the_error(kvs):
    kvs.create_active_stream()
    acks = kvs.put_media([header(), fake_cluster(0), fake_cluster(1000, tracks=(1, 3))], stream_name="cam",
                   timecode_type="ABSOLUTE")
    buffering = [a for a in acks if a["EventType"] == "BUFFERING"]
    assert acks[-1]["EventType"] == "ERROR" and acks[-1]["FragmentNumber"] == buffering[-1]["FragmentNumber"]
    assert acks[-1]["FragmentTimecode"] == 1000


# ---------------------------------------------------------------------------- over time

def _put_async(kvs, body, **options):
    acks = []
    options.setdefault("stream_name", "cam")
    options.setdefault("timecode_type", "ABSOLUTE")
    result = asyncio.run(put_media_stream(kvs.base_url, body(acks), on_ack=acks.append, **options))
    return result.acks


def test_connection_limited_to_45_minutes(http_kvs):
    http_kvs.create_active_stream()

    async def body(acks):
        yield header() + fake_cluster(0)
        await until(lambda: any(a["EventType"] == "PERSISTED" for a in acks))
        await asyncio.to_thread(http_kvs.advance, 45 * 60 + 1)
        yield fake_cluster(1000)

    acks = _put_async(http_kvs, body)
    assert events(acks)[-1] == ("ERROR", 1000, 4003)
    assert len(http_kvs.fragments(kind="SERVER_TIMESTAMP")) == 1


def test_connection_limit_in_process(mock_kvs):
    kvs = mock_kvs
    kvs.create_active_stream()

    def body():
        yield header() + fake_cluster(0)
        kvs.advance(45 * 60 + 1)
        yield fake_cluster(1000)

    acks = kvs.put_media(body(), stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks)[-1] == ("ERROR", 1000, 4003)


def test_stream_deleted_while_putting(http_kvs):
    arn = http_kvs.create_active_stream()
    kv = http_kvs.client("kinesisvideo")

    async def body(acks):
        yield header() + fake_cluster(0)
        await until(lambda: any(a["EventType"] == "PERSISTED" for a in acks))
        await asyncio.to_thread(kv.delete_stream, StreamARN=arn)
        yield fake_cluster(1000)

    acks = _put_async(http_kvs, body)
    assert events(acks)[-1] == ("ERROR", 1000, 4008)


def test_idle_acknowledgements_then_the_connection_closes(http_kvs):
    http_kvs.create_active_stream()
    http_kvs.set_delays({"kinesisvideo.putmedia.idle_interval": 0.05, "kinesisvideo.putmedia.idle_timeout": 0.3})
    stop = threading.Event()

    async def body(acks):
        yield header() + fake_cluster(0)
        # Keep the connection open without data; the server ends the exchange.
        while not stop.is_set():
            await asyncio.sleep(0.02)
            if len(acks) > 20:
                break

    acks = _put_async(http_kvs, body)
    stop.set()
    kinds = [ack["EventType"] for ack in acks]
    # The fragment ended with its end-of-fragment tag; then IDLE until the server gave up.
    assert kinds[:3] == ["BUFFERING", "RECEIVED", "PERSISTED"]
    assert kinds.count("IDLE") >= 2 and set(kinds[3:]) == {"IDLE"}
    assert len(acks) < 20
    assert len(http_kvs.fragments(kind="SERVER_TIMESTAMP")) == 1


def test_audio_and_video_tracks(kvs):
    kvs.create_active_stream()
    acks = kvs.put_video(seconds=2, audio=True)
    assert [kind for kind, _, _ in events(acks)] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2


def test_a_body_that_fails_ends_the_upload_with_its_error(http_kvs):
    """The producer raises what broke its body (a file that cannot be read, say) instead of
    leaving the connection open until the server's idle timeout."""
    from greenroom.media.producer import put_media_bytes

    http_kvs.create_active_stream()

    def body():
        yield header() + fake_cluster(0)
        raise OSError("the camera went away")

    with pytest.raises(OSError, match="the camera went away"):
        put_media_bytes(http_kvs.base_url, body(), stream_name="cam", timecode_type="ABSOLUTE")
