"""What every GameLift Streams module shares: resource kinds, identifiers (id or ARN),
lookups, ClientToken idempotency, and a ``Scope`` that schedules transitions from handlers and
from transitions alike."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ...core.context import RequestContext
from ...core.errors import ServiceError
from ...core.ids import parse_arn
from ...core.store import Resources

SERVICE = "gameliftstreams"

APPLICATION = "gameliftstreams:application"
STREAM_GROUP = "gameliftstreams:streamgroup"
SESSION = "gameliftstreams:streamsession"
CLIENT_TOKEN = "gameliftstreams:clienttoken"

DEFAULT_PAGE_SIZE = 25


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def conflict(message: str) -> ServiceError:
    return ServiceError("ConflictException", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def check_tag_keys(tags: dict) -> None:
    for key in tags:
        if key.lower().startswith("aws:"):
            raise validation(f"Tag key {key} is reserved: keys cannot start with aws:.")


def public(document: dict) -> dict:
    """A stored document without its private (underscore) fields."""
    return {key: value for key, value in document.items() if not key.startswith("_")}


# --------------------------------------------------------------------------- identifiers

_TYPE_LABELS = {"application": "application", "streamgroup": "stream group", "streamsession": "stream session",
                "streamurl": "stream URL"}


def resource_id(ctx: RequestContext, identifier: str, resource_type: str) -> str | None:
    """The id an Identifier names (it may be the id itself or the resource's ARN); None when it
    is the ARN of a resource in another account or region (which cannot exist here)."""
    if not identifier.startswith("arn:"):
        return identifier
    parts = parse_arn(identifier)
    if parts is None or parts["service"] != SERVICE or parts["resource_type"] != resource_type \
            or not parts["resource_id"]:
        raise validation(f"{identifier} is not the ARN of a GameLift Streams {_TYPE_LABELS[resource_type]}.")
    if parts["account"] != ctx.account or parts["region"] != ctx.region:
        return None
    return parts["resource_id"]


def find_application(ctx: RequestContext, identifier: str) -> dict:
    app_id = resource_id(ctx, identifier, "application")
    found = ctx.resources.get(APPLICATION, app_id) if app_id else None
    if found is None:
        raise not_found(f"Application {identifier} was not found.")
    return found


def find_stream_group(ctx: RequestContext, identifier: str) -> dict:
    group_id = resource_id(ctx, identifier, "streamgroup")
    found = ctx.resources.get(STREAM_GROUP, group_id) if group_id else None
    if found is None:
        raise not_found(f"Stream group {identifier} was not found.")
    return found


def find_session(ctx: RequestContext, group: dict, identifier: str) -> dict:
    """A stream session of this stream group, by its id or its ARN (.../streamsession/sg/id)."""
    path = resource_id(ctx, identifier, "streamsession")
    session = None
    if path is not None:
        group_part, _, session_id = path.rpartition("/")
        if not group_part or group_part == group["Id"]:
            session = ctx.resources.get(SESSION, session_id)
    if session is None or session["StreamGroupId"] != group["Id"]:
        raise not_found(f"Stream session {identifier} was not found in stream group {group['Id']}.")
    return session


# --------------------------------------------------------------------------- idempotency

def _fingerprint(operation: str, request: dict) -> str:
    body = {key: value for key, value in request.items() if key != "ClientToken"}
    canonical = json.dumps([operation, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def recall(ctx: RequestContext, request: dict) -> dict | None:
    """What an earlier request with this ClientToken produced, if there was one; the same token
    with different parameters is a ConflictException [inferred: AWS's usual idempotency rule]."""
    token = request.get("ClientToken")
    if not token:
        return None
    record = ctx.resources.get(CLIENT_TOKEN, f"{ctx.operation}:{token}")
    if record is None:
        return None
    if record["fingerprint"] != _fingerprint(ctx.operation, request):
        raise conflict(f"ClientToken {token} was already used for a {ctx.operation} request "
                       "with different parameters.")
    return record["result"]


def forget(ctx: RequestContext, request: dict) -> None:
    """The resource an earlier request made is gone: the token may make a new one."""
    ctx.resources.delete(CLIENT_TOKEN, f"{ctx.operation}:{request['ClientToken']}")


def remember(ctx: RequestContext, request: dict, result: dict) -> None:
    token = request.get("ClientToken")
    if token:
        ctx.resources.insert(CLIENT_TOKEN, f"{ctx.operation}:{token}", {
            "fingerprint": _fingerprint(ctx.operation, request), "result": result,
        })


# --------------------------------------------------------------------------- scheduling

@dataclass
class Scope:
    """The resources of one account and region at one moment: a request's (``of_request``) or
    a transition's (``of_transition``, whose follow-ups are timed from the transition's own due
    time, so a manual clock moved far ahead replays every step at its exact time)."""

    resources: Resources
    now: float

    def at(self, due_at: float, action: str, kind: str, resource_id: str, **args: Any) -> None:
        self.resources.schedule_at(due_at, kind, resource_id, action, **args)

    @classmethod
    def of_request(cls, ctx: RequestContext) -> "Scope":
        return cls(ctx.resources, ctx.now)

    @classmethod
    def of_transition(cls, resources: Resources, due_at: float) -> "Scope":
        return cls(resources, due_at)
