"""Tags: TagResource, UntagResource, ListTagsForResource.

Taggable: studios, studio components, streaming images (a studio's own), launch profiles,
streaming sessions and session backups, by ARN
(``arn:aws:nimble:{region}:{account}:{resource-type}/{id}``). An ARN of another account or
Region, of another service, or of nothing that exists is a ResourceNotFoundException; an ARN
that is no ARN is a ValidationException. Nimble's own streaming images cannot be tagged
(AccessDeniedException [inferred]).
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.ids import parse_arn
from ...core.operations import operation
from .common import (LAUNCH_PROFILE, SESSION_BACKUP, STREAMING_IMAGE, STREAMING_SESSION, STUDIO,
                     STUDIO_COMPONENT, access_denied, not_found, validation_error)

# ARN resource type -> (kind, id field)
TAGGABLE = {
    "studio": (STUDIO, "arn"),
    "studio-component": (STUDIO_COMPONENT, "studioComponentId"),
    "streaming-image": (STREAMING_IMAGE, "streamingImageId"),
    "launch-profile": (LAUNCH_PROFILE, "launchProfileId"),
    "streaming-session": (STREAMING_SESSION, "sessionId"),
    "streaming-session-backup": (SESSION_BACKUP, "backupId"),
}


def find_tagged(ctx: RequestContext, resource_arn: str) -> tuple[str, dict]:
    parts = parse_arn(resource_arn)
    if parts is None or not parts["resource_id"]:
        raise validation_error(f"'{resource_arn}' is not a valid ARN.", code="INVALID_ARN")
    if (parts["service"] != "nimble" or parts["region"] != ctx.region or parts["account"] != ctx.account
            or parts["resource_type"] not in TAGGABLE):
        raise not_found("resource", resource_arn)
    kind, field = TAGGABLE[parts["resource_type"]]
    # Studio ARNs end in the id without its Region prefix, so studios are found by ARN.
    value = resource_arn if field == "arn" else parts["resource_id"]
    candidates = [d for _, d in ctx.resources.list(kind, where={field: value})
                  if d.get("owner") != "amazon" or kind != STREAMING_IMAGE]
    if not candidates:
        if kind == STREAMING_IMAGE and ctx.resources.list(kind, where={field: value}, limit=1):
            raise access_denied(f"Streaming image {value} is owned by amazon and cannot be tagged.", value)
        raise not_found("resource", resource_arn)
    return kind, candidates[0]


def _save(ctx: RequestContext, kind: str, document: dict) -> None:
    ctx.resources.update(kind, document["_key"], document)


@operation("nimble", "TagResource")
def tag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, document = find_tagged(ctx, req["resourceArn"])
    document["tags"] = {**(document.get("tags") or {}), **(req.get("tags") or {})}
    _save(ctx, kind, document)
    return {}


@operation("nimble", "UntagResource")
def untag_resource(ctx: RequestContext, req: dict) -> dict:
    kind, document = find_tagged(ctx, req["resourceArn"])
    removed = set(req["tagKeys"])
    document["tags"] = {k: v for k, v in (document.get("tags") or {}).items() if k not in removed}
    _save(ctx, kind, document)
    return {}


@operation("nimble", "ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, req: dict) -> dict:
    _, document = find_tagged(ctx, req["resourceArn"])
    return {"tags": document.get("tags") or {}}
