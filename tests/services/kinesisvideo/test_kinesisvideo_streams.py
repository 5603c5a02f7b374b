"""Kinesis Video Streams control plane: streams, through boto3 on the server and in process."""
from __future__ import annotations

import re

import pytest


def test_create_describe_and_activate(emulated):
    kv = emulated.client("kinesisvideo")
    arn = kv.create_stream(StreamName="cam-1", DataRetentionInHours=24, MediaType="video/h264",
                           DeviceName="door", Tags={"site": "lab"})["StreamARN"]
    assert re.fullmatch(r"arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/\d{13}", arn)
    info = kv.describe_stream(StreamARN=arn)["StreamInfo"]
    assert info["Status"] == "CREATING"
    assert info["StreamName"] == "cam-1" and info["DataRetentionInHours"] == 24
    assert info["MediaType"] == "video/h264" and info["DeviceName"] == "door"
    assert re.fullmatch(r"[a-zA-Z0-9]{20}", info["Version"])
    assert "KmsKeyId" not in info  # absent members are not sent
    emulated.advance(1)
    assert kv.describe_stream(StreamName="cam-1")["StreamInfo"]["Status"] == "ACTIVE"
    # The ARN's suffix is the creation time in milliseconds.
    assert int(arn.rsplit("/", 1)[1]) == round(info["CreationTime"].timestamp() * 1000)


def test_duplicate_name_is_in_use(emulated):
    kv = emulated.client("kinesisvideo")
    kv.create_stream(StreamName="cam")
    with pytest.raises(kv.exceptions.ResourceInUseException):
        kv.create_stream(StreamName="cam")


def test_describe_needs_exactly_one_identifier(emulated):
    kv = emulated.client("kinesisvideo")
    arn = kv.create_stream(StreamName="cam")["StreamARN"]
    with pytest.raises(kv.exceptions.InvalidArgumentException):
        kv.describe_stream()
    with pytest.raises(kv.exceptions.InvalidArgumentException):
        kv.describe_stream(StreamName="cam", StreamARN=arn)
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.describe_stream(StreamName="other")


def test_list_with_name_condition_and_pages(emulated):
    kv = emulated.client("kinesisvideo")
    for name in ["door-1", "door-2", "yard-1", "door-3", "yard-2"]:
        kv.create_stream(StreamName=name)
    doors = [s["StreamName"] for page in kv.get_paginator("list_streams").paginate(
        StreamNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "door"},
        PaginationConfig={"PageSize": 2}) for s in page["StreamInfoList"]]
    assert doors == ["door-1", "door-2", "door-3"]
    first = kv.list_streams(MaxResults=4)
    assert len(first["StreamInfoList"]) == 4 and first["NextToken"]
    rest = kv.list_streams(MaxResults=4, NextToken=first["NextToken"])
    assert [s["StreamName"] for s in rest["StreamInfoList"]] == ["yard-2"]
    assert "NextToken" not in rest


def test_delete_with_version_check(emulated):
    kv = emulated.client("kinesisvideo")
    arn = kv.create_stream(StreamName="cam")["StreamARN"]
    version = kv.describe_stream(StreamARN=arn)["StreamInfo"]["Version"]
    with pytest.raises(kv.exceptions.VersionMismatchException):
        kv.delete_stream(StreamARN=arn, CurrentVersion="0" * 20)
    kv.delete_stream(StreamARN=arn, CurrentVersion=version)
    assert kv.describe_stream(StreamARN=arn)["StreamInfo"]["Status"] == "DELETING"
    with pytest.raises(kv.exceptions.ResourceInUseException):
        kv.delete_stream(StreamARN=arn)
    emulated.advance(1)
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.describe_stream(StreamARN=arn)
    kv.create_stream(StreamName="cam")  # the name is free again


def test_delete_unknown_stream(emulated):
    kv = emulated.client("kinesisvideo")
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.delete_stream(StreamARN="arn:aws:kinesisvideo:us-east-1:000000000000:stream/none/1700000000000")
