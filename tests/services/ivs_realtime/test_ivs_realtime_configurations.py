"""Storage, encoder and ingest configurations."""
from __future__ import annotations

import re

import pytest

from ivs_realtime_support import Refused, all_pages, message


# ------------------------------------------------------------------------- storage

def test_storage_configuration_lifecycle(rt):
    ivs = rt.client()
    created = ivs.create_storage_configuration(name="rec", s3={"bucketName": "my.bucket-1"},
                                               tags={"a": "b"})["storageConfiguration"]
    assert re.fullmatch(r"arn:aws:ivs:us-east-1:000000000000:storage-configuration/[a-zA-Z0-9]{12}", created["arn"])
    assert created == {"arn": created["arn"], "name": "rec", "s3": {"bucketName": "my.bucket-1"}, "tags": {"a": "b"}}
    assert ivs.get_storage_configuration(arn=created["arn"])["storageConfiguration"] == created
    more = [ivs.create_storage_configuration(s3={"bucketName": f"bucket-{i}"})["storageConfiguration"]["arn"]
            for i in range(4)]
    listed = all_pages(ivs.list_storage_configurations, "storageConfigurations", 2)
    assert [c["arn"] for c in listed] == [created["arn"], *more]
    ivs.delete_storage_configuration(arn=created["arn"])
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_storage_configuration(arn=created["arn"])
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.delete_storage_configuration(arn=created["arn"])
    for bad in ({"bucketName": "UPPER"}, {"bucketName": "ab"}, {}):
        with pytest.raises(ivs.exceptions.ValidationException):
            ivs.create_storage_configuration(s3=bad)


def test_storage_configuration_used_by_a_stage(rt):
    ivs = rt.client()
    storage = ivs.create_storage_configuration(s3={"bucketName": "recordings"})["storageConfiguration"]["arn"]
    stage = ivs.create_stage(autoParticipantRecordingConfiguration={"storageConfigurationArn": storage})["stage"]["arn"]
    with pytest.raises(ivs.exceptions.ConflictException) as error:
        ivs.delete_storage_configuration(arn=storage)
    assert stage in message(error)
    ivs.update_stage(arn=stage, autoParticipantRecordingConfiguration={"storageConfigurationArn": ""})
    ivs.delete_storage_configuration(arn=storage)


# ------------------------------------------------------------------------- encoder

def test_encoder_configuration_defaults_and_constraints(rt):
    ivs = rt.client()
    created = ivs.create_encoder_configuration(name="default")["encoderConfiguration"]
    assert re.fullmatch(r"arn:aws:ivs:us-east-1:000000000000:encoder-configuration/[a-zA-Z0-9]{12}", created["arn"])
    assert created["video"] == {"width": 1280, "height": 720, "framerate": 30, "bitrate": 2_500_000}
    custom = ivs.create_encoder_configuration(video={"width": 1920, "height": 1080, "framerate": 60.0,
                                                     "bitrate": 8_500_000})["encoderConfiguration"]
    assert custom["video"] == {"width": 1920, "height": 1080, "framerate": 60, "bitrate": 8_500_000}
    partial = ivs.create_encoder_configuration(video={"height": 1080, "width": 1080})["encoderConfiguration"]
    assert partial["video"] == {"width": 1080, "height": 1080, "framerate": 30, "bitrate": 2_500_000}
    assert ivs.get_encoder_configuration(arn=custom["arn"])["encoderConfiguration"] == custom
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.create_encoder_configuration(video={"width": 641})
    assert "even" in message(error)
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.create_encoder_configuration(video={"width": 1920, "height": 1920})
    assert "2073600" in message(error)
    for bad in ({"width": 1922}, {"height": 0}, {"framerate": 61.0}, {"bitrate": 8_500_001}):
        with pytest.raises(ivs.exceptions.ValidationException):
            ivs.create_encoder_configuration(video=bad)


def test_encoder_configuration_list_quota_and_delete(rt):
    ivs = rt.client()
    rt.set_quotas(encoder_configurations=5)
    arns = [ivs.create_encoder_configuration(name=f"e{i}")["encoderConfiguration"]["arn"] for i in range(5)]
    with pytest.raises(ivs.exceptions.ServiceQuotaExceededException):
        ivs.create_encoder_configuration()
    listed = all_pages(ivs.list_encoder_configurations, "encoderConfigurations", 2)
    assert [c["arn"] for c in listed] == arns and set(listed[0]) == {"arn", "name", "tags"}
    ivs.delete_encoder_configuration(arn=arns[0])
    ivs.create_encoder_configuration()  # room again
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_encoder_configuration(arn=arns[0])


# ------------------------------------------------------------------------- ingest

def test_ingest_configuration_defaults(rt):
    ivs = rt.client()
    created = ivs.create_ingest_configuration(ingestProtocol="RTMPS", name="obs")["ingestConfiguration"]
    configuration_id = created["arn"].rsplit("/", 1)[1]
    assert re.fullmatch(r"arn:aws:ivs:us-east-1:000000000000:ingest-configuration/[a-zA-Z0-9]{12}", created["arn"])
    assert created["stageArn"] == "" and created["state"] == "INACTIVE" and created["userId"] == ""
    assert created["attributes"] == {} and created["redundantIngest"] is False
    assert "redundantIngestCredentials" not in created and "insecureIngest" not in created
    assert re.fullmatch(r"[a-zA-Z0-9]{12}", created["participantId"])
    assert re.fullmatch(rf"rt_000000000000_us-east-1_{configuration_id}_[a-zA-Z0-9]+", created["streamKey"])
    assert ivs.get_ingest_configuration(arn=created["arn"])["ingestConfiguration"] == created
    redundant = ivs.create_ingest_configuration(ingestProtocol="RTMP", insecureIngest=True, redundantIngest=True,
                                                userId="enc", attributes={"cam": "1"})["ingestConfiguration"]
    (backup,) = redundant["redundantIngestCredentials"]
    assert backup["participantId"] != redundant["participantId"] and backup["streamKey"] != redundant["streamKey"]
    assert redundant["userId"] == "enc" and redundant["attributes"] == {"cam": "1"}


def test_ingest_configuration_create_rules(rt):
    ivs = rt.client()
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.create_ingest_configuration(ingestProtocol="RTMP")
    assert "insecureIngest" in message(error)
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.create_ingest_configuration(ingestProtocol="SRT")
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.create_ingest_configuration(ingestProtocol="RTMPS",
                                        stageArn="arn:aws:ivs:us-east-1:000000000000:stage/AAAAAAAAAAAA")
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.create_ingest_configuration(ingestProtocol="RTMPS", attributes={"k": "v" * 1100})


def test_ingest_list_filters_and_pages(rt):
    ivs = rt.client()
    stage = ivs.create_stage()["stage"]["arn"]
    arns = [ivs.create_ingest_configuration(ingestProtocol="RTMPS", stageArn=stage if i % 2 else "")
            ["ingestConfiguration"]["arn"] for i in range(5)]
    listed = all_pages(ivs.list_ingest_configurations, "ingestConfigurations", 2)
    assert [c["arn"] for c in listed] == arns
    assert "streamKey" not in listed[0] and "attributes" not in listed[0]
    assert [c["arn"] for c in ivs.list_ingest_configurations(filterByStageArn=stage)["ingestConfigurations"]] == arns[1::2]
    paginated = [c["arn"] for page in ivs.get_paginator("list_ingest_configurations").paginate(
        filterByState="INACTIVE", PaginationConfig={"PageSize": 2}) for c in page["ingestConfigurations"]]
    assert paginated == arns
    assert ivs.list_ingest_configurations(filterByState="ACTIVE")["ingestConfigurations"] == []


def test_ingest_publishing_makes_it_active(rt):
    ivs = rt.client()
    stage = ivs.create_stage()["stage"]["arn"]
    configuration = ivs.create_ingest_configuration(ingestProtocol="RTMPS", stageArn=stage, userId="encoder",
                                                    attributes={"cam": "a"})["ingestConfiguration"]
    joined = rt.ingest(configuration["streamKey"])
    assert joined["participantId"] == configuration["participantId"] and joined["publishing"] is True
    assert joined["protocol"] == "RTMPS"
    assert ivs.get_ingest_configuration(arn=configuration["arn"])["ingestConfiguration"]["state"] == "ACTIVE"
    assert [c["arn"] for c in ivs.list_ingest_configurations(filterByState="ACTIVE")["ingestConfigurations"]] == \
        [configuration["arn"]]
    participant = ivs.get_participant(stageArn=stage, sessionId=joined["sessionId"],
                                      participantId=joined["participantId"])["participant"]
    assert participant["ingestConfigurationArn"] == configuration["arn"] and participant["protocol"] == "RTMPS"
    assert participant["userId"] == "encoder" and participant["attributes"] == {"cam": "a"}
    assert participant["redundantIngest"] is False and participant["published"] is True
    # The key cannot publish twice at once.
    with pytest.raises(Refused) as refused:
        rt.ingest(configuration["streamKey"])
    assert (refused.value.status, refused.value.code) == (409, "REUSE_OF_STREAM_KEY")
    events = ivs.list_participant_events(stageArn=stage, sessionId=joined["sessionId"],
                                         participantId=joined["participantId"])["events"]
    assert (events[0]["name"], events[0]["errorCode"]) == ("JOIN_ERROR", "REUSE_OF_STREAM_KEY")
    # While ACTIVE it cannot change or be deleted without force.
    with pytest.raises(ivs.exceptions.ConflictException):
        ivs.update_ingest_configuration(arn=configuration["arn"], stageArn="")
    with pytest.raises(ivs.exceptions.ConflictException):
        ivs.delete_ingest_configuration(arn=configuration["arn"])
    rt.act(joined["participantId"], "unpublish")
    assert ivs.get_ingest_configuration(arn=configuration["arn"])["ingestConfiguration"]["state"] == "INACTIVE"
    rt.act(joined["participantId"], "publish")
    assert ivs.get_ingest_configuration(arn=configuration["arn"])["ingestConfiguration"]["state"] == "ACTIVE"
    rt.act(joined["participantId"], "leave")
    assert ivs.get_ingest_configuration(arn=configuration["arn"])["ingestConfiguration"]["state"] == "INACTIVE"


def test_force_delete_and_disconnect_of_an_ingest_publisher(rt):
    ivs = rt.client()
    stage = ivs.create_stage()["stage"]["arn"]
    first = ivs.create_ingest_configuration(ingestProtocol="RTMPS", stageArn=stage)["ingestConfiguration"]
    second = ivs.create_ingest_configuration(ingestProtocol="RTMPS", stageArn=stage)["ingestConfiguration"]
    joined = rt.ingest(first["streamKey"])
    ivs.delete_ingest_configuration(arn=first["arn"], force=True)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_ingest_configuration(arn=first["arn"])
    participant = ivs.get_participant(stageArn=stage, sessionId=joined["sessionId"],
                                      participantId=joined["participantId"])["participant"]
    assert participant["state"] == "DISCONNECTED"
    # DisconnectParticipant detaches the configuration from the stage.
    other = rt.ingest(second["streamKey"])
    ivs.disconnect_participant(stageArn=stage, participantId=other["participantId"])
    detached = ivs.get_ingest_configuration(arn=second["arn"])["ingestConfiguration"]
    assert detached["stageArn"] == "" and detached["state"] == "INACTIVE"
    with pytest.raises(Refused) as refused:
        rt.ingest(second["streamKey"])
    assert (refused.value.status, refused.value.code) == (409, "NO_STAGE")


def test_update_ingest_configuration(rt):
    ivs = rt.client()
    stage = ivs.create_stage()["stage"]["arn"]
    configuration = ivs.create_ingest_configuration(ingestProtocol="RTMPS")["ingestConfiguration"]
    updated = ivs.update_ingest_configuration(arn=configuration["arn"], stageArn=stage,
                                              redundantIngest=True)["ingestConfiguration"]
    assert updated["stageArn"] == stage and updated["redundantIngest"] is True
    assert len(updated["redundantIngestCredentials"]) == 1
    assert updated["streamKey"] == configuration["streamKey"]
    backup = updated["redundantIngestCredentials"][0]
    joined = rt.ingest(backup["streamKey"])  # the backup credential publishes as its own participant
    assert joined["participantId"] == backup["participantId"]
    rt.act(joined["participantId"], "leave")
    cleared = ivs.update_ingest_configuration(arn=configuration["arn"], redundantIngest=False)["ingestConfiguration"]
    assert "redundantIngestCredentials" not in cleared
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.update_ingest_configuration(arn=configuration["arn"],
                                        stageArn="arn:aws:ivs:us-east-1:000000000000:stage/AAAAAAAAAAAA")
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.update_ingest_configuration(
            arn="arn:aws:ivs:us-east-1:000000000000:ingest-configuration/AAAAAAAAAAAA", stageArn="")


def test_ingest_stand_in_refusals(rt):
    ivs = rt.client()
    stage = ivs.create_stage()["stage"]["arn"]
    secure = ivs.create_ingest_configuration(ingestProtocol="RTMPS", stageArn=stage)["ingestConfiguration"]
    for key in ("garbage", secure["streamKey"][:-3] + "xyz"):
        with pytest.raises(Refused) as refused:
            rt.ingest(key)
        assert (refused.value.status, refused.value.code) == (403, "INVALID_STREAM_KEY")
    with pytest.raises(Refused) as refused:
        rt.ingest(secure["streamKey"], protocol="RTMP")
    assert (refused.value.status, refused.value.code) == (400, "INVALID_PROTOCOL")
    events = ivs.list_participant_events(stageArn=stage, sessionId=refused.value.body["sessionId"],
                                         participantId=secure["participantId"])["events"]
    assert (events[0]["name"], events[0]["errorCode"]) == ("JOIN_ERROR", "INVALID_PROTOCOL")
    rt.set_quotas(publishers_per_stage=0)
    with pytest.raises(Refused) as refused:
        rt.ingest(secure["streamKey"])
    assert refused.value.code == "QUOTA_EXCEEDED"
    names = [e["name"] for e in ivs.list_participant_events(
        stageArn=stage, sessionId=refused.value.body.get("sessionId") or ivs.get_stage(arn=stage)["stage"]["activeSessionId"],
        participantId=secure["participantId"])["events"]]
    assert names[:3] == ["LEFT", "PUBLISH_ERROR", "JOINED"]  # an encoder that cannot publish is dropped
    insecure = ivs.create_ingest_configuration(ingestProtocol="RTMP", insecureIngest=True, stageArn=stage)
    rt.set_quotas(publishers_per_stage=None)
    assert rt.ingest(insecure["ingestConfiguration"]["streamKey"], protocol="RTMP")["protocol"] == "RTMP"
