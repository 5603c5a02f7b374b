"""Streams: Create (CREATING -> ACTIVE), Describe, List, Update and UpdateDataRetention
(UPDATING -> ACTIVE), Delete (DELETING -> gone, with its media), GetDataEndpoint."""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.lifecycle import Step, transition
from ...core.operations import operation
from . import storage
from .common import (EDGE, STREAM, STREAM_RECORD, check_version, errors, find_stream, name_prefix, new_media_key,
    new_version, require_active, save_stream, tagging)

KIND = STREAM  # kept for callers that imported it from here
DEFAULT_LIST_PAGE_SIZE = 10000  # the model's maximum for ListStreams; AWS's default too
MAX_STREAMS_PER_ACCOUNT = 10000  # the default quota in us-east-1 and us-west-2
MAX_RETENTION_HOURS = 87600      # ten years

# A stream's lifecycle (core.lifecycle.Step): CREATING and UPDATING become ACTIVE after their delay.
CREATED = Step("CREATING", {"Status": "ACTIVE"}, delay="kinesisvideo.stream.create", field="Status")
UPDATED = Step("UPDATING", {"Status": "ACTIVE"}, delay="kinesisvideo.stream.update", field="Status")


@operation("kinesisvideo", "CreateStream")
def create_stream(ctx: RequestContext, req: dict) -> dict:
    name = req["StreamName"]
    if ctx.resources.get(STREAM, name) is not None:
        raise errors.ResourceInUse(f"The stream {name} already exists.")
    retention = req.get("DataRetentionInHours", 0)
    if retention > MAX_RETENTION_HOURS:
        raise errors.InvalidArgument(f"DataRetentionInHours {retention} exceeds the maximum of {MAX_RETENTION_HOURS} hours.")
    tagging.check(req.get("Tags", {}))
    ctx.resources.require_room(STREAM, MAX_STREAMS_PER_ACCOUNT, lambda limit: errors.AccountStreamLimitExceeded(
        f"The account {ctx.account} already has {limit} streams."))
    creation_ms = int(ctx.now * 1000)
    stream = {
        "StreamName": name,
        # Real ARNs end in the stream's creation time in milliseconds.
        "StreamARN": ctx.arn("kinesisvideo", f"stream/{name}/{creation_ms}"),
        "Status": "CREATING",
        "Version": new_version(ctx),
        "CreationTime": creation_ms / 1000,
        "DataRetentionInHours": retention,
        "tags": req.get("Tags", {}),
        "StorageTier": (req.get("StreamStorageConfiguration") or {}).get("DefaultStorageTier", "HOT"),
        "_media_key": new_media_key(),
    }
    for optional in ("DeviceName", "MediaType", "KmsKeyId"):
        if optional in req:
            stream[optional] = req[optional]
    ctx.resources.insert(STREAM, name, stream)
    CREATED.schedule(ctx, STREAM, name, stream)
    return {"StreamARN": stream["StreamARN"]}


STREAM_RECORD.get_operation(
    "kinesisvideo", "DescribeStream", "StreamInfo",
    lambda ctx, req: find_stream(ctx, req.get("StreamName"), req.get("StreamARN")))


STREAM_RECORD.list_operation("kinesisvideo", "ListStreams", name_prefix("StreamNameCondition"),
                             default_size=DEFAULT_LIST_PAGE_SIZE)


def _begin_update(ctx: RequestContext, stream: dict) -> None:
    """UpdateStream and UpdateDataRetention are asynchronous: UPDATING, then ACTIVE again."""
    stream["Status"] = "UPDATING"
    stream["Version"] = new_version(ctx)
    save_stream(ctx, stream)
    UPDATED.schedule(ctx, STREAM, stream["StreamName"], stream)


@operation("kinesisvideo", "UpdateStream")
def update_stream(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    check_version(req["CurrentVersion"], stream["Version"], "stream")
    require_active(stream, "Status", "stream", stream["StreamName"])
    for field in ("DeviceName", "MediaType"):
        if field in req:
            stream[field] = req[field]
    _begin_update(ctx, stream)
    return {}


@operation("kinesisvideo", "UpdateDataRetention")
def update_data_retention(ctx: RequestContext, req: dict) -> dict:
    """Increase or decrease by DataRetentionChangeInHours. A decrease may reach 0 (no retention:
    only the short buffer is kept) but not below; data older than the new period is deleted at
    once, as the API reference says [inferred: that the change applies immediately]."""
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    check_version(req["CurrentVersion"], stream["Version"], "stream")
    require_active(stream, "Status", "stream", stream["StreamName"])
    current, change = stream["DataRetentionInHours"], req["DataRetentionChangeInHours"]
    if req["Operation"] == "INCREASE_DATA_RETENTION":
        retention = current + change
        if retention > MAX_RETENTION_HOURS:
            raise errors.InvalidArgument(f"The data retention period would become {retention} hours; "
                                         f"the maximum is {MAX_RETENTION_HOURS} hours.")
    else:
        retention = current - change
        if retention < 0:
            raise errors.InvalidArgument(f"The data retention period of {current} hours cannot be decreased by "
                                         f"{change} hours.")
    stream["DataRetentionInHours"] = retention
    _begin_update(ctx, stream)
    if retention < current:
        storage.expire(ctx.conn, stream, ctx.now)
    return {}


@operation("kinesisvideo", "DeleteStream")
def delete_stream(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, None, req["StreamARN"])
    check_version(req.get("CurrentVersion"), stream["Version"], "stream")
    if stream["Status"] == "DELETING":
        raise errors.ResourceInUse(f"The stream {stream['StreamName']} is already being deleted.")
    stream["Status"] = "DELETING"
    save_stream(ctx, stream)
    ctx.schedule("kinesisvideo.stream.delete", STREAM, stream["StreamName"], action="kinesisvideo.stream.remove")
    return {}


@transition("kinesisvideo.stream.remove")
def remove_stream(resources, kind, resource_id, args, due_at) -> None:
    stream = resources.get(kind, resource_id)
    if stream is None:
        return
    resources.delete(kind, resource_id)
    resources.delete(EDGE, stream["StreamARN"])
    storage.drop_stream(resources.conn, stream)


@operation("kinesisvideo", "GetDataEndpoint", read_only=True)
def get_data_endpoint(ctx: RequestContext, req: dict) -> dict:
    """Every data-plane API is served by greenroom itself: the endpoint is how this caller
    reached it (core.public_url: a base URL with no path; clients append /putMedia, /getMedia, ...)."""
    find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    return {"DataEndpoint": ctx.public_url()}
