"""Individual participant recording for real: an aiortc publisher over WHIP in a stage whose
autoParticipantRecordingConfiguration names a storage configuration is recorded into that
bucket (``--s3-dir``, or through ``--s3-endpoint-url`` to moto's S3 server): HLS that ffprobe plays, thumbnails at the configured interval, the
recording-started/ended metadata, in the prefix GetParticipant names."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import requests

from ivs_realtime_support import make_client
from support import need
from test_ivs_realtime_whip import publish

BUCKET = "stage-recordings"


@pytest.fixture
def recording_server(launch, tmp_path):
    server = launch("--ephemeral", "--s3-dir", str(tmp_path / "s3"))
    return server, tmp_path / "s3" / BUCKET


def ffprobe_frames(playlist: Path) -> dict[str, int]:
    """Frames ffprobe decodes from an HLS playlist, by codec type."""
    need(subprocess.run(["which", "ffprobe"], capture_output=True).returncode == 0, "ffprobe (apt: ffmpeg)")
    probed = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                             "stream=codec_type,nb_read_frames,width,height", "-of", "json", str(playlist)],
                            capture_output=True, text=True, timeout=60, check=True)
    streams = json.loads(probed.stdout)["streams"]
    return {s["codec_type"]: int(s["nb_read_frames"]) for s in streams} | {
        "width": next((s["width"] for s in streams if s["codec_type"] == "video"), 0)}


def wait_for(path: Path, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.2)
    return path


def recording_stage(ivs, name: str, **configuration):
    storage = ivs.create_storage_configuration(name="recordings", s3={"bucketName": BUCKET})["storageConfiguration"]
    return ivs.create_stage(name=name, autoParticipantRecordingConfiguration={
        "storageConfigurationArn": storage["arn"], **configuration})["stage"]


def publish_for(stage: dict, token: dict, seconds: float) -> None:
    async def run():
        peer, answer = await publish(stage["endpoints"]["whip"], token["participantId"], token["token"])
        await asyncio.sleep(seconds)
        requests.delete(stage["endpoints"]["whip"].split("/_greenroom/")[0] + answer.headers["Location"],
                        headers={"Authorization": f"Bearer {token['token']}"}, timeout=10)
        await peer.close()
    asyncio.run(run())


def test_ten_seconds_of_publishing_make_playable_hls_and_thumbnails(recording_server):
    server, bucket = recording_server
    ivs = make_client("ivs-realtime", server.base_url)
    stage = recording_stage(ivs, "recorded", thumbnailConfiguration={
        "recordingMode": "INTERVAL", "targetIntervalSeconds": 2, "storage": ["SEQUENTIAL", "LATEST"]},
        hlsConfiguration={"targetSegmentDurationSeconds": 2})
    token = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    publish_for(stage, token, 10)

    session_id = ivs.list_stage_sessions(stageArn=stage["arn"])["stageSessions"][0]["sessionId"]
    participant = ivs.get_participant(stageArn=stage["arn"], sessionId=session_id,
                                      participantId=token["participantId"])["participant"]
    prefix = participant["recordingS3Prefix"]
    assert participant["recordingS3BucketName"] == BUCKET
    assert prefix.startswith(f"{stage['arn'].rsplit('/', 1)[1]}/{session_id}/{token['participantId']}/")
    root = bucket / prefix
    ended = json.loads(wait_for(root / "events" / "recording-ended.json").read_text())
    started = json.loads((root / "events" / "recording-started.json").read_text())
    assert started["recording_status"] == "RECORDING_STARTED" and ended["recording_status"] == "RECORDING_ENDED"
    assert started["participant_id"] == token["participantId"] and started["stage_arn"] == stage["arn"]
    assert ended["media"]["hls"]["playlist"] == "multivariant.m3u8"
    assert 8000 <= ended["media"]["hls"]["duration_ms"] <= 12000, ended

    frames = ffprobe_frames(root / "media" / "hls" / "multivariant.m3u8")
    assert frames["video"] >= 200 and frames["audio"] >= 300 and frames["width"] == 320, frames
    playlist = (root / "media" / "hls" / "high" / "playlist.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in playlist and "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
    assert all(float(line.split(":")[1].rstrip(",")) <= 2.1 for line in playlist.splitlines()
               if line.startswith("#EXTINF"))

    thumbnails = sorted((root / "media" / "thumbnails" / "high").glob("*.jpg"))
    assert 4 <= len(thumbnails) <= 6, thumbnails          # one per 2 s of 10 s, the first at 0
    assert [t.name for t in thumbnails] == [f"{n}.jpg" for n in range(1, len(thumbnails) + 1)]
    latest = root / "media" / "latest_thumbnail" / "high" / "thumb.jpg"
    assert latest.read_bytes() == thumbnails[-1].read_bytes()
    assert thumbnails[0].read_bytes()[:2] == b"\xff\xd8"   # JPEG
    assert participant["recordingState"] in ("STOPPING", "STOPPED")


def test_a_publisher_back_within_the_reconnect_window_continues_its_recording(recording_server):
    server, bucket = recording_server
    ivs = make_client("ivs-realtime", server.base_url)
    stage = recording_stage(ivs, "reconnects", recordingReconnectWindowSeconds=6,
                            hlsConfiguration={"targetSegmentDurationSeconds": 2})
    token = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    publish_for(stage, token, 3)
    publish_for(stage, token, 3)        # back within 6 s: the same recording
    recordings = [p for p in bucket.glob("*/*/*/*") if p.is_dir()]
    assert len(recordings) == 1, recordings
    root = recordings[0]
    wait_for(root / "events" / "recording-ended.json", 30)
    playlist = (root / "media" / "hls" / "high" / "playlist.m3u8").read_text()
    assert playlist.count("#EXT-X-DISCONTINUITY") == 1, playlist
    assert ffprobe_frames(root / "media" / "hls" / "multivariant.m3u8")["video"] >= 100


def test_a_replica_is_recorded_in_its_destination_stage_unless_replicas_are_not_recorded(recording_server):
    server, bucket = recording_server
    ivs = make_client("ivs-realtime", server.base_url)
    source = ivs.create_stage(name="source")["stage"]
    recorded = recording_stage(ivs, "records-replicas", hlsConfiguration={"targetSegmentDurationSeconds": 2})
    unrecorded = recording_stage(ivs, "skips-replicas", recordParticipantReplicas=False)
    token = ivs.create_participant_token(stageArn=source["arn"])["participantToken"]

    async def run():
        peer, answer = await publish(source["endpoints"]["whip"], token["participantId"], token["token"])
        for destination in (recorded, unrecorded):
            await asyncio.to_thread(ivs.start_participant_replication, sourceStageArn=source["arn"],
                                    destinationStageArn=destination["arn"], participantId=token["participantId"])
        await asyncio.sleep(6)
        await peer.close()
    asyncio.run(run())

    prefixes = {p.relative_to(bucket).parts[0] for p in bucket.glob("*/*/*/*") if p.is_dir()}
    assert prefixes == {recorded["arn"].rsplit("/", 1)[1]}, prefixes
    root = next(p for p in bucket.glob("*/*/*/*") if p.is_dir())
    wait_for(root / "events" / "recording-ended.json", 30)
    assert ffprobe_frames(root / "media" / "hls" / "multivariant.m3u8")["video"] >= 60


def test_recordings_go_to_an_s3_endpoint(launch, moto_server, tmp_path):
    """With --s3-endpoint-url the recording is written through boto3 to that S3 (moto's server)."""
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    server = launch("--ephemeral", "--s3-endpoint-url", moto_server, env=credentials)
    ivs = make_client("ivs-realtime", server.base_url)
    stage = recording_stage(ivs, "to-s3", hlsConfiguration={"targetSegmentDurationSeconds": 2})
    token = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    publish_for(stage, token, 4)

    def keys():
        return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    deadline = time.monotonic() + 20
    while not any(key.endswith("events/recording-ended.json") for key in keys()):
        assert time.monotonic() < deadline, keys()
        time.sleep(0.3)
    for key in keys():
        target = tmp_path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    playlist = next(tmp_path.glob("*/*/*/*/media/hls/multivariant.m3u8"))
    assert ffprobe_frames(playlist)["video"] >= 60
    assert s3.head_object(Bucket=BUCKET, Key=str(playlist.relative_to(tmp_path)))["ContentType"] == "application/x-mpegURL"
