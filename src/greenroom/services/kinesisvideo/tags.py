"""Tags, both APIs: Tag/Untag/ListTagsForStream (streams, by name or ARN, tags as a map) and
Tag/Untag/ListTagsForResource (streams and signaling channels by ARN, tags as a list)."""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.errors import ServiceError
from ...core.operations import operation
from .common import (CHANNEL, STREAM, channel_by_arn, find_stream, merged_tags, stream_by_arn)


def _resource(ctx: RequestContext, arn: str) -> tuple[str, str, dict]:
    """(kind, id, document) of the stream or channel an ARN names."""
    stream = stream_by_arn(ctx, arn)
    if stream is not None:
        return STREAM, stream["StreamName"], stream
    channel = channel_by_arn(ctx, arn)
    if channel is not None:
        return CHANNEL, channel["ChannelName"], channel
    raise ServiceError("ResourceNotFoundException",
                       f"The requested resource {arn} does not exist in account {ctx.account}.")


# ---------------------------------------------------------------------------- stream tag API

@operation("kinesisvideo", "TagStream")
def tag_stream(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    stream["Tags"] = merged_tags(stream.get("Tags", {}), req["Tags"], stream["StreamARN"])
    ctx.resources.update(STREAM, stream["StreamName"], stream)
    return {}


@operation("kinesisvideo", "UntagStream")
def untag_stream(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    for key in req["TagKeyList"]:
        stream.get("Tags", {}).pop(key, None)
    ctx.resources.update(STREAM, stream["StreamName"], stream)
    return {}


@operation("kinesisvideo", "ListTagsForStream")
def list_tags_for_stream(ctx: RequestContext, req: dict) -> dict:
    """All tags in one answer (at most 50), so there is never a NextToken."""
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    return {"Tags": stream.get("Tags", {})}


# ---------------------------------------------------------------------------- resource tag API

@operation("kinesisvideo", "TagResource")
def tag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, id, document = _resource(ctx, req["ResourceARN"])
    added = {}
    for tag in req["Tags"]:
        added[tag["Key"]] = tag["Value"]
    document["Tags"] = merged_tags(document.get("Tags", {}), added, req["ResourceARN"])
    ctx.resources.update(kind, id, document)
    return {}


@operation("kinesisvideo", "UntagResource")
def untag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, id, document = _resource(ctx, req["ResourceARN"])
    for key in req["TagKeyList"]:
        document.get("Tags", {}).pop(key, None)
    ctx.resources.update(kind, id, document)
    return {}


@operation("kinesisvideo", "ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, req: dict) -> dict:
    return {"Tags": _resource(ctx, req["ResourceARN"])[2].get("Tags", {})}
