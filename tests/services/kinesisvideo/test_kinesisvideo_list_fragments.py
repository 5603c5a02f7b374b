"""ListFragments: both timestamp selectors, inclusive ranges, sizes and lengths, the paginator
as the seed uses it (PageSize, MaxItems, StartingToken), tokens; and retention under a manual
clock (fragments disappear from every reader, and from the store)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from kvs_support import EVERYTHING, fake_cluster, header

BASE_MS = 1_700_000_000_000
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kinesisvideo/aws4_request, "
                 "SignedHeaders=host, Signature=0")


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def put_fragments(kvs, count: int, *, first: int = 0, stream: str = "cam", start_ms: int = BASE_MS) -> list[str]:
    """``count`` one-second fragments with producer timestamps start_ms + (first + i) s."""
    body = [header()] + [fake_cluster((first + index) * 1000) for index in range(count)]
    acks = kvs.put_media(body, stream_name=stream, timecode_type="RELATIVE", producer_start_ms=start_ms)
    assert not [a for a in acks if a["EventType"] == "ERROR"], acks
    return [a["FragmentNumber"] for a in acks if a["EventType"] == "RECEIVED"]


def selector(kind: str, start, end) -> dict:
    return {"FragmentSelectorType": kind, "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end}}


def test_producer_timestamp_range_is_inclusive(kvs):
    kvs.create_active_stream()
    numbers = put_fragments(kvs, 10)
    archived = kvs.client("kinesis-video-archived-media")
    page = archived.list_fragments(StreamName="cam", FragmentSelector=selector(
        "PRODUCER_TIMESTAMP", at(BASE_MS + 2000), at(BASE_MS + 5000)))
    assert [f["FragmentNumber"] for f in page["Fragments"]] == numbers[2:6]
    assert "NextToken" not in page
    fragment = page["Fragments"][0]
    assert fragment["ProducerTimestamp"] == at(BASE_MS + 2000)
    assert fragment["FragmentLengthInMilliseconds"] == 1000
    assert fragment["FragmentSizeInBytes"] > 2000
    # Fragments half a second off the bounds (boto3 sends whole seconds).
    kvs.create_active_stream(name="half")
    halves = put_fragments(kvs, 10, stream="half", start_ms=BASE_MS + 500)
    page = archived.list_fragments(StreamName="half", FragmentSelector=selector(
        "PRODUCER_TIMESTAMP", at(BASE_MS + 3000), at(BASE_MS + 5000)))
    assert [f["FragmentNumber"] for f in page["Fragments"]] == halves[3:5]


def test_server_timestamp_range(kvs):
    arn = kvs.create_active_stream()
    archived = kvs.client("kinesis-video-archived-media")
    first = put_fragments(kvs, 3)
    kvs.advance(60)
    second = put_fragments(kvs, 2, first=3)
    everything = archived.list_fragments(StreamARN=arn, FragmentSelector=selector("SERVER_TIMESTAMP", *EVERYTHING.values()))
    servers = [f["ServerTimestamp"] for f in everything["Fragments"]]
    assert [f["FragmentNumber"] for f in everything["Fragments"]] == first + second
    assert servers[3] - servers[0] == dt.timedelta(seconds=60)
    later = archived.list_fragments(StreamARN=arn, FragmentSelector=selector(
        "SERVER_TIMESTAMP", servers[3], servers[3] + dt.timedelta(hours=1)))
    assert [f["FragmentNumber"] for f in later["Fragments"]] == second


def test_seed_paginator_over_several_pages(kvs):
    kvs.create_active_stream()
    numbers = put_fragments(kvs, 25)
    paginator = kvs.client("kinesis-video-archived-media").get_paginator("list_fragments")
    common = dict(StreamName="cam", FragmentSelector=selector("PRODUCER_TIMESTAMP", *EVERYTHING.values()))
    pages = list(paginator.paginate(**common, PaginationConfig={"PageSize": 4}))
    assert [len(page["Fragments"]) for page in pages] == [4, 4, 4, 4, 4, 4, 1]
    assert [f["FragmentNumber"] for page in pages for f in page["Fragments"]] == numbers
    # MaxItems stops in the middle of a page; StartingToken resumes exactly there.
    first = paginator.paginate(**common, PaginationConfig={"PageSize": 4, "MaxItems": 10}).build_full_result()
    assert [f["FragmentNumber"] for f in first["Fragments"]] == numbers[:10]
    rest = paginator.paginate(**common, PaginationConfig={"PageSize": 7, "StartingToken": first["NextToken"]})
    assert [f["FragmentNumber"] for page in rest for f in page["Fragments"]] == numbers[10:]


def test_next_token_alone_continues_the_listing(kvs):
    kvs.create_active_stream()
    numbers = put_fragments(kvs, 5)
    archived = kvs.client("kinesis-video-archived-media")
    first = archived.list_fragments(StreamName="cam", MaxResults=2,
                                    FragmentSelector=selector("PRODUCER_TIMESTAMP", *EVERYTHING.values()))
    second = archived.list_fragments(StreamName="cam", MaxResults=2, NextToken=first["NextToken"])
    assert [f["FragmentNumber"] for f in second["Fragments"]] == numbers[2:4]
    with pytest.raises(archived.exceptions.InvalidArgumentException, match="different FragmentSelector"):
        archived.list_fragments(StreamName="cam", NextToken=first["NextToken"],
                                FragmentSelector=selector("SERVER_TIMESTAMP", *EVERYTHING.values()))
    with pytest.raises(archived.exceptions.InvalidArgumentException):
        archived.list_fragments(StreamName="cam", NextToken="bm90IGEgdG9rZW4=")


def test_list_fragments_errors(kvs):
    kvs.create_active_stream()
    archived = kvs.client("kinesis-video-archived-media")
    with pytest.raises(archived.exceptions.InvalidArgumentException, match="FragmentSelector"):
        archived.list_fragments(StreamName="cam")
    with pytest.raises(archived.exceptions.InvalidArgumentException, match="after"):
        archived.list_fragments(StreamName="cam", FragmentSelector=selector(
            "SERVER_TIMESTAMP", at(BASE_MS + 1000), at(BASE_MS)))
    with pytest.raises(archived.exceptions.ResourceNotFoundException):
        archived.list_fragments(StreamName="nope", FragmentSelector=selector("SERVER_TIMESTAMP", *EVERYTHING.values()))
    with pytest.raises(archived.exceptions.InvalidArgumentException):
        archived.list_fragments(StreamName="cam", MaxResults=1001,
                                FragmentSelector=selector("SERVER_TIMESTAMP", *EVERYTHING.values()))


def test_default_page_is_a_hundred(kvs):
    kvs.create_active_stream()
    put_fragments(kvs, 101)
    page = kvs.client("kinesis-video-archived-media").list_fragments(
        StreamName="cam", FragmentSelector=selector("PRODUCER_TIMESTAMP", *EVERYTHING.values()))
    assert len(page["Fragments"]) == 100 and page["NextToken"]


def test_page_bytes_are_the_generic_serializers(kvs):
    """A page is written by restjson's compiled fast path: its bytes are what the generic
    serializer writes for the stored fragments given as mappings (epoch seconds)."""
    if kvs.emulator is None:
        pytest.skip("reads the store (in process only)")
    from greenroom.protocol import models, restjson
    from greenroom.services.kinesisvideo import storage
    kvs.create_active_stream()
    put_fragments(kvs, 3)
    put_fragments(kvs, 4, first=3, start_ms=BASE_MS + 250)   # fractional producer timestamps
    kvs.advance(0.5)
    put_fragments(kvs, 2, first=7)                             # and server ones
    document = {"StreamName": "cam", "MaxResults": 6,
                "FragmentSelector": selector("SERVER_TIMESTAMP", BASE_MS / 1000, 4_000_000_000)}
    status, _, body = kvs.request("POST", "/listFragments", json.dumps(document).encode(),
                                  headers={"authorization": AUTHORIZATION})
    assert status == 200, body
    with kvs.emulator.store.transaction() as conn:
        rows = conn.execute(sa.select(*storage.LISTED_COLUMNS).order_by(storage.fragments.c.server_ms,
                                                                         storage.fragments.c.seq).limit(6)).all()
    assert len({row.producer_ms % 1000 for row in rows} | {row.server_ms % 1000 for row in rows}) > 1
    mappings = [{"FragmentNumber": storage.fragment_number(row.server_ms, row.seq), "FragmentSizeInBytes": row.size,
                 "ProducerTimestamp": row.producer_ms / 1000, "ServerTimestamp": row.server_ms / 1000,
                 "FragmentLengthInMilliseconds": row.duration_ms} for row in rows]
    operation = models.operation_model("kinesis-video-archived-media", "ListFragments")
    _, _, expected = restjson.serialize_output(
        operation, {"Fragments": mappings, "NextToken": json.loads(body)["NextToken"]})
    assert body == expected


# ---------------------------------------------------------------------------- retention

def _rows(kvs) -> int | None:
    """Fragment rows in the store (in process only)."""
    if kvs.emulator is None:
        return None
    from greenroom.services.kinesisvideo import storage
    with kvs.emulator.store.transaction() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(storage.fragments)).scalar()


def test_retention_removes_old_fragments_from_every_reader(kvs):
    kvs.create_active_stream(retention=1)
    old = put_fragments(kvs, 3)
    kvs.advance(1800)
    recent = put_fragments(kvs, 2, first=3)
    assert [f["FragmentNumber"] for f in kvs.fragments()] == old + recent
    kvs.advance(1801)  # the first three are now more than an hour old
    assert [f["FragmentNumber"] for f in kvs.fragments()] == recent
    if kvs.emulator is not None:  # gone from the store too, with nothing written since
        assert _rows(kvs) == 2
    assert [f["FragmentNumber"] for f in kvs.fragments(kind="SERVER_TIMESTAMP")] == recent
    payload = kvs.client("kinesis-video-archived-media").get_media_for_fragment_list(
        StreamName="cam", Fragments=[old[0]])["Payload"].read()
    assert b"AWS_KINESISVIDEO_ERROR_ID" in payload and b"4000" in payload
    media = kvs.client("kinesis-video-media").get_media(
        StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    assert media.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 2
    kvs.advance(1800)  # and the others in their turn
    assert kvs.fragments(kind="SERVER_TIMESTAMP") == []
    if kvs.emulator is not None:
        assert _rows(kvs) == 0


def test_without_retention_fragments_live_in_the_buffer_only(kvs):
    kvs.create_active_stream(retention=0)
    put_fragments(kvs, 3)
    assert kvs.fragments() == []  # nothing is archived
    media = kvs.client("kinesis-video-media")
    payload = media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    assert payload.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 3
    kvs.advance(301)
    payload = media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    assert payload == b""
    put_fragments(kvs, 1, first=3)
    if kvs.emulator is not None:
        assert _rows(kvs) == 1


def test_decreasing_retention_deletes_at_once(kvs):
    kvs.create_active_stream(retention=3)
    put_fragments(kvs, 2)
    kvs.advance(2 * 3600)
    kept = put_fragments(kvs, 1, first=2)
    kv = kvs.client("kinesisvideo")
    version = kv.describe_stream(StreamName="cam")["StreamInfo"]["Version"]
    kv.update_data_retention(StreamName="cam", CurrentVersion=version, Operation="DECREASE_DATA_RETENTION",
                             DataRetentionChangeInHours=2)
    assert [f["FragmentNumber"] for f in kvs.fragments()] == kept
    if kvs.emulator is not None:
        assert _rows(kvs) == 1


def test_deleted_stream_takes_its_fragments(kvs):
    arn = kvs.create_active_stream()
    put_fragments(kvs, 2)
    kvs.client("kinesisvideo").delete_stream(StreamARN=arn)
    kvs.advance(1)
    kvs.create_active_stream()
    assert kvs.fragments() == []
    if kvs.emulator is not None:
        assert _rows(kvs) == 0
