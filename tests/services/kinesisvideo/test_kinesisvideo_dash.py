"""GetDASHStreamingSessionURL and the DASH endpoints: the manifest fetched from the session URL,
its init and every SegmentURL fetched and decoded together with PyAV (all frames), a continuous
SegmentTimeline on the segments' absolute clock, static ON_DEMAND and dynamic LIVE manifests,
fragment numbers and timestamps on request, validation, and sessions kept apart from HLS."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from urllib.parse import urljoin

from test_kinesisvideo_hls import BASE_MS, at, error_code, fetch, frame_count, tfdts
from greenroom.media import remux

MPD = "{urn:mpeg:dash:schema:mpd:2011}"
KVS = "{https://kinesisvideo.amazonaws.com/ns/dash}"


def dash_url(kvs, stream: str = "cam", **options) -> str:
    archived = kvs.client("kinesis-video-archived-media")
    return archived.get_dash_streaming_session_url(StreamName=stream, **options)["DASHStreamingSessionURL"]


def manifest(kvs, url: str) -> ElementTree.Element:
    status, headers, body = fetch(kvs, url)
    assert status == 200, body
    assert headers["content-type"] == "application/dash+xml"
    return ElementTree.fromstring(body)


def on_demand(start_ms: int, end_ms: int) -> dict:
    return {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": at(start_ms), "EndTimestamp": at(end_ms)}}


def test_on_demand_manifest_plays_every_frame(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4, audio=True)
    url = dash_url(kvs, PlaybackMode="ON_DEMAND", DASHFragmentSelector=on_demand(BASE_MS, BASE_MS + 3000),
                   DisplayFragmentNumber="ALWAYS", DisplayFragmentTimestamp="ALWAYS")
    assert "/dash/v1/getDASHManifest.mpd?SessionToken=" in url
    mpd = manifest(kvs, url)
    assert mpd.get("type") == "static" and mpd.get("mediaPresentationDuration").startswith("PT4.0")
    representation = mpd.find(f"{MPD}Period/{MPD}AdaptationSet/{MPD}Representation")
    assert representation.get("width") == "160" and representation.get("height") == "120"
    assert representation.get("codecs").startswith("avc1.") and representation.get("frameRate") == "25000/1000"
    segment_list = representation.find(f"{MPD}SegmentList")
    assert segment_list.get("presentationTimeOffset") == str(BASE_MS)
    timeline = segment_list.findall(f"{MPD}SegmentTimeline/{MPD}S")
    starts = [int(s.get("t")) for s in timeline]
    assert starts == [BASE_MS + 1000 * i for i in range(4)]
    assert [s.get(f"{KVS}fn") for s in timeline] == [f["FragmentNumber"] for f in kvs.fragments()]
    assert [float(s.get(f"{KVS}ts")) for s in timeline] == [(BASE_MS + 1000 * i) / 1000 for i in range(4)]
    status, _, init = fetch(kvs, urljoin(url, segment_list.find(f"{MPD}Initialization").get("sourceURL")))
    assert status == 200
    bodies = []
    for segment_url in segment_list.findall(f"{MPD}SegmentURL"):
        status, _, body = fetch(kvs, urljoin(url, segment_url.get("media")))
        assert status == 200
        bodies.append(body)
    assert len(bodies) == 4
    assert frame_count(init + b"".join(bodies)) == 100
    video_scale = remux.track_timescales(init)[1]
    assert [tfdts(body)[1] for body in bodies] == [t * video_scale // 1000 for t in starts]


def test_live_manifest_is_dynamic_and_advances(kvs):
    kvs.create_active_stream()
    kvs.put_video(seconds=4)
    url = dash_url(kvs, MaxManifestFragmentResults=2)
    mpd = manifest(kvs, url)
    assert mpd.get("type") == "dynamic"
    assert len(mpd.findall(f".//{MPD}SegmentURL")) == 2
    first = [s.get("t") for s in mpd.findall(f".//{MPD}S")]
    kvs.advance(4)
    kvs.put_video(seconds=2, start_ms=BASE_MS + 4000)
    later = [s.get("t") for s in manifest(kvs, url).findall(f".//{MPD}S")]
    assert first == [str(BASE_MS + 2000), str(BASE_MS + 3000)]
    assert later == [str(BASE_MS + 4000), str(BASE_MS + 5000)]


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
    assert fetch(kvs, hls_master)[0] == 403
    kvs.advance(300)
    assert fetch(kvs, url)[0] == 403
