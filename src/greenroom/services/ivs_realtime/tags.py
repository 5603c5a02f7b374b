"""Tags on every taggable IVS Real-Time resource (stages, compositions, storage, encoder and
ingest configurations, public keys): TagResource, UntagResource, ListTagsForResource.

The engine routes ``/tags/{resourceArn}`` here only for those ARN types (classic IVS shares the
path) and checks the ARN against the model's pattern as it was meant (its one-character resource
type is corrected in ``protocol.validation``). At most 50 tags; ``aws:`` keys are reserved.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.ids import parse_arn
from .common import MISSING, TAGGABLE_KINDS, errors, find, tagging


def _find_taggable(ctx: RequestContext, arn: str) -> tuple[str, str, dict]:
    parts = parse_arn(arn)
    kind = TAGGABLE_KINDS.get(parts["resource_type"]) if parts else None
    if kind is None:
        raise errors.ResourceNotFound(MISSING.format(arn))
    resource_id, document = find(ctx, kind, parts["resource_type"], arn)
    return kind, resource_id, document


tagging.operations(lambda ctx, req: _find_taggable(ctx, req["resourceArn"]), tags="tags", keys="tagKeys")
