"""Launch profiles: CreateLaunchProfile, GetLaunchProfile, ListLaunchProfiles,
UpdateLaunchProfile, DeleteLaunchProfile, GetLaunchProfileDetails,
GetLaunchProfileInitialization.

States: CREATE_IN_PROGRESS -> READY | CREATE_FAILED; UPDATE_IN_PROGRESS -> READY |
UPDATE_FAILED (the prior configuration is kept); DELETE_IN_PROGRESS -> DELETED | DELETE_FAILED.

Checked when creation or an update completes (the service validates a launch profile
asynchronously, which is what ``validationResults`` report):
- subnet ids that are not subnet ids: INVALID_SUBNETS_PROVIDED;
- a streaming image that does not exist (or is being deleted): STREAMING_IMAGE_NOT_FOUND;
  one that is not READY yet (CREATE_IN_PROGRESS, CREATE_FAILED): STREAMING_IMAGE_NOT_READY.
Deleting a launch profile that still has streaming sessions that are not DELETED ends in
DELETE_FAILED with LAUNCH_PROFILE_WITH_STREAM_SESSIONS_NOT_DELETED.

Validation beyond the model (ValidationException):
- ``launchProfileProtocolVersions`` must be ["2021-03-31"], the only protocol version;
- at least one subnet (and at most 6, the model's limit), no repeated ids anywhere;
- 1-100 studio components of the studio (unknown ones: ResourceNotFoundException), at most one
  ACTIVE_DIRECTORY component [inferred], none being deleted;
- ``streamConfiguration``: 1-30 instance types, 1-20 images, clipboardMode (model);
  maxSessionLengthInMinutes 1-43200 (default 690); maxStoppedSessionLengthInMinutes 0-5760
  (default 0) and above 0 only with sessionPersistenceMode and automaticTerminationMode both
  ACTIVATED; automaticTerminationMode and volumeConfiguration only with sessionPersistenceMode
  ACTIVATED (then defaulting to DEACTIVATED and 500 GiB / 125 MiB/s / 3000 IOPS);
  sessionBackup mode AUTOMATIC only with sessionPersistenceMode ACTIVATED [inferred];
  maxBackupsToRetain 0-10 (default 0).
"""
from __future__ import annotations

import re

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.lifecycle import Step, applies, revise, transition
from ...core.operations import operation
from ...core.records import public
from ...core.store import Resources
from .common import (GONE_STATES, LAUNCH_PROFILE, LAUNCH_PROFILE_MEMBER, LAUNCH_PROFILE_RECORD, MISSING,
    PROTOCOL_VERSION, REMOVE, STREAMING_IMAGE, STREAMING_SESSION, STUDIO_COMPONENT, TOKEN_REUSED,
    USABLE_STATES, caller, errors, find_child, find_studio, insert, key, new_id, page_size, require_state,
    status, take_fault, usable_studio)

DEFAULT_PAGE_SIZE = 100
SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?")
DEFAULT_VOLUME = {"size": 500, "throughput": 125, "iops": 3000}
VALIDATION_TYPES = ("VALIDATE_ACTIVE_DIRECTORY_STUDIO_COMPONENT", "VALIDATE_SUBNET_ASSOCIATION",
                    "VALIDATE_NETWORK_ACL_ASSOCIATION", "VALIDATE_SECURITY_GROUP_ASSOCIATION")
PLATFORMS = ("LINUX", "WINDOWS")
LAUNCH_PURPOSE = re.compile(r"[A-Z0-9_]+")


# ------------------------------------------------------------------------------ validation

def stream_configuration(requested: dict) -> dict:
    """The stored (and answered) stream configuration, defaults filled in, after the rules."""
    persistence = requested.get("sessionPersistenceMode") or "DEACTIVATED"
    persistent = persistence == "ACTIVATED"
    termination = requested.get("automaticTerminationMode")
    max_stopped = requested.get("maxStoppedSessionLengthInMinutes") or 0
    backup = requested.get("sessionBackup") or {}
    for field in ("ec2InstanceTypes", "streamingImageIds"):
        values = requested[field]
        if len(set(values)) != len(values):
            raise errors.Validation(f"streamConfiguration.{field} must not repeat a value.", code="DUPLICATE_VALUE")
    if termination is not None and not persistent:
        raise errors.Validation("streamConfiguration.automaticTerminationMode is only allowed when "
                                "sessionPersistenceMode is ACTIVATED.", code="INVALID_STREAM_CONFIGURATION")
    if requested.get("volumeConfiguration") is not None and not persistent:
        raise errors.Validation("streamConfiguration.volumeConfiguration is only allowed when "
                                "sessionPersistenceMode is ACTIVATED.", code="INVALID_STREAM_CONFIGURATION")
    if max_stopped > 0 and not (persistent and termination == "ACTIVATED"):
        raise errors.Validation("streamConfiguration.maxStoppedSessionLengthInMinutes can only be above 0 "
                                "when sessionPersistenceMode and automaticTerminationMode are both ACTIVATED.",
                                code="INVALID_STREAM_CONFIGURATION")
    if backup.get("mode") == "AUTOMATIC" and not persistent:
        raise errors.Validation("streamConfiguration.sessionBackup.mode AUTOMATIC is only allowed when "
                                "sessionPersistenceMode is ACTIVATED.", code="INVALID_STREAM_CONFIGURATION")
    configuration = {
        "clipboardMode": requested["clipboardMode"],
        "ec2InstanceTypes": list(requested["ec2InstanceTypes"]),
        "streamingImageIds": list(requested["streamingImageIds"]),
        "maxSessionLengthInMinutes": requested.get("maxSessionLengthInMinutes") or 690,
        "maxStoppedSessionLengthInMinutes": max_stopped,
        "sessionPersistenceMode": persistence,
        "sessionBackup": {"mode": backup.get("mode") or "DEACTIVATED",
                          "maxBackupsToRetain": backup.get("maxBackupsToRetain") or 0},
    }
    if persistent:
        configuration["automaticTerminationMode"] = termination or "DEACTIVATED"
        configuration["volumeConfiguration"] = {**DEFAULT_VOLUME, **(requested.get("volumeConfiguration") or {})}
    if requested.get("sessionStorage") is not None:
        configuration["sessionStorage"] = requested["sessionStorage"]
    return configuration


def can_stop(configuration: dict) -> bool:
    """Whether sessions of this configuration can be STOPPED (rather than only terminated).

    maxStoppedSessionLengthInMinutes above 0 allows it; so does a persistent session whose
    automatic termination is DEACTIVATED, since the service documents that such a session
    "can remain in the STOPPED state indefinitely" [inferred]. Otherwise StopStreamingSession
    fails and a session that reaches its maximum length is terminated.
    """
    if configuration.get("maxStoppedSessionLengthInMinutes", 0) > 0:
        return True
    return (configuration.get("sessionPersistenceMode") == "ACTIVATED"
            and configuration.get("automaticTerminationMode") == "DEACTIVATED")


def _protocol_versions(versions: list[str]) -> list[str]:
    if not versions or set(versions) != {PROTOCOL_VERSION}:
        raise errors.Validation(f"launchProfileProtocolVersions must be [\"{PROTOCOL_VERSION}\"], the only "
                                f"launch profile protocol version.", code="INVALID_PROTOCOL_VERSION")
    return [PROTOCOL_VERSION]


def _subnets(subnets: list[str]) -> list[str]:
    if not subnets:
        raise errors.Validation("ec2SubnetIds must name at least one subnet.", code="MISSING_SUBNETS")
    if len(set(subnets)) != len(subnets):
        raise errors.Validation("ec2SubnetIds must not repeat a subnet.", code="DUPLICATE_VALUE")
    return list(subnets)


def _components(ctx: RequestContext, studio_id: str, component_ids: list[str]) -> list[str]:
    if len(set(component_ids)) != len(component_ids):
        raise errors.Validation("studioComponentIds must not repeat a component.", code="DUPLICATE_VALUE")
    directories = []
    for component_id in component_ids:
        component = ctx.resources.get(STUDIO_COMPONENT, key(studio_id, component_id))
        if component is None or component["state"] in GONE_STATES:
            raise errors.ResourceNotFound(MISSING.format("studio component", component_id), resourceId=component_id)
        if component["state"] == "DELETE_IN_PROGRESS":
            raise errors.Validation(f"Studio component {component_id} is being deleted.",
                                    code="INVALID_STATE", resourceId=component_id)
        if component["type"] == "ACTIVE_DIRECTORY":
            directories.append(component_id)
    if len(directories) > 1:
        raise errors.Validation("A launch profile can use at most one ACTIVE_DIRECTORY studio component, "
                                f"not {', '.join(directories)}.", code="INVALID_STUDIO_COMPONENTS")
    return list(component_ids)


def _validation_results(state: str, failed_type: str | None = None, code: str | None = None) -> list[dict]:
    results = []
    for kind in VALIDATION_TYPES:
        if state == "VALIDATION_IN_PROGRESS":
            result = ("VALIDATION_IN_PROGRESS", "VALIDATION_IN_PROGRESS", "The validation is in progress.")
        elif kind == failed_type:
            result = ("VALIDATION_FAILED", code, "The validation failed.")
        elif failed_type:
            result = ("VALIDATION_NOT_STARTED", "VALIDATION_NOT_STARTED", "The validation has not started.")
        else:
            result = ("VALIDATION_SUCCESS", "VALIDATION_SUCCESS", "The validation succeeded.")
        results.append(dict(zip(("state", "statusCode", "statusMessage"), result), type=kind))
    return results


# ------------------------------------------------------------------------------ lifecycle

# Creation and updates settle by validating the profile then (its own action); deletion checks
# what still uses it. The removal of what ends CREATE_FAILED or DELETED follows (common.REMOVE).
CREATED = Step("CREATE_IN_PROGRESS", delay="nimble.launch_profile.create", action="nimble.launch-profile.settle")
UPDATED = Step("UPDATE_IN_PROGRESS", delay="nimble.launch_profile.update", action="nimble.launch-profile.settle")
DELETED = Step("DELETE_IN_PROGRESS", delay="nimble.launch_profile.delete", action="nimble.launch-profile.finish-delete")


@transition("nimble.launch-profile.settle")
def settle_launch_profile(resources: Resources, kind: str, resource_key: str, args: dict, due_at: float) -> None:
    """Creation or an update completes: validate subnets and images now, then READY or failed."""
    profile = resources.get(kind, resource_key)
    if not applies(profile, args):
        return
    studio_id = resource_key.split("/", 1)[0]
    failure, results = args.get("fault"), _validation_results("VALIDATION_SUCCESS")
    if failure is None:
        bad = [s for s in profile["ec2SubnetIds"] if SUBNET_ID.fullmatch(s) is None]
        if bad:
            failure = status("INVALID_SUBNETS_PROVIDED", f"The subnets {', '.join(bad)} are invalid")
            results = _validation_results("", "VALIDATE_SUBNET_ASSOCIATION", "VALIDATION_FAILED_SUBNET_NOT_FOUND")
    if failure is None:
        for image_id in profile["streamConfiguration"]["streamingImageIds"]:
            image = resources.get(STREAMING_IMAGE, f"{studio_id}/{image_id}")
            if image is None or image["state"] in ("DELETED", "DELETE_IN_PROGRESS"):
                failure = status("STREAMING_IMAGE_NOT_FOUND", f"The streaming image {image_id} could not be found")
            elif image["state"] in ("CREATE_IN_PROGRESS", "CREATE_FAILED"):
                failure = status("STREAMING_IMAGE_NOT_READY", f"The streaming image {image_id} is not ready")
            if failure:
                break
    if failure:
        profile.update(args.get("prior") or {})
        profile.update(state=args["failed_state"], validationResults=results, **failure)
    else:
        profile.update(state="READY", validationResults=results, **args["success"])
    profile["updatedAt"] = due_at
    resources.update(kind, resource_key, profile)


@transition("nimble.launch-profile.finish-delete")
def finish_launch_profile_delete(resources: Resources, kind: str, resource_key: str, args: dict,
                                 due_at: float) -> None:
    profile = resources.get(kind, resource_key)
    if not applies(profile, args):
        return
    studio_id = resource_key.split("/", 1)[0]
    outcome = args.get("fault")
    if outcome is None and any(
        session["state"] != "DELETED"
        for _, session in resources.list(STREAMING_SESSION, parent=studio_id,
                                         where={"launchProfileId": profile["launchProfileId"]})
    ):
        outcome = status("LAUNCH_PROFILE_WITH_STREAM_SESSIONS_NOT_DELETED")
    if outcome:
        profile.update(state="DELETE_FAILED", **outcome)
    else:
        profile.update(state="DELETED", **status("LAUNCH_PROFILE_DELETED"))
    profile["updatedAt"] = due_at
    resources.update(kind, resource_key, profile)


# ------------------------------------------------------------------------------ operations

def find_launch_profile(ctx: RequestContext, studio_id: str, profile_id: str) -> dict:
    return find_child(ctx, LAUNCH_PROFILE, "launch profile", studio_id, profile_id)


@operation("nimble", "CreateLaunchProfile")
@idempotent("clientToken", TOKEN_REUSED)
def create_launch_profile(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    usable_studio(ctx, studio_id)
    profile_id = new_id(ctx)
    profile = {
        "launchProfileId": profile_id,
        "arn": ctx.arn("nimble", f"launch-profile/{profile_id}"),
        "name": req["name"],
        "description": req.get("description"),
        "ec2SubnetIds": _subnets(req["ec2SubnetIds"]),
        "launchProfileProtocolVersions": _protocol_versions(req["launchProfileProtocolVersions"]),
        "streamConfiguration": stream_configuration(req["streamConfiguration"]),
        "studioComponentIds": _components(ctx, studio_id, req["studioComponentIds"]),
        "tags": req.get("tags") or {},
        "createdAt": ctx.now, "createdBy": caller(ctx),
        "updatedAt": ctx.now, "updatedBy": caller(ctx),
        "state": "CREATE_IN_PROGRESS", **status("LAUNCH_PROFILE_CREATE_IN_PROGRESS"),
        "validationResults": _validation_results("VALIDATION_IN_PROGRESS"),
        "_rev": 1,
    }
    resource_key = key(studio_id, profile_id)
    insert(ctx, LAUNCH_PROFILE, resource_key, profile, parent=studio_id)
    done_at = CREATED.schedule(ctx, LAUNCH_PROFILE, resource_key, profile, success=status("LAUNCH_PROFILE_CREATED"),
                               failed_state="CREATE_FAILED", fault=take_fault(ctx, "CreateLaunchProfile"), prior={})
    REMOVE["CREATE_FAILED"].schedule(ctx, LAUNCH_PROFILE, resource_key, profile, start=done_at)
    return {"launchProfile": LAUNCH_PROFILE_RECORD.view(profile)}


LAUNCH_PROFILE_RECORD.get_operation("nimble", "GetLaunchProfile", "launchProfile",
                                    lambda ctx, req: find_launch_profile(ctx, req["studioId"], req["launchProfileId"]))


@operation("nimble", "ListLaunchProfiles", read_only=True)
def list_launch_profiles(ctx: RequestContext, req: dict) -> dict:
    """The studio's launch profiles; ``states`` filters by state, ``principalId`` keeps those
    the principal is a member of."""
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    states, principal = set(req.get("states") or []), req.get("principalId")

    def keep(profile: dict) -> bool:
        if states and profile["state"] not in states:
            return False
        return principal is None or ctx.resources.get(
            LAUNCH_PROFILE_MEMBER, key(studio_id, profile["launchProfileId"], principal)) is not None

    return ctx.list_answer(LAUNCH_PROFILE, req, view=LAUNCH_PROFILE_RECORD.view,
                           page_size=page_size(req, DEFAULT_PAGE_SIZE), parent=studio_id, keep=keep,
                           filters={"studioId": studio_id, "states": sorted(states), "principalId": principal})


@operation("nimble", "UpdateLaunchProfile")
@idempotent("clientToken", TOKEN_REUSED)
def update_launch_profile(ctx: RequestContext, req: dict) -> dict:
    studio_id, profile_id = req["studioId"], req["launchProfileId"]
    profile = find_launch_profile(ctx, studio_id, profile_id)
    require_state(profile, "launch profile", profile_id, USABLE_STATES, "update")
    changes = {field: req[field] for field in ("name", "description") if req.get(field) is not None}
    if req.get("launchProfileProtocolVersions") is not None:
        changes["launchProfileProtocolVersions"] = _protocol_versions(req["launchProfileProtocolVersions"])
    if req.get("streamConfiguration") is not None:
        changes["streamConfiguration"] = stream_configuration(req["streamConfiguration"])
    if req.get("studioComponentIds") is not None:
        changes["studioComponentIds"] = _components(ctx, studio_id, req["studioComponentIds"])
    prior = {field: profile.get(field) for field in changes}
    profile.update(changes)
    profile.update(state="UPDATE_IN_PROGRESS", updatedAt=ctx.now, updatedBy=caller(ctx),
                   validationResults=_validation_results("VALIDATION_IN_PROGRESS"),
                   **status("LAUNCH_PROFILE_UPDATE_IN_PROGRESS"))
    revise(profile)
    resource_key = key(studio_id, profile_id)
    ctx.resources.update(LAUNCH_PROFILE, resource_key, profile)
    UPDATED.schedule(ctx, LAUNCH_PROFILE, resource_key, profile, success=status("LAUNCH_PROFILE_UPDATED"),
                     failed_state="UPDATE_FAILED", fault=take_fault(ctx, "UpdateLaunchProfile"), prior=prior)
    return {"launchProfile": LAUNCH_PROFILE_RECORD.view(profile)}


@operation("nimble", "DeleteLaunchProfile")
@idempotent("clientToken", TOKEN_REUSED)
def delete_launch_profile(ctx: RequestContext, req: dict) -> dict:
    studio_id, profile_id = req["studioId"], req["launchProfileId"]
    profile = find_launch_profile(ctx, studio_id, profile_id)
    require_state(profile, "launch profile", profile_id, USABLE_STATES | {"CREATE_FAILED"}, "delete")
    profile.update(state="DELETE_IN_PROGRESS", updatedAt=ctx.now, updatedBy=caller(ctx),
                   **status("LAUNCH_PROFILE_DELETE_IN_PROGRESS"))
    revise(profile)
    resource_key = key(studio_id, profile_id)
    ctx.resources.update(LAUNCH_PROFILE, resource_key, profile)
    done_at = DELETED.schedule(ctx, LAUNCH_PROFILE, resource_key, profile, fault=take_fault(ctx, "DeleteLaunchProfile"))
    REMOVE["DELETED"].schedule(ctx, LAUNCH_PROFILE, resource_key, profile, start=done_at)
    return {"launchProfile": LAUNCH_PROFILE_RECORD.view(profile)}


def component_summary(component: dict) -> dict:
    return {field: component.get(field) for field in (
        "studioComponentId", "name", "description", "type", "subtype",
        "createdAt", "createdBy", "updatedAt", "updatedBy")}


@operation("nimble", "GetLaunchProfileDetails", read_only=True)
def get_launch_profile_details(ctx: RequestContext, req: dict) -> dict:
    """The launch profile with its streaming images and summaries of its studio components
    (those that still exist)."""
    studio_id = req["studioId"]
    profile = find_launch_profile(ctx, studio_id, req["launchProfileId"])
    images = [ctx.resources.get(STREAMING_IMAGE, key(studio_id, image_id))
              for image_id in profile["streamConfiguration"]["streamingImageIds"]]
    components = [ctx.resources.get(STUDIO_COMPONENT, key(studio_id, component_id))
                  for component_id in profile["studioComponentIds"]]
    return {
        "launchProfile": profile,
        "streamingImages": [image for image in images if image is not None],
        "studioComponentSummaries": [component_summary(c) for c in components if c is not None],
    }


@operation("nimble", "GetLaunchProfileInitialization", read_only=True)
def get_launch_profile_initialization(ctx: RequestContext, req: dict) -> dict:
    """What a workstation of ``platform`` needs to join the launch profile: its Active
    Directory, security groups and the initialization scripts of its studio components for
    that platform, split by run context.

    The client's ``launchProfileProtocolVersions`` must include the launch profile's;
    ``platform`` must be LINUX or WINDOWS and ``launchPurpose`` upper-case letters, digits and
    underscores (ValidationException otherwise).
    """
    studio_id, profile_id = req["studioId"], req["launchProfileId"]
    profile = find_launch_profile(ctx, studio_id, profile_id)
    require_state(profile, "launch profile", profile_id, USABLE_STATES, "initialize")
    platform, purpose = req["platform"], req["launchPurpose"]
    if platform not in PLATFORMS:
        raise errors.Validation(f"platform must be LINUX or WINDOWS, not '{platform}'.", code="INVALID_PLATFORM")
    if LAUNCH_PURPOSE.fullmatch(purpose) is None or len(purpose) > 64:
        raise errors.Validation(f"launchPurpose must be 1-64 upper-case letters, digits or underscores, "
                                f"not '{purpose}'.", code="INVALID_LAUNCH_PURPOSE")
    if PROTOCOL_VERSION not in (req.get("launchProfileProtocolVersions") or []):
        raise errors.Validation(f"The client must support launch profile protocol version {PROTOCOL_VERSION}.",
                                code="UNSUPPORTED_PROTOCOL_VERSION")
    initialization = {
        "launchProfileId": profile_id, "name": profile["name"], "platform": platform,
        "launchPurpose": purpose, "launchProfileProtocolVersion": PROTOCOL_VERSION,
        "systemInitializationScripts": [], "userInitializationScripts": [],
    }
    security_groups: list[str] = []
    for component_id in profile["studioComponentIds"]:
        component = ctx.resources.get(STUDIO_COMPONENT, key(studio_id, component_id))
        if component is None or component["state"] in GONE_STATES:
            continue
        for group in component.get("ec2SecurityGroupIds") or []:
            if group not in security_groups:
                security_groups.append(group)
        if component["type"] == "ACTIVE_DIRECTORY":
            directory = component["configuration"]["activeDirectoryConfiguration"]
            initialization["activeDirectory"] = {
                "studioComponentId": component_id, "studioComponentName": component["name"],
                **{field: directory[field] for field in
                   ("directoryId", "organizationalUnitDistinguishedName", "computerAttributes")
                   if directory.get(field) is not None},
            }
        for script in component.get("initializationScripts") or []:
            if script["platform"] != platform or script.get("launchProfileProtocolVersion", PROTOCOL_VERSION) != PROTOCOL_VERSION:
                continue
            target = ("systemInitializationScripts" if script["runContext"] == "SYSTEM_INITIALIZATION"
                      else "userInitializationScripts")
            initialization[target].append({
                "studioComponentId": component_id, "studioComponentName": component["name"],
                "script": script["script"],
                **{field: component[field] for field in ("runtimeRoleArn", "secureInitializationRoleArn")
                   if component.get(field)},
            })
    if security_groups:
        initialization["ec2SecurityGroupIds"] = security_groups
    return {"launchProfileInitialization": public(initialization)}
