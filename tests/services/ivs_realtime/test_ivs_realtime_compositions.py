"""Compositions: state machine, auto-stop rules, echoed defaults, quota and in-use conflicts."""
from __future__ import annotations

import re

import pytest

from ivs_realtime_support import all_pages, message

CHANNEL = "arn:aws:ivs:us-east-1:000000000000:channel/AbCdEf123456"


def _setup(rt, participants: int = 1):
    ivs = rt.client()
    created = ivs.create_stage(participantTokenConfigurations=[{} for _ in range(participants)])
    encoder = ivs.create_encoder_configuration(name="hd")["encoderConfiguration"]["arn"]
    storage = ivs.create_storage_configuration(s3={"bucketName": "compositions"})["storageConfiguration"]["arn"]
    return ivs, created["stage"]["arn"], created["participantTokens"], encoder, storage


def _s3(storage, encoder, **extra):
    return {"s3": {"storageConfigurationArn": storage, "encoderConfigurationArns": [encoder], **extra}}


def test_start_echoes_defaults_and_moves_through_states(rt):
    ivs, stage, tokens, encoder, storage = _setup(rt)
    rt.join(tokens[0]["token"])
    composition = ivs.start_composition(stageArn=stage, tags={"show": "1"}, destinations=[
        {"name": "to-channel", "channel": {"channelArn": CHANNEL, "encoderConfigurationArn": encoder}},
        _s3(storage, encoder),
    ])["composition"]
    assert re.fullmatch(r"arn:aws:ivs:us-east-1:000000000000:composition/[a-zA-Z0-9]{12}", composition["arn"])
    assert composition["state"] == "STARTING" and composition["stageArn"] == stage and composition["tags"] == {"show": "1"}
    assert composition["layout"] == {"grid": {"gridGap": 2, "videoAspectRatio": "VIDEO", "videoFillMode": "",
                                              "omitStoppedVideo": False}}
    channel, s3 = composition["destinations"]
    assert channel["state"] == "STARTING" and re.fullmatch(r"[a-zA-Z0-9]{12}", channel["id"])
    assert channel["configuration"] == {"name": "to-channel",
                                        "channel": {"channelArn": CHANNEL, "encoderConfigurationArn": encoder}}
    assert s3["configuration"]["s3"] == {
        "storageConfigurationArn": storage, "encoderConfigurationArns": [encoder],
        "recordingConfiguration": {"hlsConfiguration": {"targetSegmentDurationSeconds": 2}, "format": "HLS"},
        "thumbnailConfigurations": [{"targetIntervalSeconds": 60, "storage": ["SEQUENTIAL"]}],
    }
    assert s3["detail"]["s3"]["recordingPrefix"]
    assert "endTime" not in composition and "startTime" in composition

    rt.advance(1)
    active = ivs.get_composition(arn=composition["arn"])["composition"]
    assert active["state"] == "ACTIVE" and {d["state"] for d in active["destinations"]} == {"ACTIVE"}
    assert all("startTime" in d for d in active["destinations"])
    ivs.stop_composition(arn=composition["arn"])
    assert ivs.get_composition(arn=composition["arn"])["composition"]["state"] == "STOPPING"
    ivs.stop_composition(arn=composition["arn"])  # stopping again changes nothing
    rt.advance(1)
    stopped = ivs.get_composition(arn=composition["arn"])["composition"]
    assert stopped["state"] == "STOPPED" and "endTime" in stopped
    assert all(d["state"] == "STOPPED" and "endTime" in d for d in stopped["destinations"])


def test_pip_layout_and_given_values(rt):
    ivs, stage, _, encoder, storage = _setup(rt)
    composition = ivs.start_composition(stageArn=stage, layout={"pip": {"pipParticipantAttribute": "star"}},
                                        destinations=[_s3(storage, encoder, thumbnailConfigurations=[
                                            {"targetIntervalSeconds": 10, "storage": ["LATEST"]}])])["composition"]
    assert composition["layout"] == {"pip": {"gridGap": 0, "pipPosition": "BOTTOM_RIGHT", "pipBehavior": "STATIC",
                                             "pipParticipantAttribute": "star"}}
    assert composition["destinations"][0]["configuration"]["s3"]["thumbnailConfigurations"] == \
        [{"targetIntervalSeconds": 10, "storage": ["LATEST"]}]
    grid = ivs.start_composition(stageArn=stage, layout={"grid": {"gridGap": 8, "videoFillMode": "CONTAIN"}},
                                 destinations=[_s3(storage, encoder)])["composition"]
    assert grid["layout"]["grid"] == {"gridGap": 8, "videoAspectRatio": "VIDEO", "videoFillMode": "CONTAIN",
                                      "omitStoppedVideo": False}


def test_start_errors(rt):
    ivs, stage, _, encoder, storage = _setup(rt)
    missing_encoder = "arn:aws:ivs:us-east-1:000000000000:encoder-configuration/AAAAAAAAAAAA"
    missing_storage = "arn:aws:ivs:us-east-1:000000000000:storage-configuration/AAAAAAAAAAAA"
    cases = [
        (ivs.exceptions.ValidationException, {"destinations": []}),
        (ivs.exceptions.ValidationException, {"destinations": [_s3(storage, encoder)] * 3}),
        (ivs.exceptions.ValidationException, {"destinations": [{"name": "nothing"}]}),
        (ivs.exceptions.ValidationException, {"destinations": [{"channel": {"channelArn": CHANNEL}, **_s3(storage, encoder)}]}),
        (ivs.exceptions.ValidationException, {"destinations": [_s3(storage, encoder)], "layout": {"grid": {}, "pip": {}}}),
        (ivs.exceptions.ResourceNotFoundException, {"destinations": [_s3(storage, missing_encoder)]}),
        (ivs.exceptions.ResourceNotFoundException, {"destinations": [_s3(missing_storage, encoder)]}),
        (ivs.exceptions.ResourceNotFoundException, {"destinations": [
            {"channel": {"channelArn": CHANNEL, "encoderConfigurationArn": missing_encoder}}]}),
    ]
    for error, arguments in cases:
        with pytest.raises(error):
            ivs.start_composition(stageArn=stage, **arguments)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.start_composition(stageArn=stage[:-1] + ("A" if stage[-1] != "A" else "B"), destinations=[_s3(storage, encoder)])
    assert ivs.list_compositions()["compositions"] == []
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_composition(arn="arn:aws:ivs:us-east-1:000000000000:composition/AAAAAAAAAAAA")
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.stop_composition(arn="arn:aws:ivs:us-east-1:000000000000:composition/AAAAAAAAAAAA")


def test_stops_a_minute_after_starting_on_an_empty_stage(rt):
    ivs, stage, tokens, encoder, storage = _setup(rt)
    arn = ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])["composition"]["arn"]
    rt.advance(59)
    assert ivs.get_composition(arn=arn)["composition"]["state"] == "ACTIVE"
    rt.advance(1)
    assert ivs.get_composition(arn=arn)["composition"]["state"] == "STOPPING"
    rt.advance(1)
    assert ivs.get_composition(arn=arn)["composition"]["state"] == "STOPPED"


def test_stops_a_minute_after_everyone_left(rt):
    ivs, stage, tokens, encoder, storage = _setup(rt, participants=2)
    rt.join(tokens[0]["token"])
    arn = ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])["composition"]["arn"]
    rt.advance(120)
    assert ivs.get_composition(arn=arn)["composition"]["state"] == "ACTIVE"
    rt.act(tokens[0]["participantId"], "leave")
    rt.advance(30)
    rt.join(tokens[1]["token"])  # someone came: the clock stops
    rt.advance(60)
    assert ivs.get_composition(arn=arn)["composition"]["state"] == "ACTIVE"
    rt.act(tokens[1]["participantId"], "leave")
    rt.advance(60)
    assert ivs.get_composition(arn=arn)["composition"]["state"] == "STOPPING"


def test_stops_after_the_maximum_duration_and_with_its_stage(rt):
    ivs, stage, tokens, encoder, storage = _setup(rt)
    rt.set_quotas(composition_hours=1)
    rt.join(tokens[0]["token"])
    arn = ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])["composition"]["arn"]
    rt.advance(3600)
    assert ivs.get_composition(arn=arn)["composition"]["state"] == "STOPPING"
    other = ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])["composition"]["arn"]
    ivs.delete_stage(arn=stage)
    assert ivs.get_composition(arn=other)["composition"]["state"] == "STOPPING"


def test_quota_and_idempotency(rt):
    ivs, stage, _, encoder, storage = _setup(rt)
    rt.set_quotas(compositions=2)
    first = ivs.start_composition(stageArn=stage, idempotencyToken="once", destinations=[_s3(storage, encoder)])
    again = ivs.start_composition(stageArn=stage, idempotencyToken="once", destinations=[_s3(storage, encoder)])
    assert first["composition"]["arn"] == again["composition"]["arn"]
    second = ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])["composition"]["arn"]
    with pytest.raises(ivs.exceptions.ServiceQuotaExceededException):
        ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])
    ivs.stop_composition(arn=second)
    rt.advance(1)  # STOPPED ones do not count
    ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])


def test_configurations_in_use_cannot_be_deleted(rt):
    ivs, stage, _, encoder, storage = _setup(rt)
    arn = ivs.start_composition(stageArn=stage, destinations=[_s3(storage, encoder)])["composition"]["arn"]
    with pytest.raises(ivs.exceptions.ConflictException) as error:
        ivs.delete_encoder_configuration(arn=encoder)
    assert arn in message(error)
    with pytest.raises(ivs.exceptions.ConflictException):
        ivs.delete_storage_configuration(arn=storage)
    ivs.stop_composition(arn=arn)
    rt.advance(1)
    ivs.delete_encoder_configuration(arn=encoder)
    ivs.delete_storage_configuration(arn=storage)


def test_list_filters_and_pages(rt):
    ivs, stage, _, encoder, storage = _setup(rt)
    other_stage = ivs.create_stage()["stage"]["arn"]
    other_encoder = ivs.create_encoder_configuration()["encoderConfiguration"]["arn"]
    rt.set_quotas(compositions=6)  # the default is 5 running at once
    arns = []
    for index in range(6):
        arns.append(ivs.start_composition(
            stageArn=stage if index % 2 == 0 else other_stage,
            destinations=[_s3(storage, encoder if index < 3 else other_encoder)])["composition"]["arn"])
    listed = all_pages(ivs.list_compositions, "compositions", 4)
    assert [c["arn"] for c in listed] == arns
    assert set(listed[0]) == {"arn", "stageArn", "destinations", "state", "tags", "startTime"}
    assert set(listed[0]["destinations"][0]) == {"id", "state"}
    by_stage = all_pages(ivs.list_compositions, "compositions", 2, filterByStageArn=stage)
    assert [c["arn"] for c in by_stage] == arns[0::2]
    by_encoder = ivs.list_compositions(filterByEncoderConfigurationArn=other_encoder)["compositions"]
    assert [c["arn"] for c in by_encoder] == arns[3:]
    page = ivs.list_compositions(filterByEncoderConfigurationArn=encoder, maxResults=2)
    rest = ivs.list_compositions(filterByEncoderConfigurationArn=encoder, maxResults=2, nextToken=page["nextToken"])
    assert [c["arn"] for c in page["compositions"] + rest["compositions"]] == arns[:3]
    with pytest.raises(ivs.exceptions.ValidationException):  # the token belongs to another filter
        ivs.list_compositions(filterByEncoderConfigurationArn=other_encoder, nextToken=page["nextToken"])
