"""Studios: CreateStudio, GetStudio, ListStudios, UpdateStudio, DeleteStudio,
StartStudioSSOConfigurationRepair.

States: CREATE_IN_PROGRESS -> READY | CREATE_FAILED; UPDATE_IN_PROGRESS -> READY |
UPDATE_FAILED (a failed update leaves the studio as it was before); DELETE_IN_PROGRESS ->
DELETED | DELETE_FAILED. CREATE_FAILED and DELETED studios disappear after the retention delay,
with everything in them.

What makes a studio fail, beyond an armed fault (``faults``):
- an admin or user role of another account: ROLE_NOT_OWNED_BY_STUDIO_OWNER [inferred];
- a customer managed KMS key of another Region: ENCRYPTION_KEY_NOT_FOUND (keys are regional),
  of another account: ENCRYPTION_KEY_ACCESS_DENIED [inferred];
- deleting it while it has launch profiles, studio components or (its own) streaming images
  that are not deleted: DELETE_FAILED with STUDIO_WITH_LAUNCH_PROFILES_NOT_DELETED,
  STUDIO_WITH_STUDIO_COMPONENTS_NOT_DELETED, STUDIO_WITH_STREAMING_IMAGES_NOT_DELETED
  (checked when the deletion completes).

IAM Identity Center: a studio whose creation or update failed with AWS_SSO_NOT_ENABLED or
AWS_SSO_ACCESS_DENIED has no valid configuration (no ``ssoClientId``); only such a studio can
be repaired (anything else is the ValidationException the API documents), which gives it a new
IAM Identity Center application and makes it READY.

``studioUrl`` keeps the service's format, ``https://{studioName}.nimblestudio.{region}.amazonaws.com``:
it names the studio's portal, which greenroom does not serve.
"""
from __future__ import annotations

import re

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.lifecycle import Step, applies, revise, transition
from ...core.operations import operation
from ...core.store import Resources
from .common import (GONE_STATES, LAUNCH_PROFILE, REMOVE, STREAMING_IMAGE, STUDIO, STUDIO_COMPONENT,
    STUDIO_RECORD, TOKEN_REUSED, USABLE_STATES, errors, failed, find_studio, require_state, settle, status,
    take_fault)
from .streaming_images import add_built_in_images

LIST_PAGE_SIZE = 10  # ListStudios has no maxResults [inferred]

# A studio's lifecycle (core.lifecycle.Step: the state it leaves, what it becomes, after which delay).
CREATED = Step("CREATE_IN_PROGRESS", {"state": "READY", **status("STUDIO_CREATED")},
               delay="nimble.studio.create", stamp="updatedAt")
UPDATED = Step("UPDATE_IN_PROGRESS", {"state": "READY", **status("STUDIO_UPDATED")},
               delay="nimble.studio.update", stamp="updatedAt")
DELETED = Step("DELETE_IN_PROGRESS", delay="nimble.studio.delete", action="nimble.studio.finish-delete")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+")
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(?:key|alias)/[\w/.-]+")
SSO_FAILURES = frozenset({"AWS_SSO_NOT_ENABLED", "AWS_SSO_ACCESS_DENIED"})


def _role_account(ctx: RequestContext, field: str, value: str) -> str:
    found = ROLE_ARN.fullmatch(value)
    if found is None:
        raise errors.Validation(f"{field} must be the ARN of an IAM role "
                                f"(arn:aws:iam::<account>:role/<name>), not '{value}'.",
                                code="INVALID_ROLE_ARN")
    return found.group(1)


def _encryption(ctx: RequestContext, configuration: dict | None) -> dict:
    if not configuration:
        return {"keyType": "AWS_OWNED_KEY"}
    key_type, key_arn = configuration["keyType"], configuration.get("keyArn")
    if key_type == "AWS_OWNED_KEY":
        if key_arn:
            raise errors.Validation("keyArn is only allowed when keyType is CUSTOMER_MANAGED_KEY.",
                                    code="INVALID_ENCRYPTION_CONFIGURATION")
        return {"keyType": key_type}
    if not key_arn:
        raise errors.Validation("keyArn is required when keyType is CUSTOMER_MANAGED_KEY.",
                                code="INVALID_ENCRYPTION_CONFIGURATION")
    if KMS_KEY_ARN.fullmatch(key_arn) is None:
        raise errors.Validation(f"keyArn must be the ARN of a KMS key, not '{key_arn}'.",
                                code="INVALID_ENCRYPTION_CONFIGURATION")
    return {"keyType": key_type, "keyArn": key_arn}


def _setup_problem(ctx: RequestContext, studio: dict) -> dict | None:
    """Why this studio's configuration cannot work (as a status), or None."""
    for field in ("adminRoleArn", "userRoleArn"):
        if _role_account(ctx, field, studio[field]) != ctx.account:
            return status("ROLE_NOT_OWNED_BY_STUDIO_OWNER",
                          f"The role {studio[field]} is not owned by account {ctx.account}, which owns the studio")
    key_arn = studio["studioEncryptionConfiguration"].get("keyArn")
    if key_arn:
        key_region, key_account = KMS_KEY_ARN.fullmatch(key_arn).groups()
        if key_region != ctx.region:
            return status("ENCRYPTION_KEY_NOT_FOUND",
                          f"The encryption key {key_arn} could not be found in {ctx.region}")
        if key_account != ctx.account:
            return status("ENCRYPTION_KEY_ACCESS_DENIED",
                          f"Access to the encryption key {key_arn} was denied")
    return None


@operation("nimble", "CreateStudio")
@idempotent("clientToken", TOKEN_REUSED)
def create_studio(ctx: RequestContext, req: dict) -> dict:
    name = req["studioName"]
    for _, other in ctx.resources.list(STUDIO, where={"studioName": name}):
        if other["state"] not in GONE_STATES:
            raise errors.Conflict(f"A studio named {name} already exists ({other['studioId']}).",
                                  resourceId=other["studioId"], code="STUDIO_NAME_IN_USE")
    for field in ("adminRoleArn", "userRoleArn"):
        _role_account(ctx, field, req[field])
    suffix = ctx.ids.lower_alphanumeric(16)
    studio_id = f"{ctx.region}:stid-{suffix}"
    studio = {
        "studioId": studio_id,
        "arn": ctx.arn("nimble", f"studio/stid-{suffix}"),
        "studioName": name,
        "displayName": req["displayName"],
        "adminRoleArn": req["adminRoleArn"],
        "userRoleArn": req["userRoleArn"],
        "homeRegion": ctx.region,
        "studioUrl": f"https://{name}.nimblestudio.{ctx.region}.amazonaws.com",
        "studioEncryptionConfiguration": _encryption(ctx, req.get("studioEncryptionConfiguration")),
        "tags": req.get("tags") or {},
        "createdAt": ctx.now,
        "updatedAt": ctx.now,
        "state": "CREATE_IN_PROGRESS",
        **status("STUDIO_CREATE_IN_PROGRESS"),
        "_ssoValid": True,
        "_rev": 1,
        "_key": studio_id,
    }
    ctx.resources.insert(STUDIO, studio_id, studio)
    add_built_in_images(ctx, studio_id)
    failure = take_fault(ctx, "CreateStudio") or _setup_problem(ctx, studio)
    if failure:
        settle(ctx, CREATED, STUDIO, studio_id, studio, outcome={
            "state": "CREATE_FAILED", **failure, "_ssoValid": failure["statusCode"] not in SSO_FAILURES})
    else:
        settle(ctx, CREATED, STUDIO, studio_id, studio, outcome={"ssoClientId": ctx.ids.uuid()})
    return {"studio": STUDIO_RECORD.view(studio)}


STUDIO_RECORD.get_operation("nimble", "GetStudio", "studio",
                            lambda ctx, req: find_studio(ctx, req["studioId"]))


# Every studio of the account in the Region, DELETED and CREATE_FAILED ones too until they disappear.
STUDIO_RECORD.list_operation("nimble", "ListStudios", page_size=LIST_PAGE_SIZE)


@operation("nimble", "UpdateStudio")
@idempotent("clientToken", TOKEN_REUSED)
def update_studio(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    studio = find_studio(ctx, studio_id)
    require_state(studio, "studio", studio_id, USABLE_STATES, "update")
    changes = {field: req[field] for field in ("displayName", "adminRoleArn", "userRoleArn")
               if req.get(field) is not None}
    for field in ("adminRoleArn", "userRoleArn"):
        if field in changes:
            _role_account(ctx, field, changes[field])
    prior = {field: studio[field] for field in changes}
    studio.update(changes)
    studio.update(state="UPDATE_IN_PROGRESS", updatedAt=ctx.now, **status("STUDIO_UPDATE_IN_PROGRESS"))
    revise(studio)
    ctx.resources.update(STUDIO, studio_id, studio)
    failure = take_fault(ctx, "UpdateStudio") or _setup_problem(ctx, studio)
    outcome = None
    if failure:
        outcome = {"state": "UPDATE_FAILED", **failure, **prior}
        if failure["statusCode"] in SSO_FAILURES:
            outcome.update(_ssoValid=False, ssoClientId=None)
    settle(ctx, UPDATED, STUDIO, studio_id, studio, outcome=outcome)
    return {"studio": STUDIO_RECORD.view(studio)}


@operation("nimble", "DeleteStudio")
@idempotent("clientToken", TOKEN_REUSED)
def delete_studio(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    studio = find_studio(ctx, studio_id)
    require_state(studio, "studio", studio_id, USABLE_STATES | {"CREATE_FAILED"}, "delete")
    studio.update(state="DELETE_IN_PROGRESS", updatedAt=ctx.now, **status("STUDIO_DELETE_IN_PROGRESS"))
    revise(studio)
    ctx.resources.update(STUDIO, studio_id, studio)
    done_at = DELETED.schedule(ctx, STUDIO, studio_id, studio, fault=take_fault(ctx, "DeleteStudio"))
    REMOVE["DELETED"].schedule(ctx, STUDIO, studio_id, studio, start=done_at)
    return {"studio": STUDIO_RECORD.view(studio)}


# A studio's dependents, checked in this order when its deletion completes.
_DEPENDENTS = (
    (LAUNCH_PROFILE, "STUDIO_WITH_LAUNCH_PROFILES_NOT_DELETED"),
    (STUDIO_COMPONENT, "STUDIO_WITH_STUDIO_COMPONENTS_NOT_DELETED"),
    (STREAMING_IMAGE, "STUDIO_WITH_STREAMING_IMAGES_NOT_DELETED"),
)


@transition("nimble.studio.finish-delete")
def finish_studio_delete(resources: Resources, kind: str, studio_id: str, args: dict, due_at: float) -> None:
    studio = resources.get(kind, studio_id)
    if not applies(studio, args):
        return
    outcome = args.get("fault")
    for dependent_kind, code in _DEPENDENTS:
        if outcome:
            break
        for _, dependent in resources.list(dependent_kind, parent=studio_id):
            if dependent["state"] not in GONE_STATES and dependent.get("owner") != "amazon":
                outcome = status(code)
                break
    if outcome:
        studio.update(state="DELETE_FAILED", updatedAt=due_at, **outcome)
    else:
        studio.update(state="DELETED", updatedAt=due_at, **status("STUDIO_DELETED"))
    resources.update(kind, studio_id, studio)


@operation("nimble", "StartStudioSSOConfigurationRepair")
@idempotent("clientToken", TOKEN_REUSED)
def start_studio_sso_configuration_repair(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    studio = find_studio(ctx, studio_id)
    require_state(studio, "studio", studio_id,
                  {"READY", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"}, "repair")
    if studio.get("_ssoValid", True):
        raise errors.Validation(
            f"Studio {studio_id} already has a valid IAM Identity Center configuration; "
            "there is nothing to repair.", code="SSO_CONFIGURATION_VALID", resourceId=studio_id)
    studio.update(state="UPDATE_IN_PROGRESS", updatedAt=ctx.now,
                  **status("AWS_SSO_CONFIGURATION_REPAIR_IN_PROGRESS"))
    revise(studio)
    ctx.resources.update(STUDIO, studio_id, studio)
    failure = take_fault(ctx, "StartStudioSSOConfigurationRepair")
    settle(ctx, UPDATED, STUDIO, studio_id, studio, outcome=failed(failure, "UPDATE_FAILED") or {
        **status("AWS_SSO_CONFIGURATION_REPAIRED"), "ssoClientId": ctx.ids.uuid(), "_ssoValid": True})
    return {"studio": STUDIO_RECORD.view(studio)}
