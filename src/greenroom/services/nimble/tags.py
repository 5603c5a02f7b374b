"""Tags: TagResource, UntagResource, ListTagsForResource.

Taggable: studios, studio components, streaming images (a studio's own), launch profiles,
streaming sessions and session backups, by ARN
(``arn:aws:nimble:{region}:{account}:{resource-type}/{id}``). An ARN of another account or
Region, of another service, or of nothing that exists is a ResourceNotFoundException; an ARN
that is no ARN is a ValidationException. At most 50 tags per resource (the model states no limit
[inferred]); ``aws:`` keys are reserved. Nimble's own streaming images cannot be tagged
(AccessDeniedException [inferred]).
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.ids import parse_arn
from .common import (LAUNCH_PROFILE, SESSION_BACKUP, STREAMING_IMAGE, STREAMING_SESSION, STUDIO,
    STUDIO_COMPONENT, MISSING, errors, tagging)

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
        raise errors.Validation(f"'{resource_arn}' is not a valid ARN.", code="INVALID_ARN")
    if (parts["service"] != "nimble" or parts["region"] != ctx.region or parts["account"] != ctx.account
            or parts["resource_type"] not in TAGGABLE):
        raise errors.ResourceNotFound(MISSING.format("resource", resource_arn), resourceId=resource_arn)
    kind, field = TAGGABLE[parts["resource_type"]]
    # Studio ARNs end in the id without its Region prefix, so studios are found by ARN.
    value = resource_arn if field == "arn" else parts["resource_id"]
    candidates = [d for _, d in ctx.resources.list(kind, where={field: value})
                  if d.get("owner") != "amazon" or kind != STREAMING_IMAGE]
    if not candidates:
        if kind == STREAMING_IMAGE and ctx.resources.list(kind, where={field: value}, limit=1):
            raise errors.AccessDenied(f"Streaming image {value} is owned by amazon and cannot be tagged.",
                                      resourceId=value)
        raise errors.ResourceNotFound(MISSING.format("resource", resource_arn), resourceId=resource_arn)
    return kind, candidates[0]


def _find(ctx: RequestContext, req: dict) -> tuple[str, str, dict]:
    kind, document = find_tagged(ctx, req["resourceArn"])
    return kind, document["_key"], document


tagging.operations(_find, tags="tags", keys="tagKeys")
