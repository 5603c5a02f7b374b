"""A stream's configurations (image generation, notification, storage tier), a channel's media
storage configuration, and the mapped-resource view of it from the stream's side."""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.operations import operation
from .common import (check_version, errors, find_channel, find_stream, new_version,
    require_active, save_channel, save_stream, stream_by_arn)

MIN_SAMPLING_INTERVAL_MS = 200
MAX_SAMPLING_INTERVAL_MS = 20000
# [inferred] The Type a mapped signaling channel is reported with.
MAPPED_CHANNEL_TYPE = "SIGNALING_CHANNEL"


def _writable_stream(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    require_active(stream, "Status", "stream", stream["StreamName"])
    return stream


def _needs_retention(stream: dict, what: str) -> None:
    if stream["DataRetentionInHours"] == 0:
        raise errors.NoDataRetention(f"The stream {stream['StreamName']} has no data retention; {what} needs it.")


# ---------------------------------------------------------------------------- image generation

def _check_image_generation(ctx: RequestContext, configuration: dict) -> None:
    interval = configuration["SamplingInterval"]
    if not MIN_SAMPLING_INTERVAL_MS <= interval <= MAX_SAMPLING_INTERVAL_MS:
        raise errors.InvalidArgument(f"SamplingInterval must be between {MIN_SAMPLING_INTERVAL_MS} and "
                                     f"{MAX_SAMPLING_INTERVAL_MS} milliseconds; got {interval}.")
    format_config = configuration.get("FormatConfig") or {}
    if format_config:
        if configuration["Format"] != "JPEG":
            raise errors.InvalidArgument("FormatConfig (JPEGQuality) applies only to the JPEG format.")
        quality = format_config.get("JPEGQuality", "")
        if not (quality.isdigit() and 1 <= int(quality) <= 100):
            raise errors.InvalidArgument(f"JPEGQuality must be a whole number from 1 to 100; got {quality!r}.")
    region = configuration["DestinationConfig"]["DestinationRegion"]
    if region != ctx.region:
        raise errors.InvalidArgument(f"DestinationRegion {region} must be the stream's Region {ctx.region}.")


def _configure(ctx: RequestContext, req: dict, member: str, what: str, check=None) -> dict:
    """Set the stream's configuration ``member`` (``check``-ed; ENABLED needs data retention),
    or, when the request has none, remove it."""
    stream = _writable_stream(ctx, req)
    configuration = req.get(member)
    if configuration:
        if check is not None:
            check(ctx, configuration)
        if configuration["Status"] == "ENABLED":
            _needs_retention(stream, what)
        stream[member] = configuration
    else:
        stream.pop(member, None)
    save_stream(ctx, stream)
    return {}


def _configuration(ctx: RequestContext, req: dict, member: str) -> dict:
    return {member: find_stream(ctx, req.get("StreamName"), req.get("StreamARN")).get(member)}


@operation("kinesisvideo", "UpdateImageGenerationConfiguration")
def update_image_generation_configuration(ctx: RequestContext, req: dict) -> dict:
    return _configure(ctx, req, "ImageGenerationConfiguration", "image generation", _check_image_generation)


@operation("kinesisvideo", "DescribeImageGenerationConfiguration", read_only=True)
def describe_image_generation_configuration(ctx: RequestContext, req: dict) -> dict:
    return _configuration(ctx, req, "ImageGenerationConfiguration")


# ---------------------------------------------------------------------------- notifications

@operation("kinesisvideo", "UpdateNotificationConfiguration")
def update_notification_configuration(ctx: RequestContext, req: dict) -> dict:
    return _configure(ctx, req, "NotificationConfiguration", "notifications")


@operation("kinesisvideo", "DescribeNotificationConfiguration", read_only=True)
def describe_notification_configuration(ctx: RequestContext, req: dict) -> dict:
    return _configuration(ctx, req, "NotificationConfiguration")


# ---------------------------------------------------------------------------- storage tier

@operation("kinesisvideo", "UpdateStreamStorageConfiguration")
def update_stream_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    check_version(req["CurrentVersion"], stream["Version"], "stream")
    require_active(stream, "Status", "stream", stream["StreamName"])
    stream["StorageTier"] = req["StreamStorageConfiguration"]["DefaultStorageTier"]
    stream["Version"] = new_version(ctx)
    save_stream(ctx, stream)
    return {}


@operation("kinesisvideo", "DescribeStreamStorageConfiguration", read_only=True)
def describe_stream_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    return {"StreamName": stream["StreamName"], "StreamARN": stream["StreamARN"],
            "StreamStorageConfiguration": {"DefaultStorageTier": stream.get("StorageTier", "HOT")}}


# ---------------------------------------------------------------------------- media storage

@operation("kinesisvideo", "UpdateMediaStorageConfiguration")
def update_media_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    """Map a signaling channel to the stream its WebRTC media is stored in (ENABLED), or unmap
    it (DISABLED). A stream serves one channel at most; it needs data retention."""
    channel = find_channel(ctx, None, req["ChannelARN"])
    require_active(channel, "ChannelStatus", "signaling channel", channel["ChannelName"])
    configuration = req["MediaStorageConfiguration"]
    previous_arn = channel["MediaStorage"].get("StreamARN")
    if configuration["Status"] == "ENABLED":
        stream_arn = configuration.get("StreamARN")
        if not stream_arn:
            raise errors.InvalidArgument("A StreamARN is required to enable media storage.")
        stream = stream_by_arn(ctx, stream_arn)
        if stream is None:
            raise errors.ResourceNotFound(f"The requested stream {stream_arn} does not exist in account {ctx.account}.")
        _needs_retention(stream, "media storage")
        mapped = stream.get("MappedChannelARN")
        if mapped and mapped != channel["ChannelARN"]:
            raise errors.ResourceInUse(f"The stream {stream['StreamName']} already stores media for {mapped}.")
        if previous_arn and previous_arn != stream_arn:
            _unmap(ctx, previous_arn, channel["ChannelARN"])
        stream["MappedChannelARN"] = channel["ChannelARN"]
        save_stream(ctx, stream)
        channel["MediaStorage"] = {"StreamARN": stream_arn, "Status": "ENABLED"}
    else:
        if previous_arn:
            _unmap(ctx, previous_arn, channel["ChannelARN"])
        channel["MediaStorage"] = {"Status": "DISABLED"}
    save_channel(ctx, channel)
    return {}


def _unmap(ctx: RequestContext, stream_arn: str, channel_arn: str) -> None:
    stream = stream_by_arn(ctx, stream_arn)
    if stream is not None and stream.get("MappedChannelARN") == channel_arn:
        del stream["MappedChannelARN"]
        save_stream(ctx, stream)


@operation("kinesisvideo", "DescribeMediaStorageConfiguration", read_only=True)
def describe_media_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    channel = find_channel(ctx, req.get("ChannelName"), req.get("ChannelARN"))
    return {"MediaStorageConfiguration": channel["MediaStorage"]}


@operation("kinesisvideo", "DescribeMappedResourceConfiguration", read_only=True)
def describe_mapped_resource_configuration(ctx: RequestContext, req: dict) -> dict:
    """The signaling channel whose media this stream stores (at most one: MaxResults is 1)."""
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    mapped = [stream["MappedChannelARN"]] if stream.get("MappedChannelARN") else []
    page = ctx.page(
        filters={"stream": stream["StreamARN"]},
        token=req.get("NextToken"),
        page_size=req.get("MaxResults", 1),
        fetch=lambda after, limit: [
            (index, {"Type": MAPPED_CHANNEL_TYPE, "ARN": arn})
            for index, arn in enumerate(mapped) if after is None or index > after
        ][:limit],
    )
    return {"MappedResourceConfigurationList": page.items, "NextToken": page.next_token}

