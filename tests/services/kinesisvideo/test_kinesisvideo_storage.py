"""Where fragments are kept: a SQLite file with its blob files beside it, and PostgreSQL (bytes in
a table); retention and deletion reach the bytes; a restarted server serves what it stored."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

import greenroom
from greenroom.emulator import Emulator
from greenroom.media.testsrc import decoded_frames
from greenroom.services.kinesisvideo import storage
from greenroom.services.kinesisvideo.put_media import put_media_in_process
from kvs_support import EVERYTHING, fake_cluster, header, make_client, video, video_body


@pytest.fixture
def stored(db_url):
    """An in-process emulator on a SQLite file (blobs in files) and on PostgreSQL (blobs in a
    table), with a manual clock; yields (emulator, client factory)."""
    with greenroom.mock() as mock:
        emulator = Emulator(db_url)
        emulator.clock.freeze()
        mock.emulator = emulator
        clients = {}

        def client(name):
            if name not in clients:
                clients[name] = make_client(name)
            return clients[name]

        yield emulator, client
        emulator.store.engine.dispose()


def _count(emulator, table) -> int:
    with emulator.store.transaction() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _blob_files(emulator) -> list[Path]:
    database = emulator.store.engine.url.database
    if emulator.store.dialect != "sqlite" or not database:
        return []
    return sorted((Path(database).parent / "kinesisvideo-media").glob("*/*.bin"))


def test_put_list_get_on_each_store(stored):
    emulator, client = stored
    client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=1)
    emulator.clock.advance(1)
    acks = put_media_in_process(emulator, list(video_body(3.0)), stream_name="cam", timecode_type="RELATIVE",
                                producer_start_ms=1_700_000_000_000)
    assert [a["EventType"] for a in acks].count("PERSISTED") == 3
    fragments = client("kinesis-video-archived-media").list_fragments(
        StreamName="cam", FragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP",
                                            "TimestampRange": EVERYTHING})["Fragments"]
    assert len(fragments) == 3
    payload = client("kinesis-video-media").get_media(StreamName="cam", StartSelector={
        "StartSelectorType": "EARLIEST"})["Payload"].read()
    assert all(np.array_equal(a, b) for a, b in zip(decoded_frames(video(3.0)), decoded_frames(payload), strict=True))
    if emulator.store.dialect == "sqlite":
        assert len(_blob_files(emulator)) == 1 and _count(emulator, storage.fragment_data) == 0
    else:
        assert _count(emulator, storage.fragment_data) == 3


def test_retention_and_deletion_reach_the_bytes(stored):
    emulator, client = stored
    kv = client("kinesisvideo")
    arn = kv.create_stream(StreamName="cam", DataRetentionInHours=1)["StreamARN"]
    emulator.clock.advance(1)
    put_media_in_process(emulator, [header()] + [fake_cluster(t * 1000) for t in range(3)], stream_name="cam",
                         timecode_type="ABSOLUTE")
    emulator.clock.advance(3601)
    put_media_in_process(emulator, [header(), fake_cluster(10_000)], stream_name="cam", timecode_type="ABSOLUTE")
    assert _count(emulator, storage.fragments) == 1
    if emulator.store.dialect == "sqlite":
        assert len(_blob_files(emulator)) == 1  # the old five-minute file is gone
    else:
        assert _count(emulator, storage.fragment_data) == 1
    kv.delete_stream(StreamARN=arn)
    emulator.clock.advance(1)
    kv.list_streams()  # any request applies the due removal
    assert _count(emulator, storage.fragments) == 0 and _count(emulator, storage.headers) == 0
    assert _blob_files(emulator) == [] and _count(emulator, storage.fragment_data) == 0


def test_a_restarted_server_serves_what_it_stored(tmp_path, launch):
    server = launch("--data-dir", str(tmp_path))
    try:
        server.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=1)
        server.admin("POST", "clock", {"advance": 1}).raise_for_status()
        from kvs_support import http_put
        first = http_put(server.base_url, list(video_body(2.0)), stream_name="cam", timecode_type="RELATIVE",
                         producer_start_ms=1_700_000_000_000)
    finally:
        server.stop()
    server = launch("--data-dir", str(tmp_path))
    try:
        payload = server.client("kinesis-video-media").get_media(
            StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
        assert len(decoded_frames(payload)) == 50
        from kvs_support import http_put
        later = http_put(server.base_url, [header(), fake_cluster(0)], stream_name="cam", timecode_type="RELATIVE",
                         producer_start_ms=1_700_000_010_000)
        numbers = [a["FragmentNumber"] for a in first + later if a["EventType"] == "RECEIVED"]
        assert len(numbers) == 3 and [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    finally:
        server.stop()
