"""GetDASHStreamingSessionURL and the DASH endpoints: the manifest fetched from the session URL,
its init and every SegmentURL fetched and decoded together with PyAV (all frames), a continuous
SegmentTimeline on the segments' absolute clock, static ON_DEMAND and dynamic LIVE manifests,
fragment numbers and timestamps on request, validation, and sessions kept apart from HLS."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
from urllib.parse import urljoin

import av
from test_kinesisvideo_hls import BASE_MS, assert_continuous, at, error_code, frame_count, tfdts
from greenroom.media import remux

MPD = "{urn:mpeg:dash:schema:mpd:2011}"
KVS = "{https://kinesisvideo.amazonaws.com/ns/dash}"


def dash_url(kvs, stream: str = "cam", **options) -> str:
    archived = kvs.client("kinesis-video-archived-media")
    return archived.get_dash_streaming_session_url(StreamName=stream, **options)["DASHStreamingSessionURL"]


def manifest(kvs, url: str) -> ElementTree.Element:
    status, headers, body = kvs.fetch(url)
    assert status == 200, body
    assert headers["content-type"] == "application/dash+xml"
    return ElementTree.fromstring(body)


def on_demand(start_ms: int, end_ms: int) -> dict:
    return {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": at(start_ms), "EndTimestamp": at(end_ms)}}


def adaptation_sets(mpd: ElementTree.Element) -> dict[str, ElementTree.Element]:
    """contentType -> AdaptationSet of the manifest's only Period."""
    return {a.get("contentType"): a for a in mpd.findall(f"{MPD}Period/{MPD}AdaptationSet")}


def segment_urls(url: str, adaptation: ElementTree.Element) -> tuple[str, list[str], list[ElementTree.Element]]:
    """(init URL, media URLs, S elements) of an AdaptationSet's SegmentTemplate + SegmentTimeline."""
    template = adaptation.find(f"{MPD}Representation/{MPD}SegmentTemplate")
    timeline = template.findall(f"{MPD}SegmentTimeline/{MPD}S")
    media = [urljoin(url, template.get("media").replace("$Time$", s.get("t"))) for s in timeline]
    return urljoin(url, template.get("initialization")), media, timeline


def fetch_all(kvs, init_url: str, media_urls: list[str]) -> tuple[bytes, list[bytes]]:
    status, _, init = kvs.fetch(init_url)
    assert status == 200 and init[4:8] == b"ftyp"
    bodies = []
    for media_url in media_urls:
        status, _, body = kvs.fetch(media_url)
        assert status == 200, body
        assert b"moov" not in body[:64] and body[4:8] == b"moof"   # media segments never repeat the init
        bodies.append(body)
    return init, bodies


def test_on_demand_manifest_plays_every_frame(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4, audio=True)
    url = dash_url(kvs, PlaybackMode="ON_DEMAND", DASHFragmentSelector=on_demand(BASE_MS, BASE_MS + 3000),
                   DisplayFragmentNumber="ALWAYS", DisplayFragmentTimestamp="ALWAYS")
    assert "/dash/v1/getDASHManifest.mpd?SessionToken=" in url
    mpd = manifest(kvs, url)
    assert mpd.get("type") == "static" and mpd.get("mediaPresentationDuration").startswith("PT4.0")
    sets = adaptation_sets(mpd)
    assert set(sets) == {"video", "audio"}
    assert sets["video"].get("mimeType") == "video/mp4" and sets["audio"].get("mimeType") == "audio/mp4"
    representation = sets["video"].find(f"{MPD}Representation")
    assert representation.get("width") == "160" and representation.get("height") == "120"
    assert representation.get("codecs").startswith("avc1.") and representation.get("frameRate") == "25000/1000"
    audio_representation = sets["audio"].find(f"{MPD}Representation")
    assert audio_representation.get("codecs") == "mp4a.40.2" and audio_representation.get("audioSamplingRate") == "48000"
    for kind, adaptation in sets.items():
        template = adaptation.find(f"{MPD}Representation/{MPD}SegmentTemplate")
        assert template.get("presentationTimeOffset") == str(BASE_MS)
        init_url, media_urls, timeline = segment_urls(url, adaptation)
        starts = [int(s.get("t")) for s in timeline]
        assert starts == [BASE_MS + 1000 * i for i in range(4)]
        # Segments follow on: each lasts until the next one starts.
        assert [int(s.get("d")) for s in timeline][:-1] == [1000] * 3
        assert [s.get(f"{KVS}fn") for s in timeline] == [f["FragmentNumber"] for f in kvs.fragments()]
        assert [float(s.get(f"{KVS}ts")) for s in timeline] == [(BASE_MS + 1000 * i) / 1000 for i in range(4)]
        init, bodies = fetch_all(kvs, init_url, media_urls)
        assert len(bodies) == 4
        scales = remux.track_timescales(init)
        track = 1 if kind == "video" else 2
        assert list(scales) == [track]   # one track per init segment and AdaptationSet
        if kind == "video":
            assert frame_count(init + b"".join(bodies)) == 100
            assert [tfdts(body)[1] for body in bodies] == [t * scales[1] // 1000 for t in starts]
        else:
            with av.open(io.BytesIO(init + b"".join(bodies))) as container:
                frames = list(container.decode(container.streams.audio[0]))
            assert len(frames) == 189 and sum(frame.samples for frame in frames) == 189 * 1024   # + the priming frame
        assert_continuous(bodies, slack=0 if kind == "video" else 48)


def test_live_manifest_is_dynamic_and_advances(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4)
    url = dash_url(kvs, MaxManifestFragmentResults=2)
    mpd = manifest(kvs, url)
    assert mpd.get("type") == "dynamic"
    assert len(mpd.findall(f".//{MPD}S")) == 2
    first = [s.get("t") for s in mpd.findall(f".//{MPD}S")]
    kvs.advance(4)
    kvs.put_video(seconds=2, start_ms=BASE_MS + 4000)
    later_mpd = manifest(kvs, url)
    later = [s.get("t") for s in later_mpd.findall(f".//{MPD}S")]
    assert first == [str(BASE_MS + 2000), str(BASE_MS + 3000)]
    assert later == [str(BASE_MS + 4000), str(BASE_MS + 5000)]
    # One timeline for the whole session: the anchor (the first window's oldest fragment) fixes
    # availabilityStartTime and presentationTimeOffset; publishTime and the server time move on.
    for key in ("availabilityStartTime", "minimumUpdatePeriod"):
        assert later_mpd.get(key) == mpd.get(key)
    assert mpd.find(f".//{MPD}SegmentTemplate").get("presentationTimeOffset") == str(BASE_MS + 2000)
    assert later_mpd.find(f".//{MPD}SegmentTemplate").get("presentationTimeOffset") == str(BASE_MS + 2000)
    assert later_mpd.get("publishTime") > mpd.get("publishTime")
    assert later_mpd.find(f"{MPD}UTCTiming").get("value") == later_mpd.get("publishTime")
    init_url, media_urls, _ = segment_urls(url, adaptation_sets(later_mpd)["video"])
    init, bodies = fetch_all(kvs, init_url, media_urls)
    assert frame_count(init + b"".join(bodies)) == 50


def test_live_timeline_only_grows_across_fetches(kvs):
    """Manifests fetched while fragments arrive: every segment keeps its time, the newest
    segment's end only grows, and a segment's wall-clock availability (availabilityStartTime +
    its end - presentationTimeOffset) is when the server had it."""
    kvs.create_active_stream()
    kvs.put_video(seconds=2, audio=True)
    url = dash_url(kvs)
    known: dict[str, str] = {}
    ends = []
    start = None
    for step in range(4):
        mpd = manifest(kvs, url)
        start = start or mpd.get("availabilityStartTime")
        assert mpd.get("availabilityStartTime") == start
        for adaptation in adaptation_sets(mpd).values():
            timeline = adaptation.findall(f".//{MPD}S")
            for s in timeline[:-1]:   # the newest may end a little later until the next one arrives
                assert known.setdefault(s.get("t"), s.get("d")) == s.get("d")
            ends.append(int(timeline[-1].get("t")) + int(timeline[-1].get("d")))
        kvs.advance(2)
        kvs.put_video(seconds=2, audio=True, start_ms=BASE_MS + 2000 * (step + 1))
    assert ends == sorted(ends) and ends[-1] > ends[0]


def test_validation_and_sessions_apart_from_hls(kvs):
    kvs.create_active_stream()
    assert error_code(lambda: dash_url(kvs)) == "ResourceNotFoundException"
    kvs.put_video(seconds=2)
    for options in ({"MaxManifestFragmentResults": 0}, {"Expires": 100}, {"PlaybackMode": "ON_DEMAND"},
                    {"DASHFragmentSelector": on_demand(BASE_MS, BASE_MS + 1000)},
                    {"DisplayFragmentNumber": "SOMETIMES"}):
        assert error_code(lambda: dash_url(kvs, **options)) == "InvalidArgumentException", options
    url = dash_url(kvs, Expires=300)
    token = url.split("SessionToken=")[1]
    hls_master = url.split("/dash/")[0] + f"/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={token}"
    assert kvs.fetch(hls_master)[0] == 403
    kvs.advance(300)
    assert kvs.fetch(url)[0] == 403
