"""GetHLSStreamingSessionURL and the HLS endpoints: playlists fetched from the session URL (over
HTTP from the server, through the emulator in process), every segment fetched, init + segments
decoded with PyAV (all frames), absolute and continuous tfdt; LIVE playlists advance, LIVE_REPLAY
replays, ON_DEMAND ends; MPEG-TS; discontinuities and program date times; parameter validation;
session expiry, unknown tokens and the 10-session limit."""
from __future__ import annotations

import datetime as dt
import io
import re
from urllib.parse import urljoin

import av
import pytest
from botocore.exceptions import ClientError

from greenroom.media import remux

BASE_MS = 1_700_000_000_000


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def session_url(kvs, stream: str = "cam", **options) -> str:
    archived = kvs.client("kinesis-video-archived-media")
    return archived.get_hls_streaming_session_url(StreamName=stream, **options)["HLSStreamingSessionURL"]


def playlist(kvs, url: str) -> str:
    status, headers, body = kvs.fetch(url)
    assert status == 200, body
    return body.decode()


def media_playlist_url(kvs, master_url: str) -> str:
    master = playlist(kvs, master_url)
    line = next(line for line in master.splitlines() if line and not line.startswith("#"))
    return urljoin(master_url, line)


def segments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def tag_values(text: str, tag: str) -> list[str]:
    return [line.split(":", 1)[1] if ":" in line else "" for line in text.splitlines() if line.startswith(tag)]


def play(kvs, media_url: str) -> tuple[bytes, list[bytes], str]:
    """(init segment or b"", media segments, the playlist) of a media playlist, all fetched."""
    text = playlist(kvs, media_url)
    init = b""
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    if maps:
        status, headers, init = kvs.fetch(urljoin(media_url, maps[0]))
        assert status == 200 and init[4:8] == b"ftyp"
    bodies = []
    for uri in segments(text):
        status, headers, body = kvs.fetch(urljoin(media_url, uri))
        assert status == 200, body
        bodies.append(body)
    return init, bodies, text


def frame_count(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return len(list(container.decode(container.streams.video[0])))


def tfdts(segment: bytes) -> dict[int, int]:
    """track_ID -> the first tfdt of a media segment."""
    found = {}
    for kind, _, payload, end in remux._boxes(segment):
        if kind == "moof":
            for child, _, traf, traf_end in remux._boxes(segment, payload, end):
                if child == "traf":
                    tfhd = remux._child(segment, traf, traf_end, "tfhd")
                    tfdt = remux._child(segment, traf, traf_end, "tfdt")
                    track = int.from_bytes(segment[tfhd[1] + 4:tfhd[1] + 8], "big")
                    found.setdefault(track, int.from_bytes(segment[tfdt[1] + 4:tfdt[1] + 12], "big"))
    return found


def segment_timing(segment: bytes) -> tuple[int, int, int]:
    """(first tfdt, sum of the sample durations, sample count) of a one-track media segment
    (``trun`` with per-sample durations, as greenroom writes it)."""
    start = total = count = None
    for kind, _, payload, end in remux._boxes(segment):
        if kind != "moof":
            continue
        for child, _, traf, traf_end in remux._boxes(segment, payload, end):
            if child != "traf":
                continue
            tfdt = remux._child(segment, traf, traf_end, "tfdt")
            trun = remux._child(segment, traf, traf_end, "trun")
            start = int.from_bytes(segment[tfdt[1] + 4:tfdt[1] + 12], "big")
            flags = int.from_bytes(segment[trun[1] + 1:trun[1] + 4], "big")
            count = int.from_bytes(segment[trun[1] + 4:trun[1] + 8], "big")
            at = trun[1] + 8 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
            width = 4 * bin(flags & 0xF00).count("1")
            total = sum(int.from_bytes(segment[at + i * width:at + i * width + 4], "big") for i in range(count))
    return start, total, count


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_live_session_plays_every_frame_with_absolute_continuous_tfdt(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4, audio=True)
    url = session_url(kvs)
    assert "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=" in url
    master = playlist(kvs, url)
    assert master.startswith("#EXTM3U")
    (attributes,) = tag_values(master, "#EXT-X-STREAM-INF")
    assert re.search(r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"', attributes)
    assert "RESOLUTION=160x120" in attributes and "FRAME-RATE=25.000" in attributes
    media_url = media_playlist_url(kvs, url)
    init, bodies, text = play(kvs, media_url)
    assert tag_values(text, "#EXT-X-VERSION") == ["7"]
    assert tag_values(text, "#EXT-X-TARGETDURATION") == ["1"]
    # A fragment lasts from its first frame to the end of its last one (audio runs a little longer).
    assert [float(value.rstrip(",")) for value in tag_values(text, "#EXTINF")] == pytest.approx([1.0] * 4, abs=0.05)
    assert "#EXT-X-ENDLIST" not in text
    # SERVER_TIMESTAMP (LIVE's default) means DiscontinuityMode ALWAYS.
    assert text.splitlines().count("#EXT-X-DISCONTINUITY") == 4
    assert tag_values(text, "#EXT-X-DISCONTINUITY-SEQUENCE") == tag_values(text, "#EXT-X-MEDIA-SEQUENCE")
    assert frame_count(init + b"".join(bodies)) == 100
    scales = remux.track_timescales(init)
    assert list(scales) == [1]   # the video playlist's init and segments hold the video track only
    starts = [tfdts(body) for body in bodies]
    for index, start in enumerate(starts):
        for track, scale in scales.items():
            assert start[track] == (BASE_MS + 1000 * index) * scale // 1000
    assert all(b"moov" not in body and body[4:8] == b"moof" for body in bodies)   # no init repeated
    assert_continuous(bodies)
    # The reference: "a distinct HLS media playlist for the video track and the audio track".
    (rendition,) = tag_values(master, "#EXT-X-MEDIA")
    assert 'TYPE=AUDIO' in rendition and 'GROUP-ID="audio"' in rendition and 'AUDIO="audio"' in attributes
    audio_url = urljoin(url, re.search(r'URI="([^"]+)"', rendition).group(1))
    assert "TrackNumber=2" in audio_url
    audio_init, audio_bodies, audio_text = play(kvs, audio_url)
    assert list(remux.track_timescales(audio_init)) == [2]
    assert tag_values(audio_text, "#EXT-X-MEDIA-SEQUENCE") == tag_values(text, "#EXT-X-MEDIA-SEQUENCE")
    assert len(audio_bodies) == 4 and all(b"moov" not in body for body in audio_bodies)
    with av.open(io.BytesIO(audio_init + b"".join(audio_bodies))) as container:
        assert len(list(container.decode(container.streams.audio[0]))) == 189   # every AAC frame sent (4 s + the priming frame)
    assert audio_bodies[0] and tfdts(audio_bodies[0])[2] == BASE_MS * 48
    assert_continuous(audio_bodies, slack=48)   # AAC frames start on their own millisecond timecodes


def assert_continuous(bodies: list[bytes], slack: int = 0) -> None:
    """Each media segment starts where the one before ended (its tfdt plus its samples'
    durations) -- exactly, or within ``slack`` ticks -- so decode times only grow across
    segment boundaries."""
    timings = [segment_timing(body) for body in bodies]
    for (start, duration, count), (next_start, _, _) in zip(timings, timings[1:]):
        assert count > 0 and abs(next_start - (start + duration)) <= slack, (start, duration, next_start)
        assert next_start > start + duration - duration // count   # after the previous sample began


def test_mpeg_ts_carries_both_tracks_in_one_playlist(kvs):
    """The reference: GetTSFragment "retrieves MPEG TS fragments containing both initialization
    and media data for all tracks in the stream" -- one media playlist, no audio rendition."""
    kvs.create_active_stream()
    kvs.put_video(seconds=4, audio=True)
    url = session_url(kvs, PlaybackMode="ON_DEMAND", ContainerFormat="MPEG_TS",
                      HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {
                          "StartTimestamp": at(BASE_MS), "EndTimestamp": at(BASE_MS + 4000)}})
    master = playlist(kvs, url)
    assert "#EXT-X-MEDIA" not in master
    assert re.search(r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"', master)
    media_url = media_playlist_url(kvs, url)
    init, bodies, text = play(kvs, media_url)
    assert init == b"" and len(bodies) == 4
    assert kvs.fetch(media_url.replace("TrackNumber=1", "TrackNumber=2"))[0] == 400
    with av.open(io.BytesIO(b"".join(bodies))) as container:
        video = [frame.time for frame in container.decode(video=0)]
    with av.open(io.BytesIO(b"".join(bodies))) as container:
        audio = [frame.time for frame in container.decode(audio=0)]
    assert len(video) == 100 and len(audio) >= 187
    assert video == sorted(video) and audio == sorted(audio)


def test_live_playlist_advances_as_fragments_arrive(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4)
    media_url = media_playlist_url(kvs, session_url(kvs, MaxMediaPlaylistFragmentResults=3))
    first = playlist(kvs, media_url)
    numbers = [f["FragmentNumber"] for f in kvs.fragments()]
    assert [re.search(r"FragmentNumber=(\d+)", s).group(1) for s in segments(first)] == numbers[1:]
    sequence = int(tag_values(first, "#EXT-X-MEDIA-SEQUENCE")[0])
    kvs.advance(4)
    kvs.put_video(seconds=4, start_ms=BASE_MS + 4000)
    second = playlist(kvs, media_url)
    assert int(tag_values(second, "#EXT-X-MEDIA-SEQUENCE")[0]) == sequence + 4
    numbers = [f["FragmentNumber"] for f in kvs.fragments()]
    assert [re.search(r"FragmentNumber=(\d+)", s).group(1) for s in segments(second)] == numbers[-3:]
    init, bodies, _ = play(kvs, media_url)
    assert frame_count(init + b"".join(bodies)) == 75


def test_on_demand_mpeg_ts_with_program_date_times(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4)
    url = session_url(kvs, PlaybackMode="ON_DEMAND", ContainerFormat="MPEG_TS", DisplayFragmentTimestamp="ALWAYS",
                      HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {
                          "StartTimestamp": at(BASE_MS + 1000), "EndTimestamp": at(BASE_MS + 3000)}})
    init, bodies, text = play(kvs, media_playlist_url(kvs, url))
    assert init == b"" and "#EXT-X-MAP" not in text
    assert tag_values(text, "#EXT-X-PLAYLIST-TYPE") == ["VOD"] and text.rstrip().endswith("#EXT-X-ENDLIST")
    assert all(uri.startswith("getTSFragment.ts?") for uri in segments(text))
    assert "#EXT-X-DISCONTINUITY" not in text   # PRODUCER_TIMESTAMP defaults to NEVER
    assert tag_values(text, "#EXT-X-PROGRAM-DATE-TIME") == [
        "2023-11-14T22:13:21.000Z", "2023-11-14T22:13:22.000Z", "2023-11-14T22:13:23.000Z"]
    assert all(body[0] == 0x47 for body in bodies)   # MPEG-TS sync byte
    assert frame_count(b"".join(bodies)) == 75
    with av.open(io.BytesIO(b"".join(bodies))) as container:
        times = [frame.time for frame in container.decode(video=0)]
    assert times == sorted(times) and times[-1] - times[0] == pytest.approx(2.96, abs=0.01)


def test_on_discontinuity_marks_gaps_only(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=2)
    kvs.advance(10)
    kvs.put_video(seconds=2, start_ms=BASE_MS + 10_000)
    url = session_url(kvs, PlaybackMode="ON_DEMAND", DiscontinuityMode="ON_DISCONTINUITY",
                      HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {
                          "StartTimestamp": at(BASE_MS), "EndTimestamp": at(BASE_MS + 20_000)}})
    init, bodies, text = play(kvs, media_playlist_url(kvs, url))
    lines = text.splitlines()
    marks = [i for i, line in enumerate(lines) if line == "#EXT-X-DISCONTINUITY"]
    assert len(marks) == 1 and len([s for s in segments("\n".join(lines[:marks[0]]))]) == 2
    assert frame_count(init + b"".join(bodies)) == 100


def test_live_replay_plays_at_real_speed_and_ends(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4)
    kvs.advance(10)
    selector = {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
                "TimestampRange": {"StartTimestamp": at(BASE_MS), "EndTimestamp": at(BASE_MS + 3000)}}
    media_url = media_playlist_url(kvs, session_url(kvs, PlaybackMode="LIVE_REPLAY", HLSFragmentSelector=selector,
                                                    MaxMediaPlaylistFragmentResults=2))
    numbers = [f["FragmentNumber"] for f in kvs.fragments()]

    def listed(text):
        return [re.search(r"FragmentNumber=(\d+)", s).group(1) for s in segments(text)]

    text = playlist(kvs, media_url)
    assert listed(text) == numbers[:2] and "#EXT-X-ENDLIST" not in text
    kvs.advance(2)
    text = playlist(kvs, media_url)
    assert listed(text) == numbers[1:3] and tag_values(text, "#EXT-X-MEDIA-SEQUENCE") == ["1"]
    kvs.advance(2)
    text = playlist(kvs, media_url)
    assert listed(text) == numbers[2:4] and text.rstrip().endswith("#EXT-X-ENDLIST")


def test_parameter_validation(kvs):
    assert error_code(lambda: session_url(kvs, stream="nope")) == "ResourceNotFoundException"
    kvs.create_active_stream(name="buffered", retention=0)
    kvs.put_video(stream="buffered", seconds=1)
    assert error_code(lambda: session_url(kvs, stream="buffered")) == "NoDataRetentionException"
    kvs.create_active_stream()
    assert error_code(lambda: session_url(kvs)) == "ResourceNotFoundException"   # LIVE: nothing in 30 s
    kvs.put_video(seconds=2)
    assert session_url(kvs)
    in_range = {"StartTimestamp": at(BASE_MS), "EndTimestamp": at(BASE_MS + 2000)}
    producer = "PRODUCER_TIMESTAMP"
    bad = [
        {"HLSFragmentSelector": {"FragmentSelectorType": producer, "TimestampRange": in_range}},   # LIVE + range
        {"PlaybackMode": "ON_DEMAND"},
        {"PlaybackMode": "LIVE_REPLAY", "HLSFragmentSelector": {"FragmentSelectorType": producer}},
        {"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {
            "FragmentSelectorType": producer, "TimestampRange": {"StartTimestamp": at(BASE_MS)}}},
        {"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {"FragmentSelectorType": producer, "TimestampRange": {
            "StartTimestamp": at(BASE_MS + 2000), "EndTimestamp": at(BASE_MS)}}},
        {"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {"FragmentSelectorType": producer, "TimestampRange": {
            "StartTimestamp": at(BASE_MS), "EndTimestamp": at(BASE_MS + 25 * 3600_000)}}},
        {"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {
            "StartTimestamp": at(BASE_MS), "EndTimestamp": dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)}}},
        {"Expires": 299}, {"Expires": 43201}, {"MaxMediaPlaylistFragmentResults": 5001},
        {"PlaybackMode": "LATER"}, {"ContainerFormat": "WEBM"},
    ]
    for options in bad:
        assert error_code(lambda: session_url(kvs, **options)) == "InvalidArgumentException", options
    assert error_code(lambda: session_url(kvs, PlaybackMode="ON_DEMAND", HLSFragmentSelector={
        "FragmentSelectorType": producer, "TimestampRange": {
            "StartTimestamp": at(BASE_MS + 60_000), "EndTimestamp": at(BASE_MS + 70_000)}})) == "ResourceNotFoundException"
    kvs.advance(31)
    assert error_code(lambda: session_url(kvs)) == "ResourceNotFoundException"
    assert session_url(kvs, Expires=43200, PlaybackMode="ON_DEMAND", HLSFragmentSelector={
        "FragmentSelectorType": producer, "TimestampRange": in_range})


def test_sessions_expire_and_at_most_ten_per_stream(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=2)
    first = session_url(kvs, Expires=600)
    assert kvs.fetch(first)[0] == 200
    later = [session_url(kvs, Expires=600) for _ in range(9)]
    assert kvs.fetch(first)[0] == 200   # ten sessions
    eleventh = session_url(kvs, Expires=900)
    status, headers, body = kvs.fetch(first)   # the oldest was revoked
    assert status == 403 and headers.get("x-amzn-errortype") == "NotAuthorizedException"
    assert kvs.fetch(later[0])[0] == 200 and kvs.fetch(eleventh)[0] == 200
    kvs.advance(601)
    assert kvs.fetch(later[0])[0] == 403
    assert kvs.fetch(eleventh)[0] == 200
    kvs.advance(300)
    assert kvs.fetch(eleventh)[0] == 403
    bogus = first.split("SessionToken=")[0] + "SessionToken=bm90OmFyZWFsOnRva2Vu"
    assert kvs.fetch(bogus)[0] == 403
    assert kvs.fetch(first.split("?")[0])[0] == 400   # no token at all


def test_a_page_of_another_origin_can_use_playlists_manifests_and_segments(plain_http_kvs):
    """What a browser player on another origin needs (CORS comes from the server for every
    route): preflights of the playlist, manifest and segment routes answer 200, and their answers,
    errors included, carry Access-Control-Allow-Origin and expose the error type."""
    import requests

    kvs = plain_http_kvs
    kvs.create_active_stream()
    kvs.put_video(seconds=2, audio=True)
    origin = {"Origin": "http://player.example:8080"}
    master_url = session_url(kvs)
    dash = kvs.client("kinesis-video-archived-media").get_dash_streaming_session_url(
        StreamName="cam")["DASHStreamingSessionURL"]
    media_url = media_playlist_url(kvs, master_url)
    segment_url = urljoin(media_url, segments(playlist(kvs, media_url))[0])
    for url in (master_url, media_url, segment_url, dash):
        answer = requests.options(url, headers={**origin, "Access-Control-Request-Method": "GET",
                                                "Access-Control-Request-Headers": "range"}, timeout=10)
        assert answer.status_code == 200, (url, answer.status_code, answer.text)
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in answer.headers["Access-Control-Allow-Methods"]
        assert "range" in answer.headers.get("Access-Control-Allow-Headers", "").lower()
        answer = requests.get(url, headers=origin, timeout=10)
        assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    refused = requests.get(master_url.split("SessionToken=")[0] + "SessionToken=bm90OmFyZWFsOnRva2Vu",
                           headers=origin, timeout=10)
    assert refused.status_code == 403 and refused.headers["Access-Control-Allow-Origin"] == "*"
    assert "x-amzn-errortype" in refused.headers["Access-Control-Expose-Headers"].lower()
