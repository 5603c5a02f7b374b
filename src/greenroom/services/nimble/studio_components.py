"""Studio components: CreateStudioComponent, GetStudioComponent, ListStudioComponents,
UpdateStudioComponent, DeleteStudioComponent.

States: CREATE_IN_PROGRESS -> READY | CREATE_FAILED; UPDATE_IN_PROGRESS -> READY |
UPDATE_FAILED (the prior configuration is kept); DELETE_IN_PROGRESS -> DELETED | DELETE_FAILED.

Rules beyond the model, each a ValidationException [inferred from the API reference]:
- ``configuration`` is a union: at most one member, and the one that matches ``type``
  (ACTIVE_DIRECTORY: activeDirectoryConfiguration, SHARED_FILE_SYSTEM:
  sharedFileSystemConfiguration, COMPUTE_FARM: computeFarmConfiguration, LICENSE_SERVICE:
  licenseServiceConfiguration), required for those types; a CUSTOM component has none;
- ``subtype`` fits ``type``: AWS_MANAGED_MICROSOFT_AD only for ACTIVE_DIRECTORY,
  AMAZON_FSX_FOR_WINDOWS and AMAZON_FSX_FOR_LUSTRE only for SHARED_FILE_SYSTEM, CUSTOM for any;
- an Active Directory configuration names its directory (``d-`` and 10 hex digits);
- initialization scripts say their ``platform``, ``runContext`` and ``script``;
- script parameter keys are unique; security groups look like ``sg-...``; role ARNs are IAM
  role ARNs.
A second ACTIVE_DIRECTORY component for the same directory fails to create with
ACTIVE_DIRECTORY_ALREADY_EXISTS. A component cannot be deleted while a launch profile that is
not deleted uses it (ConflictException [inferred]).
"""
from __future__ import annotations

import re

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.lifecycle import revise
from ...core.operations import operation
from .common import (lifecycle_steps, GONE_STATES, LAUNCH_PROFILE, STUDIO_COMPONENT, STUDIO_COMPONENT_RECORD, TOKEN_REUSED,
    USABLE_STATES, caller, errors, failed, find_child, find_studio, insert, key, new_id, page_size,
    require_state, settle, status, take_fault, usable_studio)

DEFAULT_PAGE_SIZE = 50  # the most a StudioComponentList holds
CONFIGURATION_FOR_TYPE = {
    "ACTIVE_DIRECTORY": "activeDirectoryConfiguration",
    "SHARED_FILE_SYSTEM": "sharedFileSystemConfiguration",
    "COMPUTE_FARM": "computeFarmConfiguration",
    "LICENSE_SERVICE": "licenseServiceConfiguration",
    "CUSTOM": None,
}
SUBTYPE_TYPES = {
    "AWS_MANAGED_MICROSOFT_AD": {"ACTIVE_DIRECTORY"},
    "AMAZON_FSX_FOR_WINDOWS": {"SHARED_FILE_SYSTEM"},
    "AMAZON_FSX_FOR_LUSTRE": {"SHARED_FILE_SYSTEM"},
    "CUSTOM": set(CONFIGURATION_FOR_TYPE),
}
DIRECTORY_ID = re.compile(r"d-[0-9a-f]{10}")
SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8}(?:[0-9a-f]{9})?")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
EDITABLE = ("name", "description", "type", "subtype", "configuration", "ec2SecurityGroupIds",
            "initializationScripts", "scriptParameters", "runtimeRoleArn",
            "secureInitializationRoleArn")

# Its lifecycle (core.lifecycle.Step): create, update and delete settle after their delays.
CREATED, UPDATED, DELETED = lifecycle_steps("studio_component", "STUDIO_COMPONENT_CREATED", "STUDIO_COMPONENT_UPDATED", "STUDIO_COMPONENT_DELETED")



def check_component(component: dict) -> None:
    """The rules beyond the model, on a component as it would be stored."""
    kind, subtype = component["type"], component.get("subtype")
    configuration = component.get("configuration") or {}
    given = [name for name, value in configuration.items() if value is not None]
    if len(given) > 1:
        raise errors.Validation(f"configuration must set exactly one of its members, not {', '.join(sorted(given))}.",
                                code="INVALID_CONFIGURATION")
    expected = CONFIGURATION_FOR_TYPE[kind]
    if expected is None and given:
        raise errors.Validation(f"A CUSTOM studio component takes no configuration, but {given[0]} was given.",
                                code="INVALID_CONFIGURATION")
    if expected is not None and given != [expected]:
        raise errors.Validation(f"A {kind} studio component needs configuration.{expected}"
                                + (f", not {given[0]}." if given else "."), code="INVALID_CONFIGURATION")
    if subtype is not None and kind not in SUBTYPE_TYPES[subtype]:
        raise errors.Validation(f"Subtype {subtype} does not fit a {kind} studio component.",
                                code="INVALID_SUBTYPE")
    if kind == "ACTIVE_DIRECTORY":
        directory = configuration[expected].get("directoryId")
        if not directory or DIRECTORY_ID.fullmatch(directory) is None:
            raise errors.Validation("activeDirectoryConfiguration.directoryId must name a directory "
                                    f"(d-xxxxxxxxxx), not '{directory}'.", code="INVALID_CONFIGURATION")
    for index, script in enumerate(component.get("initializationScripts") or [], start=1):
        missing = [field for field in ("platform", "runContext", "script") if not script.get(field)]
        if missing:
            raise errors.Validation(f"initializationScripts.{index} needs {', '.join(missing)}.",
                                    code="INVALID_INITIALIZATION_SCRIPT")
    keys = [parameter.get("key") for parameter in component.get("scriptParameters") or []]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise errors.Validation(f"scriptParameters repeats the key {repeated[0]}.", code="DUPLICATE_SCRIPT_PARAMETER")
    for group in component.get("ec2SecurityGroupIds") or []:
        if SECURITY_GROUP_ID.fullmatch(group) is None:
            raise errors.Validation(f"'{group}' is not a security group id (sg-...).", code="INVALID_SECURITY_GROUP")
    for field in ("runtimeRoleArn", "secureInitializationRoleArn"):
        if component.get(field) and ROLE_ARN.fullmatch(component[field]) is None:
            raise errors.Validation(f"{field} must be the ARN of an IAM role, not '{component[field]}'.",
                                    code="INVALID_ROLE_ARN")


def find_component(ctx: RequestContext, studio_id: str, component_id: str) -> dict:
    return find_child(ctx, STUDIO_COMPONENT, "studio component", studio_id, component_id)


def _duplicate_directory(ctx: RequestContext, studio_id: str, component: dict) -> bool:
    if component["type"] != "ACTIVE_DIRECTORY":
        return False
    directory = component["configuration"]["activeDirectoryConfiguration"]["directoryId"]
    return any(
        other["studioComponentId"] != component["studioComponentId"]
        and other["state"] not in GONE_STATES and other["type"] == "ACTIVE_DIRECTORY"
        and other["configuration"]["activeDirectoryConfiguration"]["directoryId"] == directory
        for _, other in ctx.resources.list(STUDIO_COMPONENT, parent=studio_id)
    )


@operation("nimble", "CreateStudioComponent")
@idempotent("clientToken", TOKEN_REUSED)
def create_studio_component(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    usable_studio(ctx, studio_id)
    component_id = new_id(ctx)
    component = {
        "studioComponentId": component_id,
        "arn": ctx.arn("nimble", f"studio-component/{component_id}"),
        **{field: req[field] for field in EDITABLE if req.get(field) is not None},
        "tags": req.get("tags") or {},
        "createdAt": ctx.now, "createdBy": caller(ctx),
        "updatedAt": ctx.now, "updatedBy": caller(ctx),
        "state": "CREATE_IN_PROGRESS", **status("STUDIO_COMPONENT_CREATE_IN_PROGRESS"),
        "_rev": 1,
    }
    check_component(component)
    resource_key = key(studio_id, component_id)
    failure = take_fault(ctx, "CreateStudioComponent")
    if failure is None and _duplicate_directory(ctx, studio_id, component):
        failure = status("ACTIVE_DIRECTORY_ALREADY_EXISTS")
    insert(ctx, STUDIO_COMPONENT, resource_key, component, parent=studio_id)
    settle(ctx, CREATED, STUDIO_COMPONENT, resource_key, component, outcome=failed(failure, "CREATE_FAILED"))
    return {"studioComponent": STUDIO_COMPONENT_RECORD.view(component)}


STUDIO_COMPONENT_RECORD.get_operation("nimble", "GetStudioComponent", "studioComponent",
                                      lambda ctx, req: find_component(ctx, req["studioId"], req["studioComponentId"]))


@operation("nimble", "ListStudioComponents", read_only=True)
def list_studio_components(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    states, types = set(req.get("states") or []), set(req.get("types") or [])
    return ctx.list_answer(STUDIO_COMPONENT, req, view=STUDIO_COMPONENT_RECORD.view,
                           page_size=page_size(req, DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE), parent=studio_id,
                           keep=lambda c: (not states or c["state"] in states) and (not types or c["type"] in types),
                           filters={"studioId": studio_id, "states": sorted(states), "types": sorted(types)})


@operation("nimble", "UpdateStudioComponent")
@idempotent("clientToken", TOKEN_REUSED)
def update_studio_component(ctx: RequestContext, req: dict) -> dict:
    studio_id, component_id = req["studioId"], req["studioComponentId"]
    component = find_component(ctx, studio_id, component_id)
    require_state(component, "studio component", component_id, USABLE_STATES, "update")
    changes = {field: req[field] for field in EDITABLE if req.get(field) is not None}
    prior = {field: component.get(field) for field in EDITABLE}
    if "type" in changes and "configuration" not in changes and changes["type"] != component["type"]:
        component.pop("configuration", None)  # a new type needs its own configuration
    check_component({**component, **changes})
    component.update(changes)
    component.update(state="UPDATE_IN_PROGRESS", updatedAt=ctx.now, updatedBy=caller(ctx),
                     **status("STUDIO_COMPONENT_UPDATE_IN_PROGRESS"))
    revise(component)
    resource_key = key(studio_id, component_id)
    ctx.resources.update(STUDIO_COMPONENT, resource_key, component)
    failure = take_fault(ctx, "UpdateStudioComponent")
    if failure is None and _duplicate_directory(ctx, studio_id, component):
        failure = status("ACTIVE_DIRECTORY_ALREADY_EXISTS")
    settle(ctx, UPDATED, STUDIO_COMPONENT, resource_key, component,
           outcome={"state": "UPDATE_FAILED", **failure, **prior} if failure else None)
    return {"studioComponent": STUDIO_COMPONENT_RECORD.view(component)}


@operation("nimble", "DeleteStudioComponent")
@idempotent("clientToken", TOKEN_REUSED)
def delete_studio_component(ctx: RequestContext, req: dict) -> dict:
    studio_id, component_id = req["studioId"], req["studioComponentId"]
    component = find_component(ctx, studio_id, component_id)
    require_state(component, "studio component", component_id, USABLE_STATES | {"CREATE_FAILED"}, "delete")
    users = [profile["launchProfileId"]
             for _, profile in ctx.resources.list(LAUNCH_PROFILE, parent=studio_id)
             if profile["state"] not in GONE_STATES and component_id in profile["studioComponentIds"]]
    if users:
        raise errors.Conflict(f"Studio component {component_id} is used by launch profiles {', '.join(users)}; "
                              "remove it from them or delete them first.", resourceId=component_id,
                              code="RESOURCE_IN_USE")
    component.update(state="DELETE_IN_PROGRESS", updatedAt=ctx.now, updatedBy=caller(ctx),
                     **status("STUDIO_COMPONENT_DELETE_IN_PROGRESS"))
    revise(component)
    resource_key = key(studio_id, component_id)
    ctx.resources.update(STUDIO_COMPONENT, resource_key, component)
    failure = take_fault(ctx, "DeleteStudioComponent")
    settle(ctx, DELETED, STUDIO_COMPONENT, resource_key, component, outcome=failed(failure, "DELETE_FAILED"))
    return {"studioComponent": STUDIO_COMPONENT_RECORD.view(component)}
