"""GetMedia and GetMediaForFragmentList: bytes in = bytes out (the frames decode to the frames
that were put), the per-fragment MKV layout and its AWS_KINESISVIDEO_* tags, every start
selector, in-band errors, the connection limit and live tails."""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from greenroom.media import mkv
from greenroom.media.producer import put_media_stream
from greenroom.media.testsrc import decoded_frames
from kvs_support import documents, fake_cluster, header, now_tail, received, tags_of, until, video, video_body

BASE_MS = 1_700_000_000_000


def get_media(kvs, **selector) -> bytes:
    return kvs.client("kinesis-video-media").get_media(StreamName="cam", StartSelector=selector)["Payload"].read()


def numbers_in(payload: bytes) -> list[str]:
    return [tags_of(document)[0]["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] for document in documents(payload)]


@pytest.mark.parametrize("audio", [False, True])
def test_frames_read_back_decode_to_the_frames_put(kvs, audio):
    kvs.create_active_stream()
    kvs.put_video(seconds=4, audio=audio)
    payload = get_media(kvs, StartSelectorType="EARLIEST")
    original = decoded_frames(video(4.0, 25, audio))
    assert len(original) == 100
    assert all(np.array_equal(a, b) for a, b in zip(original, decoded_frames(payload), strict=True))
    if audio:
        sound_in = decoded_frames(video(4.0, 25, audio), kind="audio")
        sound_out = decoded_frames(payload, kind="audio")
        assert len(sound_out) == len(sound_in) > 100
        assert all(np.array_equal(a, b) for a, b in zip(sound_in, sound_out))
    # Every document is a complete MKV of its own that decodes to one second of frames.
    docs = documents(payload)
    assert len(docs) == 4
    cuts = [0]
    for document in docs:  # the elements, and the 12 bytes that open the live Segment
        cuts.append(cuts[-1] + 12 + sum(len(getattr(event, "raw", b"")) for event in document))
    pieces = [payload[a:b] for a, b in zip(cuts, cuts[1:])]
    assert [len(decoded_frames(piece)) for piece in pieces] == [25, 25, 25, 25]


def test_clusters_come_back_byte_for_byte(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=3)
    parser = mkv.MkvStreamParser()
    sent = [e.raw for piece in video_body(3.0) for e in parser.feed(piece) if isinstance(e, mkv.ClusterEnded)]
    sent += [e.raw for e in parser.end() if isinstance(e, mkv.ClusterEnded)]
    returned = [e.raw for document in documents(get_media(kvs, StartSelectorType="EARLIEST"))
                for e in document if isinstance(e, mkv.ClusterEnded)]
    assert returned == sent


def test_document_layout_and_tags(kvs):
    kvs.create_active_stream()
    acks = kvs.put_media([header(), fake_cluster(0, tags=[("camera", "front")]), fake_cluster(1000)],
                   stream_name="cam", timecode_type="RELATIVE", producer_start_ms=BASE_MS + 250)
    numbers = received(acks)
    kvs.advance(5)
    fragments = kvs.fragments()
    docs = documents(get_media(kvs, StartSelectorType="EARLIEST"))
    assert [[type(e).__name__ for e in document] for document in docs] == [[
        "HeaderRead", "InfoRead", "TracksRead", "TagsRead", "ClusterStarted", "ClusterEnded", "TagsRead"]] * 2
    before, after = tags_of(docs[0])
    server_seconds = fragments[0]["ServerTimestamp"].timestamp()
    assert before == {"AWS_KINESISVIDEO_FRAGMENT_NUMBER": numbers[0],
                      "AWS_KINESISVIDEO_SERVER_TIMESTAMP": f"{server_seconds:.3f}",
                      "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP": f"{(BASE_MS + 250) / 1000:.3f}",
                      "camera": "front"}
    assert after == {"AWS_KINESISVIDEO_MILLIS_BEHIND_NOW": "5000",
                     "AWS_KINESISVIDEO_CONTINUATION_TOKEN": numbers[0]}
    assert tags_of(docs[1])[0]["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"] == f"{(BASE_MS + 1250) / 1000:.3f}"
    # The producer's own segment header is repeated in every document.
    assert docs[0][1].raw == docs[1][1].raw and docs[0][2].raw == docs[1][2].raw
    assert docs[0][4].timecode == 0 and docs[1][4].timecode == 1000


def test_start_selectors(kvs):
    kvs.create_active_stream()
    first = received(kvs.put_media([header()] + [fake_cluster(t * 1000) for t in range(3)], stream_name="cam",
                             timecode_type="RELATIVE", producer_start_ms=BASE_MS))
    kvs.advance(100)
    second = received(kvs.put_media([header()] + [fake_cluster(t * 1000) for t in range(3, 5)], stream_name="cam",
                              timecode_type="RELATIVE", producer_start_ms=BASE_MS + 10_000))
    everything = first + second
    servers = [f["ServerTimestamp"] for f in kvs.fragments(kind="SERVER_TIMESTAMP")]
    assert numbers_in(get_media(kvs, StartSelectorType="EARLIEST")) == everything
    assert numbers_in(get_media(kvs, StartSelectorType="FRAGMENT_NUMBER", AfterFragmentNumber=first[1])) == everything[2:]
    assert numbers_in(get_media(kvs, StartSelectorType="CONTINUATION_TOKEN", ContinuationToken=first[2])) == second
    import datetime as dt
    at = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)  # noqa: E731
    # The fragment containing the time, then on in fragment-number order.
    assert numbers_in(get_media(kvs, StartSelectorType="PRODUCER_TIMESTAMP", StartTimestamp=at(BASE_MS + 1000))) \
        == everything[1:]
    # A time between fragments (the producer's gap): the next one.
    assert numbers_in(get_media(kvs, StartSelectorType="PRODUCER_TIMESTAMP", StartTimestamp=at(BASE_MS + 8000))) \
        == second
    assert numbers_in(get_media(kvs, StartSelectorType="SERVER_TIMESTAMP", StartTimestamp=servers[3])) == second
    # NOW: only what arrives after the request (nothing, with no producer connected).
    assert get_media(kvs, StartSelectorType="NOW") == b""


def test_start_selector_errors(kvs):
    kvs.create_active_stream()
    numbers = received(kvs.put_media([header(), fake_cluster(0)], stream_name="cam", timecode_type="ABSOLUTE"))
    media = kvs.client("kinesis-video-media")
    for selector in ({"StartSelectorType": "FRAGMENT_NUMBER"}, {"StartSelectorType": "CONTINUATION_TOKEN"},
                     {"StartSelectorType": "SERVER_TIMESTAMP"}):
        with pytest.raises(media.exceptions.InvalidArgumentException):
            media.get_media(StreamName="cam", StartSelector=selector)
    with pytest.raises(media.exceptions.ResourceNotFoundException):
        media.get_media(StreamName="nope", StartSelector={"StartSelectorType": "EARLIEST"})
    # A fragment number that never was: the error is in band.
    unknown = numbers[0][:-1] + "9"
    (error,) = documents(get_media(kvs, StartSelectorType="FRAGMENT_NUMBER", AfterFragmentNumber=unknown))
    assert tags_of(error) == [{"AWS_KINESISVIDEO_ERROR_CODE": "Requested fragment is not found",
                               "AWS_KINESISVIDEO_ERROR_ID": "4000", "AWS_KINESISVIDEO_FRAGMENT_NUMBER": unknown}]


def test_get_media_for_fragment_list(kvs):
    kvs.create_active_stream()
    numbers = received(kvs.put_media([header()] + [fake_cluster(t * 1000) for t in range(4)], stream_name="cam",
                               timecode_type="RELATIVE", producer_start_ms=BASE_MS))
    archived = kvs.client("kinesis-video-archived-media")
    out = archived.get_media_for_fragment_list(StreamName="cam", Fragments=[numbers[3], numbers[0]])
    assert out["ContentType"] == "video/webm"
    docs = documents(out["Payload"].read())
    assert [tags_of(d)[0]["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] for d in docs] == [numbers[3], numbers[0]]
    assert [[type(e).__name__ for e in d] for d in docs][0] == [
        "HeaderRead", "InfoRead", "TracksRead", "TagsRead", "ClusterStarted", "ClusterEnded", "TagsRead"]
    # An unknown fragment: what comes before it, then the in-band error (HTTP 200).
    missing = "1" * 47
    out = archived.get_media_for_fragment_list(StreamName="cam", Fragments=[numbers[1], missing, numbers[2]])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    docs = documents(out["Payload"].read())
    assert tags_of(docs[0])[0]["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] == numbers[1]
    assert tags_of(docs[1]) == [{"AWS_KINESISVIDEO_ERROR_CODE": "Requested fragment is not found",
                                 "AWS_KINESISVIDEO_ERROR_ID": "4000", "AWS_KINESISVIDEO_FRAGMENT_NUMBER": missing}]
    assert len(docs) == 2
    with pytest.raises(archived.exceptions.InvalidArgumentException):
        archived.get_media_for_fragment_list(StreamName="cam", Fragments=[])
    with pytest.raises(archived.exceptions.InvalidArgumentException):
        archived.get_media_for_fragment_list(StreamName="cam", Fragments=numbers * 251)
    with pytest.raises(archived.exceptions.ResourceNotFoundException):
        archived.get_media_for_fragment_list(StreamName="nope", Fragments=numbers[:1])


def test_connection_limit_in_process(mock_kvs):
    kvs = mock_kvs
    kvs.create_active_stream()
    kvs.put_media([header(), fake_cluster(0)], stream_name="cam", timecode_type="ABSOLUTE")
    media = kvs.client("kinesis-video-media")
    open_ones = [media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})
                 for _ in range(3)]
    with pytest.raises(media.exceptions.ConnectionLimitExceededException):
        media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})
    open_ones[0]["Payload"].read()  # read to its end: the connection is over
    media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()


def test_live_tail_and_connection_limit(http_kvs):
    """A GetMedia NOW tail receives each fragment while the producer is still connected, and
    ends when the producer goes; a fourth concurrent GetMedia is refused."""
    http_kvs.create_active_stream()
    media = http_kvs.client("kinesis-video-media")
    seen: list[str] = []
    results: dict = {}

    async def body(acks):
        yield header() + fake_cluster(0)
        # Once the first fragment is in, the server surely knows this producer is connected.
        await until(lambda: any(a["EventType"] == "PERSISTED" for a in acks))
        results["consumer"] = await asyncio.to_thread(now_tail, media, seen, results)
        # Two more tails fill the limit; a fourth is refused.
        extra = [await asyncio.to_thread(media.get_media, StreamName="cam",
                                         StartSelector={"StartSelectorType": "NOW"}) for _ in range(2)]
        with pytest.raises(media.exceptions.ConnectionLimitExceededException):
            await asyncio.to_thread(media.get_media, StreamName="cam", StartSelector={"StartSelectorType": "NOW"})
        for index in range(3):
            yield fake_cluster((index + 1) * 1000)
            # The tail has this fragment before the producer sends the next one.
            await until(lambda: len(seen) == index + 1)
        results["extra"] = extra

    acks: list = []
    asyncio.run(put_media_stream(http_kvs.base_url, body(acks), on_ack=acks.append, stream_name="cam",
                                 timecode_type="ABSOLUTE"))
    results["consumer"].join(10)
    assert results.get("ended") and seen == received(acks)[1:]
    for extra in results["extra"]:
        assert len(documents(extra["Payload"].read())) == 3


def test_a_client_that_goes_away_frees_its_connection(http_kvs):
    """A live tail whose client disconnects stops waiting: its connection no longer counts."""
    http_kvs.create_active_stream()
    media = http_kvs.client("kinesis-video-media")
    done = threading.Event()
    outcome: dict = {}

    async def body(acks):
        yield header() + fake_cluster(0)
        await until(lambda: any(a["EventType"] == "PERSISTED" for a in acks))
        tails = [await asyncio.to_thread(media.get_media, StreamName="cam", StartSelector={"StartSelectorType": "NOW"})
                 for _ in range(3)]
        with pytest.raises(media.exceptions.ConnectionLimitExceededException):
            await asyncio.to_thread(media.get_media, StreamName="cam", StartSelector={"StartSelectorType": "NOW"})
        tails[0]["Payload"].close()  # the client goes away

        async def retry():
            deadline = asyncio.get_running_loop().time() + 5
            while True:
                try:
                    return await asyncio.to_thread(media.get_media, StreamName="cam",
                                                   StartSelector={"StartSelectorType": "NOW"})
                except media.exceptions.ConnectionLimitExceededException:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.05)

        outcome["fourth"] = await retry()
        yield fake_cluster(1000)
        await until(lambda: sum(a["EventType"] == "RECEIVED" for a in acks) == 2)
        outcome["tails"] = tails[1:]
        done.set()

    acks: list = []
    asyncio.run(put_media_stream(http_kvs.base_url, body(acks), on_ack=acks.append, stream_name="cam",
                                 timecode_type="ABSOLUTE"))
    assert done.is_set()
    # The tails still connected got the fragment put after they started, then ended with the producer.
    for tail in outcome["tails"] + [outcome["fourth"]]:
        assert numbers_in(tail["Payload"].read()) == received(acks)[1:]


# ---------------------------------------------------------------------------- waiting for data

def test_get_media_now_waits_for_data(http_kvs):
    """GetMedia NOW with no producer connected does not end at once: a producer that connects
    within the documented 3 s is read by it."""
    from greenroom.services.kinesisvideo import DELAYS
    assert DELAYS["kinesisvideo.getmedia.no_data_timeout"] == 3.0
    http_kvs.set_delays({"kinesisvideo.getmedia.no_data_timeout": 3.0})  # the default (the fixture shortens it)
    http_kvs.create_active_stream()
    seen: list[str] = []
    state: dict = {}
    consumer = now_tail(http_kvs.client("kinesis-video-media"), seen, state)
    acks = http_kvs.put_media([header(), fake_cluster(0)], stream_name="cam", timecode_type="ABSOLUTE")
    consumer.join(15)
    assert not consumer.is_alive()
    assert seen == received(acks)
    # It ended the documented 3 s after the producer left (not while it was still waiting).
    assert state["ended"] - state["started"] >= 3


def test_live_tail_survives_a_producer_reconnecting(http_kvs):
    """A producer sends a fragment, goes away and comes back (as the SDKs do after an error or
    a stale connection): the tail reads both connections' fragments, then ends."""
    http_kvs.create_active_stream()
    http_kvs.set_delays({"kinesisvideo.getmedia.no_data_timeout": 1.5})
    seen: list[str] = []
    state: dict = {}
    consumer = now_tail(http_kvs.client("kinesis-video-media"), seen, state)
    first = received(http_kvs.put_media([header(), fake_cluster(0)], stream_name="cam", timecode_type="ABSOLUTE"))
    deadline = time.monotonic() + 10
    while len(seen) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # the reconnection gap: no producer connected
    assert consumer.is_alive()
    second = received(http_kvs.put_media([header(), fake_cluster(1000)], stream_name="cam", timecode_type="ABSOLUTE"))
    consumer.join(15)
    assert not consumer.is_alive()
    assert seen == first + second
