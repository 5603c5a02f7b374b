"""What the Kinesis Video control-plane modules share: finding streams and channels by name or
ARN, versions, tag rules."""
from __future__ import annotations

import secrets

from ...core.context import RequestContext
from ...core.errors import ServiceError

STREAM = "kinesisvideo:stream"
CHANNEL = "kinesisvideo:channel"
EDGE = "kinesisvideo:edge-configuration"   # keyed by the stream's ARN

MAX_TAGS = 50
# Status values under which a stream takes media (UPDATING only changes metadata).
WRITABLE_STATUSES = ("ACTIVE", "UPDATING")

# The members of StreamInfo / ChannelInfo: stored documents also hold private fields.
STREAM_INFO_FIELDS = ("DeviceName", "StreamName", "StreamARN", "MediaType", "KmsKeyId", "Version",
                      "Status", "CreationTime", "DataRetentionInHours")
CHANNEL_INFO_FIELDS = ("ChannelName", "ChannelARN", "ChannelType", "ChannelStatus", "CreationTime",
                       "SingleMasterConfiguration", "Version")


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgumentException", message)


def new_version(ctx: RequestContext) -> str:
    return ctx.ids.alphanumeric(20)


def new_media_key() -> int:
    """The private key a stream's fragments are stored under: unique per stream incarnation
    (a stream deleted and created again under its name gets new storage), never shown."""
    return secrets.randbits(62)


def stream_info(stream: dict) -> dict:
    return {field: stream[field] for field in STREAM_INFO_FIELDS if field in stream}


def channel_info(channel: dict) -> dict:
    return {field: channel[field] for field in CHANNEL_INFO_FIELDS if field in channel}


# ---------------------------------------------------------------------------- streams

def stream_not_found(ctx: RequestContext, name: str | None, arn: str | None) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"The requested stream {name or arn} does not exist in account {ctx.account}.",
    )


def stream_by_arn(ctx: RequestContext, arn: str) -> dict | None:
    # The ARN ends in the stream's name and creation time: look the name up, then compare.
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("stream/"):
        name = parts[5].split("/")[1]
        stream = ctx.resources.get(STREAM, name)
        if stream is not None and stream["StreamARN"] == arn:
            return stream
    return None


def find_stream(ctx: RequestContext, name: str | None, arn: str | None) -> dict:
    """The stream named by StreamName or StreamARN (exactly one of them must be given)."""
    if bool(name) == bool(arn):
        raise ServiceError("InvalidArgumentException", "Specify either StreamName or StreamARN, not both.")
    stream = ctx.resources.get(STREAM, name) if name else stream_by_arn(ctx, arn)
    if stream is None:
        raise stream_not_found(ctx, name, arn)
    if "MediaKey" not in stream:
        # A stream stored before streams had media storage: it gets its key now.
        stream["MediaKey"] = new_media_key()
        ctx.resources.update(STREAM, stream["StreamName"], stream)
    return stream


def save_stream(ctx: RequestContext, stream: dict) -> None:
    ctx.resources.update(STREAM, stream["StreamName"], stream)


def check_version(current: str | None, actual: str, what: str) -> None:
    if current is not None and current != actual:
        raise ServiceError(
            "VersionMismatchException",
            f"The version {current} does not match the {what}'s current version {actual}.",
        )


def require_active(resource: dict, status_field: str, what: str, name: str) -> None:
    if resource[status_field] != "ACTIVE":
        raise ServiceError(
            "ResourceInUseException",
            f"The {what} {name} is {resource[status_field]}; it must be ACTIVE for this operation.",
        )


# ---------------------------------------------------------------------------- channels

def channel_not_found(ctx: RequestContext, name: str | None, arn: str | None) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"The requested signaling channel {name or arn} does not exist in account {ctx.account}.",
    )


def channel_by_arn(ctx: RequestContext, arn: str) -> dict | None:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("channel/"):
        name = parts[5].split("/")[1]
        channel = ctx.resources.get(CHANNEL, name)
        if channel is not None and channel["ChannelARN"] == arn:
            return channel
    return None


def find_channel(ctx: RequestContext, name: str | None, arn: str | None) -> dict:
    if bool(name) == bool(arn):
        raise ServiceError("InvalidArgumentException", "Specify either ChannelName or ChannelARN, not both.")
    channel = ctx.resources.get(CHANNEL, name) if name else channel_by_arn(ctx, arn)
    if channel is None:
        raise channel_not_found(ctx, name, arn)
    return channel


def save_channel(ctx: RequestContext, channel: dict) -> None:
    ctx.resources.update(CHANNEL, channel["ChannelName"], channel)


# ---------------------------------------------------------------------------- tags

def check_tag_keys(keys) -> None:
    for key in keys:
        if key.lower().startswith("aws:"):
            raise invalid(f"Tag key {key} uses the reserved prefix aws:.")


def merged_tags(existing: dict, added: dict, resource: str) -> dict:
    """Existing tags with ``added`` applied, within the 50-tag limit."""
    check_tag_keys(added)
    tags = {**existing, **added}
    if len(tags) > MAX_TAGS:
        raise ServiceError(
            "TagsPerResourceExceededLimitException",
            f"The resource {resource} would have {len(tags)} tags; the limit is {MAX_TAGS}.",
        )
    return tags
