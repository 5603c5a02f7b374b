"""HLS/DASH session URLs asked for with a port-less Host (as AWS's C/C++ SDKs send it) carry the
listener's port and play; see tests/test_public_url.py for the other URLs greenroom hands out."""
from __future__ import annotations

import requests

from support import portless_client


def test_session_urls_carry_the_listeners_port(http_kvs, server):
    http_kvs.create_active_stream("cam")
    acks = http_kvs.put_video("cam", seconds=2.0)
    assert any(ack.get("EventType") == "PERSISTED" for ack in acks), acks
    archived = portless_client("kinesis-video-archived-media", server.base_url)
    hls = archived.get_hls_streaming_session_url(StreamName="cam", PlaybackMode="LIVE")["HLSStreamingSessionURL"]
    dash = archived.get_dash_streaming_session_url(StreamName="cam", PlaybackMode="LIVE")["DASHStreamingSessionURL"]
    assert hls.startswith(server.base_url + "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=")
    assert dash.startswith(server.base_url + "/dash/v1/getDASHManifest.mpd?SessionToken=")
    assert requests.get(hls, timeout=10).text.startswith("#EXTM3U")
    assert "<MPD" in requests.get(dash, timeout=10).text
