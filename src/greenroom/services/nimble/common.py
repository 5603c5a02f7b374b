"""What every Nimble Studio resource module shares: kinds, ids, errors, lookups, lifecycles,
client-token idempotency and filtered pagination.

Storage: every resource is a JSON document in ``ctx.resources``. Resources that belong to a
studio are keyed ``{studioId}/{id}`` with the studio as parent, so ids are scoped the way the
API addresses them (``/studios/{studioId}/...``); grandchildren (launch profile members,
session streams) are keyed ``{studioId}/{parentId}/{id}`` with their parent's key as parent.

Lifecycles (core.lifecycle): every request that changes a resource's state revises it
(``revise``) and schedules the declared steps that follow, so a later request makes every step
scheduled before it a no-op. Fields starting with ``_`` are internal: the serializer only sends
the members the model describes.
"""
from __future__ import annotations

import base64
import functools
import hashlib
from typing import Callable, Iterable

from ...core.context import RequestContext
from ...core.errors import Errors
from ...core.records import Record
from ...core.lifecycle import Step, applies, transition
from ...core.store import Resources
from ...core.tagging import Tagging

STUDIO = "nimble:studio"
STUDIO_MEMBER = "nimble:studio-member"
STUDIO_COMPONENT = "nimble:studio-component"
STREAMING_IMAGE = "nimble:streaming-image"
LAUNCH_PROFILE = "nimble:launch-profile"
LAUNCH_PROFILE_MEMBER = "nimble:launch-profile-member"
STREAMING_SESSION = "nimble:streaming-session"
SESSION_BACKUP = "nimble:streaming-session-backup"
SESSION_STREAM = "nimble:streaming-session-stream"
EULA_ACCEPTANCE = "nimble:eula-acceptance"
FAULT = "nimble:fault"

# What is stored of each kind: the API's members, and greenroom's fields (``_key``, the document's
# own key for cascades; ``_rev``, its revision). Tags are shown in the resources themselves.
STUDIO_RECORD = Record(STUDIO, private=("_key", "_rev", "_ssoValid"))
STUDIO_MEMBER_RECORD = Record(STUDIO_MEMBER, private=("_key",))
STUDIO_COMPONENT_RECORD = Record(STUDIO_COMPONENT, private=("_key", "_rev"))
STREAMING_IMAGE_RECORD = Record(STREAMING_IMAGE, private=("_key", "_rev", "_studioId"))
LAUNCH_PROFILE_RECORD = Record(LAUNCH_PROFILE, private=("_key", "_rev"))
LAUNCH_PROFILE_MEMBER_RECORD = Record(LAUNCH_PROFILE_MEMBER, private=("_key",))
STREAMING_SESSION_RECORD = Record(STREAMING_SESSION, private=("_key", "_rev", "_config"))
SESSION_BACKUP_RECORD = Record(SESSION_BACKUP, private=("_key",))
SESSION_STREAM_RECORD = Record(SESSION_STREAM, private=("_key", "_rev", "_secret", "_sessionId", "_studioId"))
EULA_ACCEPTANCE_RECORD = Record(EULA_ACCEPTANCE, private=("_key",))

# Kinds whose documents live under a studio (parent = studioId), removed with it.
STUDIO_CHILD_KINDS = (STUDIO_MEMBER, STUDIO_COMPONENT, STREAMING_IMAGE, LAUNCH_PROFILE,
                      STREAMING_SESSION, SESSION_BACKUP, EULA_ACCEPTANCE)

IN_PROGRESS_STATES = frozenset({
    "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS",
    "START_IN_PROGRESS", "STOP_IN_PROGRESS",
})
# A studio, component, image or launch profile whose update or delete failed is left as it
# was, so it stays usable [inferred].
USABLE_STATES = frozenset({"READY", "UPDATE_FAILED", "DELETE_FAILED"})
# Gone, or never there: such resources are no dependents and disappear after the retention.
GONE_STATES = frozenset({"DELETED", "CREATE_FAILED"})

PROTOCOL_VERSION = "2021-03-31"

# The (named, configurable) time DELETED and CREATE_FAILED resources stay visible.
RETENTION_DELAY = "nimble.retention"


# ------------------------------------------------------------------------------ ids and names

def new_id(ctx: RequestContext) -> str:
    """Nimble's 22-character ids: a UUID in unpadded base64url (``yeG7lDwNQEiwNTRT7DrV7Q``)."""
    raw = int(ctx.ids.uuid().replace("-", ""), 16).to_bytes(16, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def stable_id(*parts: str) -> str:
    """A 22-character id derived from fixed inputs (built-in images share ids across studios)."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def key(studio_id: str, *ids: str) -> str:
    return "/".join((studio_id, *ids))


def caller(ctx: RequestContext) -> str:
    """Who is calling, for createdBy/updatedBy/ownedBy.

    greenroom does not check signatures and the request context names only the account, so
    every caller of an account is that account's root principal, whose IAM user id is the
    account id itself [inferred].
    """
    return ctx.account


# ------------------------------------------------------------------------------ errors

# The short machine-readable reason each of Nimble's errors carries in ``code`` unless the
# raiser names another [inferred].
DEFAULT_CODES = {
    "ValidationException": "INVALID_PARAMETER",
    "ResourceNotFoundException": "RESOURCE_NOT_FOUND",
    "ConflictException": "CONFLICT",
    "ServiceQuotaExceededException": "SERVICE_QUOTA_EXCEEDED",
    "AccessDeniedException": "ACCESS_DENIED",
}
MISSING = "The specified resource could not be found: {} {} does not exist."


def _members(shape: str, fields: dict) -> dict:
    """Nimble's error members: ``code`` and ``context`` (the other keywords, e.g. a 404's
    ``resourceId``)."""
    code = fields.pop("code", DEFAULT_CODES[shape])
    return {"code": code, "context": fields or None}


errors = Errors("nimble", *DEFAULT_CODES, members=_members)
tagging = Tagging("nimble", invalid=errors.Validation)
# A client token used again with other parameters (``@idempotent("clientToken", TOKEN_REUSED)``).
TOKEN_REUSED = functools.partial(errors.Validation, code="CLIENT_TOKEN_REUSED")


def require_not_in_progress(resource: dict, label: str, resource_id: str) -> None:
    """Nothing can be changed while an operation on the resource is in progress."""
    if resource["state"] in IN_PROGRESS_STATES:
        raise errors.Conflict(
            f"Another operation is in progress: {label} {resource_id} is {resource['state']}.",
            resourceId=resource_id, code="RESOURCE_IN_PROGRESS",
        )


def require_state(resource: dict, label: str, resource_id: str, allowed: Iterable[str],
                  action: str) -> None:
    """ConflictException while something is in progress; ValidationException in any other
    state ``action`` is not allowed in [inferred]."""
    require_not_in_progress(resource, label, resource_id)
    allowed = sorted(allowed)
    if resource["state"] not in allowed:
        raise errors.Validation(
            f"Cannot {action} {label} {resource_id} in state {resource['state']}; "
            f"it must be {' or '.join(allowed)}.",
            code="INVALID_STATE", resourceId=resource_id,
        )


# ------------------------------------------------------------------------------ lookups

def find_studio(ctx: RequestContext, studio_id: str) -> dict:
    studio = ctx.resources.get(STUDIO, studio_id)
    if studio is None:
        raise errors.ResourceNotFound(MISSING.format("studio", studio_id), resourceId=studio_id)
    return studio


def in_studio(*equal: str) -> Callable[[RequestContext, dict], dict]:
    """The query of a list of a studio's resources (``Record.list_operation``): the studio must
    exist; each member named in ``equal`` filters on the field of that name when given."""
    def query(ctx: RequestContext, req: dict) -> dict:
        find_studio(ctx, req["studioId"])
        return {"parent": req["studioId"], "filters": {"studioId": req["studioId"]},
                "equal": {member: req.get(member) for member in equal}}
    return query


def usable_studio(ctx: RequestContext, studio_id: str) -> dict:
    """A studio that resources can be created in or changed under."""
    studio = find_studio(ctx, studio_id)
    require_state(studio, "studio", studio_id, USABLE_STATES, "use")
    return studio


def find_child(ctx: RequestContext, kind: str, label: str, studio_id: str, child_id: str) -> dict:
    """A resource of a studio; 404 if the studio or the resource does not exist."""
    find_studio(ctx, studio_id)
    found = ctx.resources.get(kind, key(studio_id, child_id))
    if found is None:
        raise errors.ResourceNotFound(MISSING.format(label, child_id), resourceId=child_id)
    return found


def save(ctx: RequestContext, kind: str, resource_key: str, document: dict) -> None:
    ctx.resources.update(kind, resource_key, document)


# ------------------------------------------------------------------------------ lifecycles

# A Nimble resource settles after its operation's delay: a step declared in its module names
# the state it leaves and the outcome it reaches (READY, ...), or the request's outcome (a
# failure armed with the admin faults) replaces it. What ends DELETED or CREATE_FAILED
# disappears after the retention delay.
REMOVE = {state: Step(state, delay=RETENTION_DELAY, action="nimble.remove") for state in ("DELETED", "CREATE_FAILED")}


def settle(ctx: RequestContext, step: Step, kind: str, resource_key: str, document: dict, *,
           outcome: dict | None = None, at: float | None = None) -> float:
    """Schedule ``step`` (its own ``to``, or ``outcome``); then the removal of what it leaves
    gone. Returns when it is due."""
    due_at = step.schedule(ctx, kind, resource_key, document, at=at, set=outcome)
    state = (outcome or {}).get("state") or step.to.get("state")
    if state in REMOVE:
        REMOVE[state].schedule(ctx, kind, resource_key, document, start=due_at)
    return due_at


def lifecycle_steps(resource: str, created: str, updated: str, deleted: str) -> tuple[Step, Step, Step]:
    """The create, update and delete steps of a resource with the usual lifecycle: each after
    its ``nimble.<resource>.create|update|delete`` delay, to READY (DELETED) with that status code."""
    return tuple(Step(f"{verb}_IN_PROGRESS", {"state": state, **status(code)}, delay=f"nimble.{resource}.{verb.lower()}",
                      stamp="updatedAt")
                 for verb, state, code in (("CREATE", "READY", created), ("UPDATE", "READY", updated),
                                           ("DELETE", "DELETED", deleted)))


def failed(failure: dict | None, state: str) -> dict | None:
    """The outcome of an armed failure (``take_fault``): ``state`` with its status; None without one."""
    return {"state": state, **failure} if failure else None


@transition("nimble.remove")
def remove_resource(resources: Resources, kind: str, resource_key: str, args: dict, due_at: float) -> None:
    """Forget a resource (and what belongs to it) if it is still as expected."""
    if not applies(resources.get(kind, resource_key), args):
        return
    remove_with_children(resources, kind, resource_key)


def remove_with_children(resources: Resources, kind: str, resource_key: str) -> None:
    if kind == STUDIO:
        for child_kind in STUDIO_CHILD_KINDS:
            for _, child in resources.list(child_kind, parent=resource_key):
                remove_with_children(resources, child_kind, child["_key"])
    elif kind == LAUNCH_PROFILE:
        for _, member in resources.list(LAUNCH_PROFILE_MEMBER, parent=resource_key):
            resources.delete(LAUNCH_PROFILE_MEMBER, member["_key"])
    elif kind == STREAMING_SESSION:
        for _, stream in resources.list(SESSION_STREAM, parent=resource_key):
            resources.delete(SESSION_STREAM, stream["_key"])
    resources.delete(kind, resource_key)


def insert(ctx: RequestContext, kind: str, resource_key: str, document: dict, parent: str = "") -> None:
    """Store a new document; it remembers its own key (``_key``) for cascades."""
    document["_key"] = resource_key
    ctx.resources.insert(kind, resource_key, document, parent=parent)


# ------------------------------------------------------------------------------ status messages

STATUS_MESSAGES = {
    # Studios ("The studio has been created successfully " is the service's own, trailing space included).
    "STUDIO_CREATE_IN_PROGRESS": "The studio is being created",
    "STUDIO_CREATED": "The studio has been created successfully ",
    "STUDIO_UPDATE_IN_PROGRESS": "The studio is being updated",
    "STUDIO_UPDATED": "The studio has been updated successfully",
    "STUDIO_DELETE_IN_PROGRESS": "The studio is being deleted",
    "STUDIO_DELETED": "The studio has been deleted",
    "STUDIO_WITH_LAUNCH_PROFILES_NOT_DELETED":
        "The studio cannot be deleted while it has launch profiles that are not deleted",
    "STUDIO_WITH_STUDIO_COMPONENTS_NOT_DELETED":
        "The studio cannot be deleted while it has studio components that are not deleted",
    "STUDIO_WITH_STREAMING_IMAGES_NOT_DELETED":
        "The studio cannot be deleted while it has streaming images that are not deleted",
    "AWS_SSO_NOT_ENABLED": "IAM Identity Center is not enabled for this account",
    "AWS_SSO_ACCESS_DENIED": "Access to IAM Identity Center was denied",
    "AWS_SSO_CONFIGURATION_REPAIR_IN_PROGRESS": "The IAM Identity Center configuration is being repaired",
    "AWS_SSO_CONFIGURATION_REPAIRED": "The IAM Identity Center configuration has been repaired",
    "ROLE_NOT_OWNED_BY_STUDIO_OWNER": "The role is not owned by the account that owns the studio",
    "ROLE_COULD_NOT_BE_ASSUMED": "The role could not be assumed",
    "ENCRYPTION_KEY_NOT_FOUND": "The encryption key could not be found",
    "ENCRYPTION_KEY_ACCESS_DENIED": "Access to the encryption key was denied",
    "AWS_STS_REGION_DISABLED": "AWS STS is disabled in this Region",
    "INTERNAL_ERROR": "An internal error occurred",
    # Studio components.
    "STUDIO_COMPONENT_CREATE_IN_PROGRESS": "Studio Component is being created",
    "STUDIO_COMPONENT_CREATED": "Studio Component has been created",
    "STUDIO_COMPONENT_UPDATE_IN_PROGRESS": "Studio Component is being updated",
    "STUDIO_COMPONENT_UPDATED": "Studio Component has been updated",
    "STUDIO_COMPONENT_DELETE_IN_PROGRESS": "Studio Component is being deleted",
    "STUDIO_COMPONENT_DELETED": "Studio Component has been deleted",
    "ACTIVE_DIRECTORY_ALREADY_EXISTS": "An Active Directory studio component for this directory already exists",
    # Streaming images.
    "STREAMING_IMAGE_CREATE_IN_PROGRESS": "Streaming Image is being created",
    "STREAMING_IMAGE_READY": "Streaming Image is ready",
    "STREAMING_IMAGE_UPDATE_IN_PROGRESS": "Streaming Image is being updated",
    "STREAMING_IMAGE_DELETE_IN_PROGRESS": "Streaming Image is being deleted",
    "STREAMING_IMAGE_DELETED": "Streaming Image has been deleted",
    "ACCESS_DENIED": "Access to the EC2 image was denied",
    # Launch profiles ("Launch Profile has been created" is the service's own).
    "LAUNCH_PROFILE_CREATE_IN_PROGRESS": "Launch Profile is being created",
    "LAUNCH_PROFILE_CREATED": "Launch Profile has been created",
    "LAUNCH_PROFILE_UPDATE_IN_PROGRESS": "Launch Profile is being updated",
    "LAUNCH_PROFILE_UPDATED": "Launch Profile has been updated",
    "LAUNCH_PROFILE_DELETE_IN_PROGRESS": "Launch Profile is being deleted",
    "LAUNCH_PROFILE_DELETED": "Launch Profile has been deleted",
    "STREAMING_IMAGE_NOT_FOUND": "A streaming image of the launch profile could not be found",
    "STREAMING_IMAGE_NOT_READY": "A streaming image of the launch profile is not ready",
    "LAUNCH_PROFILE_WITH_STREAM_SESSIONS_NOT_DELETED":
        "The launch profile cannot be deleted while it has streaming sessions that are not deleted",
    "INVALID_SUBNETS_PROVIDED": "One or more of the subnets provided are invalid",
    "INVALID_INSTANCE_TYPES_PROVIDED": "One or more of the instance types provided are invalid",
    "INVALID_SUBNETS_COMBINATION": "The combination of subnets provided is invalid",
    # Streaming sessions.
    "STREAMING_SESSION_CREATE_IN_PROGRESS": "The streaming session is being created",
    "STREAMING_SESSION_READY": "The streaming session is ready",
    "STREAMING_SESSION_STOP_IN_PROGRESS": "The streaming session is being stopped",
    "STREAMING_SESSION_STOPPED": "The streaming session has been stopped",
    "STREAMING_SESSION_START_IN_PROGRESS": "The streaming session is being started",
    "STREAMING_SESSION_STARTED": "The streaming session has been started",
    "STREAMING_SESSION_DELETE_IN_PROGRESS": "The streaming session is being deleted",
    "STREAMING_SESSION_DELETED": "The streaming session has been deleted",
    "INSUFFICIENT_CAPACITY": "There is not enough capacity for the requested instance type",
    "ACTIVE_DIRECTORY_DOMAIN_JOIN_ERROR": "The workstation could not join the Active Directory domain",
    "NETWORK_CONNECTION_ERROR": "A network connection error occurred",
    "INITIALIZATION_SCRIPT_ERROR": "An initialization script failed",
    "DECRYPT_STREAMING_IMAGE_ERROR": "The streaming image could not be decrypted",
    "NETWORK_INTERFACE_ERROR": "The network interface could not be created",
    "AMI_VALIDATION_ERROR": "The streaming image's AMI could not be validated",
    # Session streams.
    "STREAM_CREATE_IN_PROGRESS": "The stream is being created",
    "STREAM_READY": "The stream is ready",
    "STREAM_DELETE_IN_PROGRESS": "The stream is being deleted",
    "STREAM_DELETED": "The stream has been deleted",
}


def status(code: str, message: str | None = None) -> dict:
    return {"statusCode": code, "statusMessage": message or STATUS_MESSAGES.get(code, code)}


# ------------------------------------------------------------------------------ faults

def take_fault(ctx: RequestContext, operation: str) -> dict | None:
    """The failure armed for this operation (see ``faults``), consumed; None if there is none."""
    found = ctx.resources.list(FAULT, where={"operation": operation}, limit=1)
    if not found:
        return None
    fault = found[0][1]
    fault["remaining"] -= 1
    if fault["remaining"] <= 0:
        ctx.resources.delete(FAULT, fault["faultId"])
    else:
        ctx.resources.update(FAULT, fault["faultId"], fault)
    return {"statusCode": fault["statusCode"],
            "statusMessage": fault.get("statusMessage") or STATUS_MESSAGES.get(fault["statusCode"])}


# ------------------------------------------------------------------------------ idempotency

# ------------------------------------------------------------------------------ pagination

def page_size(req: dict, default: int, cap: int | None = None) -> int:
    size = req.get("maxResults") or default
    return min(size, cap) if cap else size

