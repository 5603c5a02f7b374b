"""Tags, both APIs: Tag/Untag/ListTagsForStream (streams, by name or ARN, tags as a map) and
Tag/Untag/ListTagsForResource (streams and signaling channels by ARN, tags as a list)."""
from __future__ import annotations

from ...core.context import RequestContext
from .common import CHANNEL, STREAM, channel_by_arn, errors, find_stream, stream_by_arn, tagging


def _resource(ctx: RequestContext, arn: str) -> tuple[str, str, dict]:
    """(kind, id, document) of the stream or channel an ARN names."""
    stream = stream_by_arn(ctx, arn)
    if stream is not None:
        return STREAM, stream["StreamName"], stream
    channel = channel_by_arn(ctx, arn)
    if channel is not None:
        return CHANNEL, channel["ChannelName"], channel
    raise errors.ResourceNotFound(f"The requested resource {arn} does not exist in account {ctx.account}.")


def _stream(ctx: RequestContext, req: dict) -> tuple[str, str, dict]:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    return STREAM, stream["StreamName"], stream


# ListTagsForStream answers all tags at once (at most 50), so there is never a NextToken.
tagging.operations(_stream, tags="Tags", keys="TagKeyList",
                   tag="TagStream", untag="UntagStream", list_tags="ListTagsForStream")
tagging.operations(lambda ctx, req: _resource(ctx, req["ResourceARN"]), tags="Tags",
                   keys="TagKeyList")
