"""Tags on applications and stream groups: TagResource, UntagResource, ListTagsForResource.

[inferred] The model lists no ResourceNotFoundException for these operations, but an unknown
resource is answered with it all the same (the service's own error for a missing resource);
stream sessions cannot be tagged (ValidationException). At most 50 tags per resource; keys
starting with ``aws:`` are reserved.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.ids import parse_arn
from ...core.operations import operation
from .common import APPLICATION, SERVICE, STREAM_GROUP, check_tag_keys, not_found, validation

MAX_TAGS = 50
KINDS = {"application": APPLICATION, "streamgroup": STREAM_GROUP}


def _tagged(ctx: RequestContext, arn: str) -> tuple[str, str, dict]:
    parts = parse_arn(arn)
    if parts is None or parts["service"] != SERVICE:
        raise validation(f"{arn} is not a GameLift Streams resource ARN.")
    kind = KINDS.get(parts["resource_type"])
    if kind is None:
        raise validation(f"{arn}: only applications and stream groups can be tagged.")
    resource = None
    if parts["account"] == ctx.account and parts["region"] == ctx.region:
        resource = ctx.resources.get(kind, parts["resource_id"])
    if resource is None:
        raise not_found(f"Resource {arn} was not found.")
    return kind, parts["resource_id"], resource


@operation(SERVICE, "TagResource")
def tag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, resource_id, resource = _tagged(ctx, req["ResourceArn"])
    check_tag_keys(req["Tags"])
    tags = {**resource.get("_tags", {}), **req["Tags"]}
    if len(tags) > MAX_TAGS:
        raise validation(f"A resource can have at most {MAX_TAGS} tags; this request would make {len(tags)}.")
    resource["_tags"] = tags
    ctx.resources.update(kind, resource_id, resource)
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, resource_id, resource = _tagged(ctx, req["ResourceArn"])
    resource["_tags"] = {key: value for key, value in resource.get("_tags", {}).items()
                         if key not in req["TagKeys"]}
    ctx.resources.update(kind, resource_id, resource)
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, req: dict) -> dict:
    _, _, resource = _tagged(ctx, req["ResourceArn"])
    return {"Tags": resource.get("_tags", {})}
