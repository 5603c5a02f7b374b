"""Tags on every taggable IVS Real-Time resource (stages, compositions, storage, encoder and
ingest configurations, public keys): TagResource, UntagResource, ListTagsForResource.

The engine routes ``/tags/{resourceArn}`` here only for those ARN types (classic IVS shares the
path) and checks the ARN against the model's pattern as it was meant (its one-character resource
type is corrected in ``protocol.validation``). At most 50 tags; ``aws:`` keys are reserved.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.ids import parse_arn
from ...core.operations import operation
from .common import SERVICE, TAGGABLE_KINDS, check_tags, find, not_found


def _find_taggable(ctx: RequestContext, arn: str) -> tuple[str, str, dict]:
    parts = parse_arn(arn)
    kind = TAGGABLE_KINDS.get(parts["resource_type"]) if parts else None
    if kind is None:
        raise not_found(arn)
    resource_id, document = find(ctx, kind, parts["resource_type"], arn)
    return kind, resource_id, document


@operation(SERVICE, "TagResource")
def tag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, resource_id, document = _find_taggable(ctx, req["resourceArn"])
    tags = {**document.get("tags", {}), **req["tags"]}
    check_tags(tags)
    document["tags"] = tags
    ctx.resources.update(kind, resource_id, document)
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, resource_id, document = _find_taggable(ctx, req["resourceArn"])
    document["tags"] = {key: value for key, value in document.get("tags", {}).items()
                        if key not in set(req["tagKeys"])}
    ctx.resources.update(kind, resource_id, document)
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, req: dict) -> dict:
    _, _, document = _find_taggable(ctx, req["resourceArn"])
    return {"tags": document.get("tags", {})}
