"""WebRTC ingestion into a stream: an aiortc master (H.264 video and Opus audio, as KVS requires)
connects to greenroom's signaling WebSocket and calls JoinStorageSession; greenroom's storage
session offers, the master answers, and after ~10 s the master's pictures are fragments of the
linked stream that ListFragments lists and an HLS session serves to ffprobe; a viewer that joins
the storage session (JoinStorageSessionAsViewer) receives the master's pictures through greenroom."""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import shutil
import subprocess
import time

import numpy as np
import pytest
import websockets

from support import make_client
from test_kinesisvideo_signaling import presigned, receive

EVERYTHING = {"StartTimestamp": dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
              "EndTimestamp": dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)}


def payload(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.fixture
def storage_channel(server):
    server.admin("POST", "delays", {"kinesisvideo.channel.create": 0, "kinesisvideo.stream.create": 0}).raise_for_status()
    kvs = server.client("kinesisvideo")
    stream_arn = kvs.create_stream(StreamName="doorbell", DataRetentionInHours=1)["StreamARN"]
    channel_arn = kvs.create_signaling_channel(ChannelName="doorbell-channel")["ChannelARN"]
    for _ in range(50):
        if kvs.describe_signaling_channel(ChannelARN=channel_arn)["ChannelInfo"]["ChannelStatus"] == "ACTIVE" \
                and kvs.describe_stream(StreamARN=stream_arn)["StreamInfo"]["Status"] == "ACTIVE":
            break
        time.sleep(0.05)
    return kvs, channel_arn, stream_arn


def endpoints(kvs, channel_arn: str) -> dict:
    listed = kvs.get_signaling_channel_endpoint(ChannelARN=channel_arn, SingleMasterChannelEndpointConfiguration={
        "Protocols": ["WSS", "HTTPS", "WEBRTC"], "Role": "MASTER"})["ResourceEndpointList"]
    return {e["Protocol"]: e["ResourceEndpoint"] for e in listed}


def test_join_needs_media_storage_and_a_connected_master(server, storage_channel):
    """And a viewer joining needs a running storage session."""
    kvs, channel_arn, stream_arn = storage_channel
    storage = make_client("kinesis-video-webrtc-storage", server.base_url)
    with pytest.raises(storage.exceptions.InvalidArgumentException):
        storage.join_storage_session(channelArn=channel_arn)      # not mapped to a stream
    kvs.update_media_storage_configuration(ChannelARN=channel_arn, MediaStorageConfiguration={
        "Status": "ENABLED", "StreamARN": stream_arn})
    with pytest.raises(storage.exceptions.ResourceNotFoundException):
        storage.join_storage_session(channelArn=channel_arn)      # no master connected
    with pytest.raises(storage.exceptions.ResourceNotFoundException):
        storage.join_storage_session(channelArn=channel_arn.replace("doorbell-channel", "other"))
    with pytest.raises(storage.exceptions.ResourceNotFoundException):
        storage.join_storage_session_as_viewer(channelArn=channel_arn, clientId="viewer-1")


def test_master_media_is_stored_as_fragments_and_plays_over_hls(server, storage_channel):
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
    from av import VideoFrame

    kvs, channel_arn, stream_arn = storage_channel
    kvs.update_media_storage_configuration(ChannelARN=channel_arn, MediaStorageConfiguration={
        "Status": "ENABLED", "StreamARN": stream_arn})
    found = endpoints(kvs, channel_arn)
    storage = make_client("kinesis-video-webrtc-storage", found["WEBRTC"])

    class Camera(VideoStreamTrack):
        """Moving bars, 320x240: pictures that are not black."""

        async def recv(self):
            pts, time_base = await self.next_timestamp()
            image = np.zeros((240, 320, 3), np.uint8)
            image[:, :, 1] = 160
            image[:, (pts // 3000) % 320, :] = 255
            frame = VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            return frame

    async def master_session():
        connection = RTCPeerConnection()
        connection.addTrack(Camera())
        connection.addTrack(AudioStreamTrack())
        async with websockets.connect(presigned(found["WSS"], channel_arn)) as master:
            await asyncio.to_thread(storage.join_storage_session, channelArn=channel_arn)
            offer = await receive(master, timeout=10)
            assert offer["messageType"] == "SDP_OFFER" and "senderClientId" not in offer
            assert "H264" in offer["payload"]["sdp"] and "opus" in offer["payload"]["sdp"]
            await connection.setRemoteDescription(RTCSessionDescription(**offer["payload"]))
            await connection.setLocalDescription(await connection.createAnswer())
            await master.send(json.dumps({"action": "SDP_ANSWER", "correlationId": "answer-1",
                                          "messagePayload": payload({"type": "answer",
                                                                     "sdp": connection.localDescription.sdp})}))
            started = time.monotonic()
            viewer_frames = await viewer_session()
            # The storage session sends nothing more to the master: media flows for ~10 s.
            while time.monotonic() - started < 10:
                try:
                    message = await receive(master, timeout=1)
                except asyncio.TimeoutError:
                    continue
                assert message["messageType"] != "STATUS_RESPONSE", message
            state = connection.connectionState
        await connection.close()
        return state, viewer_frames

    async def viewer_session():
        """A viewer joins the storage session: greenroom offers, the viewer answers and decodes
        the master's pictures relayed by greenroom."""
        viewer_connection = RTCPeerConnection()
        frames = []
        async with websockets.connect(presigned(found["WSS"], channel_arn, "viewer-1")) as viewer:
            await asyncio.to_thread(storage.join_storage_session_as_viewer, channelArn=channel_arn,
                                    clientId="viewer-1")
            offer = await receive(viewer, timeout=10)
            assert offer["messageType"] == "SDP_OFFER" and "senderClientId" not in offer
            tracks = asyncio.get_running_loop().create_future()
            viewer_connection.on("track", lambda track: tracks.done() or tracks.set_result(track))
            await viewer_connection.setRemoteDescription(RTCSessionDescription(**offer["payload"]))
            await viewer_connection.setLocalDescription(await viewer_connection.createAnswer())
            await viewer.send(json.dumps({"action": "SDP_ANSWER", "messagePayload": payload(
                {"type": "answer", "sdp": viewer_connection.localDescription.sdp})}))
            track = await asyncio.wait_for(tracks, 10)
            for _ in range(10):
                frames.append((await asyncio.wait_for(track.recv(), 10)).to_ndarray(format="rgb24"))
        await viewer_connection.close()
        return frames

    state, viewer_frames = asyncio.run(asyncio.wait_for(master_session(), 60))
    assert state == "connected"
    # The master's pictures (green, a white bar), not black, reached the viewer through greenroom.
    assert viewer_frames[-1].shape == (240, 320, 3)
    assert 100 < viewer_frames[-1][:, :, 1].mean() < 220 and viewer_frames[-1][:, :, 0].mean() < 60
    archived = make_client("kinesis-video-archived-media", server.base_url)
    fragments = []
    for _ in range(30):
        fragments = archived.list_fragments(StreamName="doorbell", FragmentSelector={
            "FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": EVERYTHING})["Fragments"]
        if len(fragments) >= 5:
            break
        time.sleep(0.2)
    assert len(fragments) >= 5, fragments
    total_ms = sum(f["FragmentLengthInMilliseconds"] for f in fragments)
    assert total_ms >= 5000

    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe not installed (apt: ffmpeg)")
    now = dt.datetime.now(dt.timezone.utc)
    last_minutes = {"StartTimestamp": now - dt.timedelta(minutes=5), "EndTimestamp": now}
    url = archived.get_hls_streaming_session_url(StreamName="doorbell", PlaybackMode="ON_DEMAND",
                                                 HLSFragmentSelector={"FragmentSelectorType": "SERVER_TIMESTAMP",
                                                                      "TimestampRange": last_minutes})["HLSStreamingSessionURL"]
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                            "stream=codec_type,codec_name,width,height,sample_rate,nb_read_frames", "-of", "json", url],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    streams = {stream["codec_type"]: stream for stream in json.loads(probe.stdout)["streams"]}
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    assert int(video["nb_read_frames"]) >= 100    # ~30 fps for several seconds
    # The master's Opus sound, stored as AAC (as KVS stores WebRTC ingestion).
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "48000")
    assert int(audio["nb_read_frames"]) >= 100    # 1024-sample frames: ~47 a second
