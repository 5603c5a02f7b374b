"""Kinesis Video media across servers sharing one PostgreSQL store: two PutMedia producers to
one stream through different servers both complete with unique, increasing fragment numbers,
and a GetMedia NOW tail on one server receives what a producer sends to another (it is woken
through the store's notifications, and knows a producer is connected elsewhere)."""
from __future__ import annotations

import asyncio

import pytest

from greenroom.media.producer import put_media_stream
from kvs_support import fake_cluster, header, make_client, now_tail, received, until

FRAGMENTS_PER_PRODUCER = 12


@pytest.fixture
def three(launch, postgres_url):
    servers = launch.many([["--db-url", postgres_url, "--log-level", "warning"]] * 3)
    for server in servers:
        server.admin("POST", "delays", {"kinesisvideo.stream.create": 0}).raise_for_status()
    make_client("kinesisvideo", servers[0].base_url).create_stream(StreamName="cam", DataRetentionInHours=24)
    return servers


def test_two_producers_to_one_stream_on_different_servers(three):
    a, b = three[0], three[1]

    async def body(start_ms: int):
        yield header()
        for index in range(FRAGMENTS_PER_PRODUCER):
            yield fake_cluster(start_ms + index * 1000)
            await asyncio.sleep(0.01)  # the two producers interleave

    async def both():
        return await asyncio.gather(*(
            put_media_stream(server.base_url, body(start), stream_name="cam", timecode_type="ABSOLUTE")
            for server, start in ((a, 1_700_000_000_000), (b, 1_700_000_500_000))))

    results = asyncio.run(both())
    for result in results:
        assert result.errors == [], result.acks
        numbers = received(result.acks)
        assert len(numbers) == FRAGMENTS_PER_PRODUCER
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    everything = received(results[0].acks) + received(results[1].acks)
    assert len(set(everything)) == 2 * FRAGMENTS_PER_PRODUCER

    # Each server lists all of them, in increasing number order.
    for server in three:
        archived = make_client("kinesis-video-archived-media", server.base_url)
        listed = [fragment["FragmentNumber"] for page in archived.get_paginator("list_fragments").paginate(
            StreamName="cam", FragmentSelector={"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {
                "StartTimestamp": 0, "EndTimestamp": 4_000_000_000}}) for fragment in page["Fragments"]]
        assert sorted(listed) == sorted(everything)
    for server in three:
        assert "Traceback" not in server.log(), server.log()


def test_get_media_now_on_one_server_while_the_producer_is_on_another(three):
    producer_server, tail_server = three[0], three[2]
    media = make_client("kinesis-video-media", tail_server.base_url)
    seen: list[str] = []
    results: dict = {}

    async def body(acks):
        yield header() + fake_cluster(0)
        await until(lambda: any(ack["EventType"] == "PERSISTED" for ack in acks))
        results["consumer"] = await asyncio.to_thread(now_tail, media, seen, results)
        for index in range(4):
            yield fake_cluster((index + 1) * 1000)
            # The tail on the other server has this fragment before the next one is sent.
            await until(lambda: len(seen) == index + 1)

    acks: list = []
    asyncio.run(put_media_stream(producer_server.base_url, body(acks), on_ack=acks.append, stream_name="cam",
                                 timecode_type="ABSOLUTE"))
    # The producer is gone: the tail on the other server ends too.
    results["consumer"].join(15)
    assert results.get("ended")
    assert seen == received(acks)[1:]

