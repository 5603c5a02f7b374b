"""Kinesis Video control plane beyond Create/Describe/List/Delete: updates with versions, data
retention, data endpoints, signaling channels, configurations, edge configurations, tags."""
from __future__ import annotations

import re

import pytest

HUB = "arn:aws:iot:us-east-1:000000000000:thing/hub-1"
SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:camera-uri"


def active_stream(emulated, name="cam", retention=24, **options):
    kv = emulated.client("kinesisvideo")
    arn = kv.create_stream(StreamName=name, DataRetentionInHours=retention, **options)["StreamARN"]
    emulated.advance(1)
    return kv, arn, kv.describe_stream(StreamARN=arn)["StreamInfo"]


def active_channel(emulated, name="chan", **options):
    kv = emulated.client("kinesisvideo")
    arn = kv.create_signaling_channel(ChannelName=name, **options)["ChannelARN"]
    emulated.advance(1)
    return kv, arn


# ---------------------------------------------------------------------------- streams

def test_update_stream_checks_the_version_and_goes_through_updating(emulated):
    kv, arn, info = active_stream(emulated, MediaType="video/h264")
    with pytest.raises(kv.exceptions.VersionMismatchException):
        kv.update_stream(StreamARN=arn, CurrentVersion="stale", MediaType="video/h265")
    kv.update_stream(StreamName="cam", CurrentVersion=info["Version"], MediaType="video/h265", DeviceName="door")
    updating = kv.describe_stream(StreamARN=arn)["StreamInfo"]
    assert updating["Status"] == "UPDATING" and updating["Version"] != info["Version"]
    assert updating["MediaType"] == "video/h265" and updating["DeviceName"] == "door"
    with pytest.raises(kv.exceptions.ResourceInUseException):
        kv.update_stream(StreamARN=arn, CurrentVersion=updating["Version"], DeviceName="x")
    emulated.advance(1)
    assert kv.describe_stream(StreamARN=arn)["StreamInfo"]["Status"] == "ACTIVE"
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.update_stream(StreamName="other", CurrentVersion="abc")


def test_update_data_retention_increase_and_decrease(emulated):
    kv, arn, info = active_stream(emulated, retention=5)
    kv.update_data_retention(StreamARN=arn, CurrentVersion=info["Version"],
                             Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=3)
    info = kv.describe_stream(StreamARN=arn)["StreamInfo"]
    assert info["DataRetentionInHours"] == 8 and info["Status"] == "UPDATING"
    emulated.advance(1)
    with pytest.raises(kv.exceptions.InvalidArgumentException, match="cannot be decreased"):
        kv.update_data_retention(StreamARN=arn, CurrentVersion=info["Version"],
                                 Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=9)
    kv.update_data_retention(StreamName="cam", CurrentVersion=info["Version"],
                             Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=8)
    emulated.advance(1)
    info = kv.describe_stream(StreamARN=arn)["StreamInfo"]
    assert info["DataRetentionInHours"] == 0
    with pytest.raises(kv.exceptions.InvalidArgumentException, match="maximum"):
        kv.update_data_retention(StreamARN=arn, CurrentVersion=info["Version"],
                                 Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=90000)
    with pytest.raises(kv.exceptions.VersionMismatchException):
        kv.update_data_retention(StreamARN=arn, CurrentVersion="old", Operation="INCREASE_DATA_RETENTION",
                                 DataRetentionChangeInHours=1)
    with pytest.raises(kv.exceptions.InvalidArgumentException):  # model: change >= 1
        kv.update_data_retention(StreamARN=arn, CurrentVersion=info["Version"],
                                 Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=0)


@pytest.mark.parametrize("api", ["PUT_MEDIA", "GET_MEDIA", "LIST_FRAGMENTS", "GET_MEDIA_FOR_FRAGMENT_LIST",
                                 "GET_HLS_STREAMING_SESSION_URL", "GET_DASH_STREAMING_SESSION_URL",
                                 "GET_CLIP", "GET_IMAGES"])
def test_data_endpoint_is_greenroom_itself(emulated, api):
    kv, arn, _ = active_stream(emulated)
    endpoint = kv.get_data_endpoint(StreamARN=arn, APIName=api)["DataEndpoint"]
    assert endpoint == kv.meta.endpoint_url
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.get_data_endpoint(StreamName="nope", APIName=api)


def test_get_data_endpoint_refuses_an_unknown_api(emulated):
    kv, arn, _ = active_stream(emulated)
    with pytest.raises(kv.exceptions.InvalidArgumentException, match="APIName"):
        kv.get_data_endpoint(StreamARN=arn, APIName="PUT_EVERYTHING")


def test_create_stream_options_and_retention_limit(emulated):
    kv = emulated.client("kinesisvideo")
    kv.create_stream(StreamName="warm", StreamStorageConfiguration={"DefaultStorageTier": "WARM"})
    storage = kv.describe_stream_storage_configuration(StreamName="warm")
    assert storage["StreamStorageConfiguration"] == {"DefaultStorageTier": "WARM"}
    assert storage["StreamName"] == "warm" and storage["StreamARN"].endswith(re.search(r"/\d+$", storage["StreamARN"]).group())
    with pytest.raises(kv.exceptions.InvalidArgumentException):
        kv.create_stream(StreamName="forever", DataRetentionInHours=87601)
    with pytest.raises(kv.exceptions.InvalidArgumentException, match="aws:"):
        kv.create_stream(StreamName="tagged", Tags={"aws:owner": "me"})


def test_stream_storage_configuration_update(emulated):
    kv, arn, info = active_stream(emulated)
    assert kv.describe_stream_storage_configuration(StreamARN=arn)["StreamStorageConfiguration"] == \
        {"DefaultStorageTier": "HOT"}
    with pytest.raises(kv.exceptions.VersionMismatchException):
        kv.update_stream_storage_configuration(StreamARN=arn, CurrentVersion="x",
                                               StreamStorageConfiguration={"DefaultStorageTier": "WARM"})
    kv.update_stream_storage_configuration(StreamARN=arn, CurrentVersion=info["Version"],
                                           StreamStorageConfiguration={"DefaultStorageTier": "WARM"})
    assert kv.describe_stream_storage_configuration(StreamName="cam")["StreamStorageConfiguration"] == \
        {"DefaultStorageTier": "WARM"}
    assert kv.describe_stream(StreamARN=arn)["StreamInfo"]["Version"] != info["Version"]


# ---------------------------------------------------------------------------- signaling channels

def test_signaling_channel_lifecycle(emulated):
    kv = emulated.client("kinesisvideo")
    arn = kv.create_signaling_channel(ChannelName="door", SingleMasterConfiguration={"MessageTtlSeconds": 30},
                                      Tags=[{"Key": "site", "Value": "lab"}])["ChannelARN"]
    assert re.fullmatch(r"arn:aws:kinesisvideo:us-east-1:000000000000:channel/door/\d{13}", arn)
    info = kv.describe_signaling_channel(ChannelName="door")["ChannelInfo"]
    assert info["ChannelStatus"] == "CREATING" and info["ChannelType"] == "SINGLE_MASTER"
    assert info["SingleMasterConfiguration"] == {"MessageTtlSeconds": 30}
    assert int(arn.rsplit("/", 1)[1]) == round(info["CreationTime"].timestamp() * 1000)
    with pytest.raises(kv.exceptions.ResourceInUseException):
        kv.create_signaling_channel(ChannelName="door")
    emulated.advance(1)
    info = kv.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]
    assert info["ChannelStatus"] == "ACTIVE"
    with pytest.raises(kv.exceptions.VersionMismatchException):
        kv.update_signaling_channel(ChannelARN=arn, CurrentVersion="x", SingleMasterConfiguration={"MessageTtlSeconds": 90})
    kv.update_signaling_channel(ChannelARN=arn, CurrentVersion=info["Version"],
                                SingleMasterConfiguration={"MessageTtlSeconds": 90})
    updated = kv.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]
    assert updated["ChannelStatus"] == "UPDATING" and updated["SingleMasterConfiguration"] == {"MessageTtlSeconds": 90}
    emulated.advance(1)
    assert kv.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"site": "lab"}
    kv.delete_signaling_channel(ChannelARN=arn, CurrentVersion=updated["Version"])
    assert kv.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["ChannelStatus"] == "DELETING"
    emulated.advance(1)
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.describe_signaling_channel(ChannelARN=arn)


def test_list_signaling_channels_with_condition_and_pages(emulated):
    kv = emulated.client("kinesisvideo")
    for name in ["door-1", "yard-1", "door-2", "door-3"]:
        kv.create_signaling_channel(ChannelName=name)
    doors = [c["ChannelName"] for page in kv.get_paginator("list_signaling_channels").paginate(
        ChannelNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "door"},
        PaginationConfig={"PageSize": 2}) for c in page["ChannelInfoList"]]
    assert doors == ["door-1", "door-2", "door-3"]
    assert len(kv.list_signaling_channels()["ChannelInfoList"]) == 4


def test_signaling_channel_endpoints(emulated):
    kv, arn = active_channel(emulated)
    endpoints = kv.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"], "Role": "VIEWER"})
    by_protocol = {e["Protocol"]: e["ResourceEndpoint"] for e in endpoints["ResourceEndpointList"]}
    base = kv.meta.endpoint_url
    assert by_protocol["HTTPS"] == base
    assert by_protocol["WSS"] == base.replace("https://", "wss://").replace("http://", "ws://")
    with pytest.raises(kv.exceptions.InvalidArgumentException, match="media storage"):
        kv.get_signaling_channel_endpoint(ChannelARN=arn, SingleMasterChannelEndpointConfiguration={
            "Protocols": ["WEBRTC"], "Role": "MASTER"})


def test_media_storage_maps_a_channel_to_a_stream(emulated):
    kv, channel = active_channel(emulated)
    _, stream_arn, _ = active_stream(emulated, retention=0)
    assert kv.describe_media_storage_configuration(ChannelARN=channel)["MediaStorageConfiguration"] == \
        {"Status": "DISABLED"}
    with pytest.raises(kv.exceptions.NoDataRetentionException):
        kv.update_media_storage_configuration(ChannelARN=channel, MediaStorageConfiguration={
            "StreamARN": stream_arn, "Status": "ENABLED"})
    _, kept_arn, _ = active_stream(emulated, name="kept", retention=2)
    kv.update_media_storage_configuration(ChannelARN=channel, MediaStorageConfiguration={
        "StreamARN": kept_arn, "Status": "ENABLED"})
    assert kv.describe_media_storage_configuration(ChannelName="chan")["MediaStorageConfiguration"] == \
        {"StreamARN": kept_arn, "Status": "ENABLED"}
    mapped = kv.describe_mapped_resource_configuration(StreamARN=kept_arn)
    assert mapped["MappedResourceConfigurationList"] == [{"Type": "SIGNALING_CHANNEL", "ARN": channel}]
    _, other = active_channel(emulated, name="other")
    with pytest.raises(kv.exceptions.ResourceInUseException):
        kv.update_media_storage_configuration(ChannelARN=other, MediaStorageConfiguration={
            "StreamARN": kept_arn, "Status": "ENABLED"})
    endpoints = kv.get_signaling_channel_endpoint(ChannelARN=channel, SingleMasterChannelEndpointConfiguration={
        "Protocols": ["WEBRTC"], "Role": "MASTER"})["ResourceEndpointList"]
    assert [e["Protocol"] for e in endpoints] == ["WEBRTC"]
    kv.update_media_storage_configuration(ChannelARN=channel, MediaStorageConfiguration={"Status": "DISABLED"})
    assert kv.describe_mapped_resource_configuration(StreamName="kept")["MappedResourceConfigurationList"] == []
    with pytest.raises(kv.exceptions.InvalidArgumentException):
        kv.update_media_storage_configuration(ChannelARN=channel, MediaStorageConfiguration={"Status": "ENABLED"})


# ---------------------------------------------------------------------------- configurations

IMAGE_CONFIGURATION = {
    "Status": "ENABLED", "ImageSelectorType": "PRODUCER_TIMESTAMP",
    "DestinationConfig": {"Uri": "s3://bucket/images", "DestinationRegion": "us-east-1"},
    "SamplingInterval": 3000, "Format": "JPEG", "FormatConfig": {"JPEGQuality": "80"},
    "WidthPixels": 320, "HeightPixels": 240,
}


def test_image_generation_configuration(emulated):
    kv, arn, _ = active_stream(emulated)
    assert "ImageGenerationConfiguration" not in kv.describe_image_generation_configuration(StreamARN=arn)
    kv.update_image_generation_configuration(StreamARN=arn, ImageGenerationConfiguration=IMAGE_CONFIGURATION)
    assert kv.describe_image_generation_configuration(StreamName="cam")["ImageGenerationConfiguration"] == \
        IMAGE_CONFIGURATION
    for change, message in [({"SamplingInterval": 100}, "SamplingInterval"),
                            ({"FormatConfig": {"JPEGQuality": "101"}}, "JPEGQuality"),
                            ({"Format": "PNG"}, "JPEG format"),
                            ({"DestinationConfig": {"Uri": "s3://b/p", "DestinationRegion": "eu-west-1"}}, "Region")]:
        with pytest.raises(kv.exceptions.InvalidArgumentException, match=message):
            kv.update_image_generation_configuration(StreamARN=arn, ImageGenerationConfiguration={
                **IMAGE_CONFIGURATION, **change})
    kv.update_image_generation_configuration(StreamARN=arn)  # no configuration: removed
    assert "ImageGenerationConfiguration" not in kv.describe_image_generation_configuration(StreamARN=arn)
    _, bare, _ = active_stream(emulated, name="bare", retention=0)
    with pytest.raises(kv.exceptions.NoDataRetentionException):
        kv.update_image_generation_configuration(StreamARN=bare, ImageGenerationConfiguration=IMAGE_CONFIGURATION)


def test_notification_configuration(emulated):
    kv, arn, _ = active_stream(emulated)
    configuration = {"Status": "ENABLED", "DestinationConfig": {"Uri": "arn:aws:sns:us-east-1:000000000000:topic"}}
    kv.update_notification_configuration(StreamARN=arn, NotificationConfiguration=configuration)
    assert kv.describe_notification_configuration(StreamARN=arn)["NotificationConfiguration"] == configuration
    kv.update_notification_configuration(StreamName="cam")
    assert "NotificationConfiguration" not in kv.describe_notification_configuration(StreamName="cam")
    kv.create_stream(StreamName="new", DataRetentionInHours=1)
    with pytest.raises(kv.exceptions.ResourceInUseException):  # still CREATING
        kv.update_notification_configuration(StreamName="new", NotificationConfiguration=configuration)


# ---------------------------------------------------------------------------- edge configurations

EDGE = {"HubDeviceArn": HUB, "RecorderConfig": {"MediaSourceConfig": {
    "MediaUriSecretArn": SECRET, "MediaUriType": "RTSP_URI"}}, "DeletionConfig": {"EdgeRetentionInHours": 48}}


def test_edge_configuration_lifecycle(emulated):
    kv, arn, _ = active_stream(emulated)
    with pytest.raises(kv.exceptions.StreamEdgeConfigurationNotFoundException):
        kv.describe_edge_configuration(StreamARN=arn)
    started = kv.start_edge_configuration_update(StreamARN=arn, EdgeConfig=EDGE)
    assert started["SyncStatus"] == "SYNCING" and started["EdgeConfig"] == EDGE and started["StreamARN"] == arn
    with pytest.raises(kv.exceptions.ResourceInUseException):
        kv.start_edge_configuration_update(StreamARN=arn, EdgeConfig=EDGE)
    emulated.advance(2)
    described = kv.describe_edge_configuration(StreamName="cam")
    assert described["SyncStatus"] == "IN_SYNC" and "EdgeAgentStatus" not in described
    listed = kv.list_edge_agent_configurations(HubDeviceArn=HUB)["EdgeConfigs"]
    assert [c["StreamName"] for c in listed] == ["cam"]
    assert kv.list_edge_agent_configurations(HubDeviceArn=HUB.replace("hub-1", "hub-2"))["EdgeConfigs"] == []
    kv.delete_edge_configuration(StreamARN=arn)
    assert kv.describe_edge_configuration(StreamARN=arn)["SyncStatus"] == "DELETING"
    emulated.advance(2)
    with pytest.raises(kv.exceptions.StreamEdgeConfigurationNotFoundException):
        kv.delete_edge_configuration(StreamARN=arn)
    _, bare, _ = active_stream(emulated, name="bare", retention=0)
    with pytest.raises(kv.exceptions.NoDataRetentionException):
        kv.start_edge_configuration_update(StreamARN=bare, EdgeConfig=EDGE)


def test_list_edge_agent_configurations_pages(emulated):
    kv = emulated.client("kinesisvideo")
    for index in range(5):
        active_stream(emulated, name=f"cam-{index}")
        kv.start_edge_configuration_update(StreamName=f"cam-{index}", EdgeConfig=EDGE)
    names = [c["StreamName"] for page in kv.get_paginator("list_edge_agent_configurations").paginate(
        HubDeviceArn=HUB, PaginationConfig={"PageSize": 2}) for c in page["EdgeConfigs"]]
    assert names == [f"cam-{index}" for index in range(5)]


# ---------------------------------------------------------------------------- tags

def test_stream_tag_api(emulated):
    kv, arn, _ = active_stream(emulated, Tags={"a": "1"})
    kv.tag_stream(StreamName="cam", Tags={"b": "2", "a": "one"})
    assert kv.list_tags_for_stream(StreamARN=arn)["Tags"] == {"a": "one", "b": "2"}
    kv.untag_stream(StreamARN=arn, TagKeyList=["a", "missing"])
    assert kv.list_tags_for_stream(StreamName="cam")["Tags"] == {"b": "2"}
    with pytest.raises(kv.exceptions.TagsPerResourceExceededLimitException):
        kv.tag_stream(StreamARN=arn, Tags={f"k{index}": "v" for index in range(50)})
    assert kv.list_tags_for_stream(StreamName="cam")["Tags"] == {"b": "2"}  # nothing half-applied
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.tag_stream(StreamName="nope", Tags={"a": "b"})
    with pytest.raises(kv.exceptions.InvalidArgumentException):
        kv.list_tags_for_stream(StreamName="cam", StreamARN=arn)


def test_resource_tag_api_on_streams_and_channels(emulated):
    kv, stream_arn, _ = active_stream(emulated)
    _, channel_arn = active_channel(emulated)
    for arn in (stream_arn, channel_arn):
        kv.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "video"}, {"Key": "x", "Value": "y"}])
        kv.untag_resource(ResourceARN=arn, TagKeyList=["x"])
        assert kv.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "video"}
    # Both APIs see the same tags of a stream.
    assert kv.list_tags_for_stream(StreamARN=stream_arn)["Tags"] == {"team": "video"}
    gone = stream_arn.rsplit("/", 1)[0] + "/1000000000000"
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.tag_resource(ResourceARN=gone, Tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(kv.exceptions.InvalidArgumentException):
        kv.tag_resource(ResourceARN=stream_arn, Tags=[{"Key": "aws:x", "Value": "b"}])


def test_deleting_a_stream_drops_its_edge_configuration_and_mapping(emulated):
    kv, arn, info = active_stream(emulated)
    kv.start_edge_configuration_update(StreamARN=arn, EdgeConfig=EDGE)
    kv.delete_stream(StreamARN=arn)
    emulated.advance(1)
    active_stream(emulated)
    with pytest.raises(kv.exceptions.StreamEdgeConfigurationNotFoundException):
        kv.describe_edge_configuration(StreamName="cam")
