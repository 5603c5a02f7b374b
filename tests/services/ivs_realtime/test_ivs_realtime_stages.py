"""IVS Real-Time stages: create (with tokens), get, list, update (recording configuration),
delete; endpoints pointing at greenroom; the stages quota."""
from __future__ import annotations

import re

import pytest

from ivs_realtime_support import Refused, message

DEFAULT_RECORDING = {
    "storageConfigurationArn": "",
    "mediaTypes": ["AUDIO_VIDEO"],
    "thumbnailConfiguration": {"targetIntervalSeconds": 60, "storage": ["SEQUENTIAL"], "recordingMode": "DISABLED"},
    "recordingReconnectWindowSeconds": 0,
    "hlsConfiguration": {"targetSegmentDurationSeconds": 6},
    "recordParticipantReplicas": True,
}


def test_create_get_and_defaults(rt):
    ivs = rt.client()
    created = ivs.create_stage(name="show-1", tags={"team": "live"})
    stage = created["stage"]
    assert re.fullmatch(r"arn:aws:ivs:us-east-1:000000000000:stage/[a-zA-Z0-9]{12}", stage["arn"])
    assert stage["name"] == "show-1" and stage["tags"] == {"team": "live"}
    assert stage["autoParticipantRecordingConfiguration"] == DEFAULT_RECORDING
    assert "activeSessionId" not in stage
    assert created["participantTokens"] == []
    assert ivs.get_stage(arn=stage["arn"])["stage"] == stage


def test_endpoints_point_at_greenroom(rt):
    ivs = rt.client()
    endpoints = ivs.create_stage()["stage"]["endpoints"]
    host = re.escape(ivs.meta.endpoint_url.split("://", 1)[1])
    socket = "wss" if ivs.meta.endpoint_url.startswith("https") else "ws"
    assert re.fullmatch(rf"{socket}://{host}/_greenroom/ivs-realtime/events", endpoints["events"])
    assert re.fullmatch(rf"https?://{host}/_greenroom/ivs-realtime/whip/[0-9a-f]{{12}}", endpoints["whip"])
    assert endpoints["rtmp"] == f"rtmp://{ivs.meta.endpoint_url.split('://', 1)[1]}/app/"
    assert endpoints["rtmps"] == f"rtmps://{ivs.meta.endpoint_url.split('://', 1)[1]}/app/"
    if rt.mode == "server":  # WHIP is served there (test_ivs_realtime_whip.py): a token is needed
        import requests
        response = requests.post(endpoints["whip"] + "/publish/someone", data=b"v=0", timeout=10)
        assert response.status_code == 401 and response.json()["code"] == 2001


def test_create_with_participant_tokens(rt):
    ivs = rt.client()
    created = ivs.create_stage(participantTokenConfigurations=[
        {"userId": "host", "duration": 60, "capabilities": ["PUBLISH"], "attributes": {"role": "host"}},
        {},
    ])
    first, second = created["participantTokens"]
    assert first["userId"] == "host" and first["duration"] == 60 and first["capabilities"] == ["PUBLISH"]
    assert first["attributes"] == {"role": "host"}
    assert second["duration"] == 720 and second["capabilities"] == ["PUBLISH", "SUBSCRIBE"]
    assert first["participantId"] != second["participantId"]
    assert (first["expirationTime"] - second["expirationTime"]).total_seconds() == pytest.approx(-660 * 60, abs=1)
    # The tokens are real: they join the stage.
    joined = rt.join(first["token"])
    assert joined["participantId"] == first["participantId"]
    assert joined["stageArn"] == created["stage"]["arn"]


def test_too_many_token_configurations_is_invalid(rt):
    ivs = rt.client()
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.create_stage(participantTokenConfigurations=[{}] * 13)
    assert ivs.list_stages()["stages"] == []  # nothing was created


def test_list_pages_without_gaps_or_duplicates(rt):
    ivs = rt.client()
    arns = [ivs.create_stage(name=f"s{i}")["stage"]["arn"] for i in range(7)]
    seen, token = [], None
    while True:
        page = ivs.list_stages(maxResults=3, **({"nextToken": token} if token else {}))
        seen += [stage["arn"] for stage in page["stages"]]
        assert len(page["stages"]) <= 3
        token = page.get("nextToken")
        if not token:
            break
    assert seen == arns
    summary = ivs.list_stages(maxResults=1)["stages"][0]
    assert set(summary) == {"arn", "name", "tags"}


def test_update_name_and_recording_configuration(rt):
    ivs = rt.client()
    arn = ivs.create_stage(name="before")["stage"]["arn"]
    storage = ivs.create_storage_configuration(s3={"bucketName": "recordings"})["storageConfiguration"]["arn"]
    updated = ivs.update_stage(arn=arn, name="after", autoParticipantRecordingConfiguration={
        "storageConfigurationArn": storage,
        "thumbnailConfiguration": {"recordingMode": "INTERVAL", "targetIntervalSeconds": 30},
        "recordingReconnectWindowSeconds": 120,
    })["stage"]
    assert updated["name"] == "after"
    assert updated["autoParticipantRecordingConfiguration"] == {
        **DEFAULT_RECORDING,
        "storageConfigurationArn": storage,
        "thumbnailConfiguration": {"targetIntervalSeconds": 30, "storage": ["SEQUENTIAL"], "recordingMode": "INTERVAL"},
        "recordingReconnectWindowSeconds": 120,
    }
    assert ivs.get_stage(arn=arn)["stage"] == updated
    # A name-only update leaves the recording configuration alone.
    assert ivs.update_stage(arn=arn, name="again")["stage"]["autoParticipantRecordingConfiguration"] == \
        updated["autoParticipantRecordingConfiguration"]
    # An empty storage configuration disables recording and resets everything to defaults.
    disabled = ivs.update_stage(arn=arn, autoParticipantRecordingConfiguration={
        "storageConfigurationArn": "", "recordingReconnectWindowSeconds": 60})["stage"]
    assert disabled["autoParticipantRecordingConfiguration"] == DEFAULT_RECORDING


def test_recording_configuration_validation(rt):
    ivs = rt.client()
    missing = "arn:aws:ivs:us-east-1:000000000000:storage-configuration/AAAAAAAAAAAA"
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.create_stage(autoParticipantRecordingConfiguration={"storageConfigurationArn": missing})
    assert missing in message(error)
    arn = ivs.create_stage()["stage"]["arn"]
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.update_stage(arn=arn, autoParticipantRecordingConfiguration={
            "storageConfigurationArn": "", "recordingReconnectWindowSeconds": 301})
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.update_stage(arn=arn, autoParticipantRecordingConfiguration={
            "storageConfigurationArn": "", "hlsConfiguration": {"targetSegmentDurationSeconds": 11}})
    with pytest.raises(ivs.exceptions.ValidationException):  # storageConfigurationArn is required
        ivs.update_stage(arn=arn, autoParticipantRecordingConfiguration={"mediaTypes": ["AUDIO_ONLY"]})


def test_recording_configuration_is_locked_while_recording(rt):
    ivs = rt.client()
    storage = ivs.create_storage_configuration(s3={"bucketName": "recordings"})["storageConfiguration"]["arn"]
    created = ivs.create_stage(autoParticipantRecordingConfiguration={"storageConfigurationArn": storage},
                               participantTokenConfigurations=[{}])
    arn, token = created["stage"]["arn"], created["participantTokens"][0]
    joined = rt.join(token["token"])
    rt.act(joined["participantId"], "publish")
    with pytest.raises(ivs.exceptions.ConflictException):
        ivs.update_stage(arn=arn, autoParticipantRecordingConfiguration={"storageConfigurationArn": ""})
    ivs.update_stage(arn=arn, name="renaming-is-fine")
    rt.act(joined["participantId"], "unpublish")
    rt.advance(1)  # STOPPING -> STOPPED
    ivs.update_stage(arn=arn, autoParticipantRecordingConfiguration={"storageConfigurationArn": ""})


def test_get_update_delete_unknown_stage(rt):
    ivs = rt.client()
    missing = "arn:aws:ivs:us-east-1:000000000000:stage/AAAAAAAAAAAA"
    for call in (lambda: ivs.get_stage(arn=missing), lambda: ivs.update_stage(arn=missing, name="x"),
                 lambda: ivs.delete_stage(arn=missing)):
        with pytest.raises(ivs.exceptions.ResourceNotFoundException) as error:
            call()
        assert message(error).endswith(missing)
    other_account = "arn:aws:ivs:us-east-1:111111111111:stage/AAAAAAAAAAAA"
    arn = ivs.create_stage()["stage"]["arn"]
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_stage(arn=arn.replace(":000000000000:", ":111111111111:"))
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_stage(arn=other_account)
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.get_stage(arn="arn:aws:ivs:us-east-1:000000000000:channel/AAAAAAAAAAAA")


def test_delete_disconnects_participants_and_detaches_ingest(rt):
    ivs = rt.client()
    created = ivs.create_stage(participantTokenConfigurations=[{}])
    arn = created["stage"]["arn"]
    ingest = ivs.create_ingest_configuration(ingestProtocol="RTMPS", stageArn=arn)["ingestConfiguration"]
    joined = rt.join(created["participantTokens"][0]["token"])
    rt.ingest(ingest["streamKey"])
    assert ivs.get_ingest_configuration(arn=ingest["arn"])["ingestConfiguration"]["state"] == "ACTIVE"
    ivs.delete_stage(arn=arn)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_stage(arn=arn)
    detached = ivs.get_ingest_configuration(arn=ingest["arn"])["ingestConfiguration"]
    assert detached["stageArn"] == "" and detached["state"] == "INACTIVE"
    with pytest.raises(Refused) as refused:  # the participant is gone
        rt.act(joined["participantId"], "publish")
    assert refused.value.status == 404
    assert ivs.list_stage_sessions(stageArn=arn)["stageSessions"] == []


def test_stages_quota(rt):
    ivs = rt.client()
    rt.set_quotas(stages=2)
    ivs.create_stage()
    ivs.create_stage()
    with pytest.raises(ivs.exceptions.ServiceQuotaExceededException) as error:
        ivs.create_stage()
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    rt.set_quotas(stages=None)  # back to the default (100)
    ivs.create_stage()


def test_tags_limits(rt):
    ivs = rt.client()
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.create_stage(tags={"aws:reserved": "x"})
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.create_stage(tags={f"k{i}": "v" for i in range(51)})
