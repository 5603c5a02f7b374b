"""What the Kinesis Video control-plane modules share: finding streams and channels by name or
ARN, versions, tag rules."""
from __future__ import annotations

import secrets
from typing import Callable

from ...core.context import RequestContext
from ...core.errors import Errors
from ...core.records import Record
from ...core.store import rewrite_documents, upgrade
from ...core.tagging import Tagging
from ...protocol import quirks

STREAM = "kinesisvideo:stream"
CHANNEL = "kinesisvideo:channel"
EDGE = "kinesisvideo:edge-configuration"   # keyed by the stream's ARN

# Status values under which a stream takes media (UPDATING only changes metadata).
WRITABLE_STATUSES = ("ACTIVE", "UPDATING")

# The members of StreamInfo / ChannelInfo: stored documents also hold private fields.
STREAM_INFO_FIELDS = ("DeviceName", "StreamName", "StreamARN", "MediaType", "KmsKeyId", "Version",
                      "Status", "CreationTime", "DataRetentionInHours")
CHANNEL_INFO_FIELDS = ("ChannelName", "ChannelARN", "ChannelType", "ChannelStatus", "CreationTime",
                       "SingleMasterConfiguration", "Version")
# A stream's view is its StreamInfo (its configurations have operations of their own); its
# fragments are stored under its private media key. Tags are shown by ListTagsForStream only.
STREAM_RECORD = Record(STREAM, members=STREAM_INFO_FIELDS, private=("_media_key",), tags_shown=False)
CHANNEL_RECORD = Record(CHANNEL, members=CHANNEL_INFO_FIELDS, tags_shown=False)


SERVICES = ("kinesisvideo", "kinesis-video-archived-media", "kinesis-video-media", "kinesis-video-signaling",
            "kinesis-video-webrtc-storage")
for _service in SERVICES:
    # Kinesis Video's own spelling of the error header, sent beside x-amzn-ErrorType.
    quirks.error_headers(_service, lambda code: {"x-amz-ErrorType": code})

errors = Errors(
    SERVICES,
    "InvalidArgumentException", "ResourceNotFoundException", "ResourceInUseException",
    "VersionMismatchException", "NoDataRetentionException", "TagsPerResourceExceededLimitException",
    "AccountStreamLimitExceededException", "AccountChannelLimitExceededException",
    "StreamEdgeConfigurationNotFoundException", "ConnectionLimitExceededException",
    "UnsupportedStreamMediaTypeException", "MissingCodecPrivateDataException",
    "InvalidCodecPrivateDataException", "InvalidMediaFrameException", "ClientLimitExceededException",
    "NotAuthorizedException", "AccessDeniedException",
)
tagging = Tagging("kinesisvideo", invalid=errors.InvalidArgument, too_many=errors.TagsPerResourceExceededLimit)


def name_prefix(condition: str) -> Callable[[RequestContext, dict], dict]:
    """The query of ListStreams/ListSignalingChannels (``Record.list_operation``): the names
    starting with the ``condition``'s ComparisonValue, if it has one (a stream's or a channel's
    id is its name)."""
    def query(ctx: RequestContext, req: dict) -> dict:
        prefix = (req.get(condition) or {}).get("ComparisonValue")
        return {"id_prefix": prefix or None, "filters": {"prefix": prefix}}
    return query


def new_version(ctx: RequestContext) -> str:
    return ctx.ids.alphanumeric(20)


def new_media_key() -> int:
    """The private key a stream's fragments are stored under: unique per stream incarnation
    (a stream deleted and created again under its name gets new storage), never shown."""
    return secrets.randbits(62)


# ---------------------------------------------------------------------------- streams

def _by_arn(ctx: RequestContext, kind: str, resource_type: str, arn_field: str, arn: str) -> dict | None:
    # The ARN ends in the resource's name and creation time: look the name up, then compare.
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith(f"{resource_type}/"):
        found = ctx.resources.get(kind, parts[5].split("/")[1])
        if found is not None and found[arn_field] == arn:
            return found
    return None


def _find(ctx: RequestContext, kind: str, what: str, name: str | None, arn: str | None,
          by_arn) -> dict:
    """The resource named by its name or ARN (exactly one of them must be given)."""
    if bool(name) == bool(arn):
        noun = what.split()[-1].capitalize()
        raise errors.InvalidArgument(f"Specify either {noun}Name or {noun}ARN, not both.")
    found = ctx.resources.get(kind, name) if name else by_arn(ctx, arn)
    if found is None:
        raise errors.ResourceNotFound(f"The requested {what} {name or arn} does not exist in account {ctx.account}.")
    return found


def stream_by_arn(ctx: RequestContext, arn: str) -> dict | None:
    return _by_arn(ctx, STREAM, "stream", "StreamARN", arn)


def find_stream(ctx: RequestContext, name: str | None, arn: str | None) -> dict:
    """The stream named by StreamName or StreamARN (exactly one of them must be given)."""
    return _find(ctx, STREAM, "stream", name, arn, stream_by_arn)


@upgrade("kinesisvideo.stored-before")
def _upgrade_stored_documents(conn) -> None:
    """Once, when a store opens: streams and channels stored by earlier releases keep their
    media key as ``_media_key`` (it was ``MediaKey``; streams stored before streams had media
    storage get one) and their tags in ``tags`` (they were in ``Tags``)."""
    def stream(document: dict) -> dict | None:
        if "_media_key" in document and "Tags" not in document:
            return None
        document["_media_key"] = document.pop("MediaKey", None) or document.get("_media_key") or new_media_key()
        return _tags_renamed(document)

    def _tags_renamed(document: dict) -> dict | None:
        if "Tags" in document:
            document["tags"] = document.pop("Tags")
        return document

    rewrite_documents(conn, STREAM, stream)
    rewrite_documents(conn, CHANNEL, lambda channel: _tags_renamed(channel) if "Tags" in channel else None)


def save_stream(ctx: RequestContext, stream: dict) -> None:
    ctx.resources.update(STREAM, stream["StreamName"], stream)


def check_version(current: str | None, actual: str, what: str) -> None:
    if current is not None and current != actual:
        raise errors.VersionMismatch(
            f"The version {current} does not match the {what}'s current version {actual}.")


def require_active(resource: dict, status_field: str, what: str, name: str) -> None:
    if resource[status_field] != "ACTIVE":
        raise errors.ResourceInUse(
            f"The {what} {name} is {resource[status_field]}; it must be ACTIVE for this operation.")


# ---------------------------------------------------------------------------- channels

def channel_by_arn(ctx: RequestContext, arn: str) -> dict | None:
    return _by_arn(ctx, CHANNEL, "channel", "ChannelARN", arn)


def find_channel(ctx: RequestContext, name: str | None, arn: str | None) -> dict:
    return _find(ctx, CHANNEL, "signaling channel", name, arn, channel_by_arn)


def save_channel(ctx: RequestContext, channel: dict) -> None:
    ctx.resources.update(CHANNEL, channel["ChannelName"], channel)
