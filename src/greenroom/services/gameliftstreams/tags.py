"""Tags on applications and stream groups: TagResource, UntagResource, ListTagsForResource.

[inferred] The model lists no ResourceNotFoundException for these operations, but an unknown
resource is answered with it all the same (the service's own error for a missing resource);
stream sessions cannot be tagged (ValidationException). At most 50 tags per resource; keys
starting with ``aws:`` are reserved.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.ids import parse_arn
from .common import APPLICATION, SERVICE, STREAM_GROUP, errors, tagging

KINDS = {"application": APPLICATION, "streamgroup": STREAM_GROUP}


def _tagged(ctx: RequestContext, arn: str) -> tuple[str, str, dict]:
    parts = parse_arn(arn)
    if parts is None or parts["service"] != SERVICE:
        raise errors.Validation(f"{arn} is not a GameLift Streams resource ARN.")
    kind = KINDS.get(parts["resource_type"])
    if kind is None:
        raise errors.Validation(f"{arn}: only applications and stream groups can be tagged.")
    resource = None
    if parts["account"] == ctx.account and parts["region"] == ctx.region:
        resource = ctx.resources.get(kind, parts["resource_id"])
    if resource is None:
        raise errors.ResourceNotFound(f"Resource {arn} was not found.")
    return kind, parts["resource_id"], resource


tagging.operations(lambda ctx, req: _tagged(ctx, req["ResourceArn"]), tags="Tags", keys="TagKeys")
