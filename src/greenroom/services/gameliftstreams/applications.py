"""Applications: Create (INITIALIZED -> PROCESSING -> READY), Get, List, Update, Delete
(DELETING -> gone), and their replication to the locations of the stream groups they belong to.

- ReplicationStatuses: the application's own Region (its primary location) is REPLICATING
  until the application is READY, then COMPLETED. Associating the application with a stream
  group, or adding a location to a group it belongs to, adds REPLICATING entries for the
  group's other locations, COMPLETED after the application.replicate delay; removing the last
  such location drops the entry again. A location cannot host the application's sessions
  before its entry is COMPLETED.
- Nothing greenroom can observe makes an application fail (S3 access, modified sources), so
  ERROR is not reached.
- DeleteApplication [inferred errors]: INITIALIZED/PROCESSING/DELETING is a ConflictException;
  belonging to a stream group (as its default or not) or being streamed by a live session is a
  ValidationException, as the API reference says for stream groups.
"""
from __future__ import annotations

import re

from ...core.context import RequestContext
from ...core.idempotency import current, idempotent
from ...core.lifecycle import Moment, Step, applies, transition, update_fields
from ...core.operations import operation
from .common import (APPLICATION, APPLICATION_RECORD, DEFAULT_PAGE_SIZE, SERVICE, SESSION, STREAM_GROUP,
    tagging, errors, find_application)
from .session_lifecycle import place_waiting

# Runtime environments the API reference lists: Type -> Versions.
RUNTIME_ENVIRONMENTS = {
    "UBUNTU": ("22_04_LTS",),
    "WINDOWS": ("2022",),
    "PROTON": ("20260204", "20250516", "20241007", "20230704"),
}
WINDOWS_EXECUTABLE_SUFFIXES = (".exe", ".cmd", ".bat")
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?")

# An application's steps (core.lifecycle.Step): it is processed, then ready; one being deleted
# is gone after the delay.
PROCESS = Step("INITIALIZED", to={"Status": "PROCESSING"}, delay="gameliftstreams.application.initialize",
               field="Status", stamp="LastUpdatedAt", action="gameliftstreams.application.process")
READY = Step("PROCESSING", delay="gameliftstreams.application.process", field="Status",
             action="gameliftstreams.application.ready")
DELETED = Step("DELETING", delay="gameliftstreams.application.delete", field="Status",
               action="gameliftstreams.application.remove")


def describe(app: dict) -> dict:
    return APPLICATION_RECORD.view(app)


def _check_relative_path(member: str, path: str) -> None:
    """Paths are relative to ApplicationSourceUri and stay inside it."""
    parts = re.split(r"[\\/]", path)
    if path.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", path) or ".." in parts:
        raise errors.Validation(f"{member} {path!r} must be a path relative to the application's root folder.")


def _check_logging(paths: list[str], output_uri: str | None) -> None:
    for path in paths:
        _check_relative_path("ApplicationLogPaths entry", path)
    if paths and not output_uri:
        raise errors.Validation("ApplicationLogOutputUri is required when ApplicationLogPaths are set.")


@operation(SERVICE, "CreateApplication")
@idempotent("ClientToken", errors.Conflict,
            replay=current(APPLICATION, lambda first: first["Id"], lambda ctx, app: describe(app)))
def create_application(ctx: RequestContext, req: dict) -> dict:
    tagging.check(req.get("Tags") or {})
    runtime = req["RuntimeEnvironment"]
    versions = RUNTIME_ENVIRONMENTS[runtime["Type"]]
    if runtime["Version"] not in versions:
        raise errors.Validation(f"RuntimeEnvironment {runtime['Type']} has no version {runtime['Version']}; "
                                f"valid versions: {', '.join(versions)}.")
    if not _S3_URI.fullmatch(req["ApplicationSourceUri"]):
        raise errors.Validation("ApplicationSourceUri must be an Amazon S3 URI such as s3://bucket/prefix.")
    executable = req["ExecutablePath"]
    _check_relative_path("ExecutablePath", executable)
    if runtime["Type"] in ("WINDOWS", "PROTON") and not executable.lower().endswith(WINDOWS_EXECUTABLE_SUFFIXES):
        raise errors.Validation("ExecutablePath of a Windows application must name an .exe, .cmd or .bat file.")
    log_paths = req.get("ApplicationLogPaths", [])
    _check_logging(log_paths, req.get("ApplicationLogOutputUri"))

    app_id = "a-" + ctx.ids.alphanumeric(9)
    app = {
        "Arn": ctx.arn(SERVICE, f"application/{app_id}"),
        "Id": app_id,
        "Description": req["Description"],
        "RuntimeEnvironment": {"Type": runtime["Type"], "Version": runtime["Version"]},
        "ExecutablePath": executable,
        "ApplicationLogPaths": list(log_paths),
        "ApplicationSourceUri": req["ApplicationSourceUri"],
        "Status": "INITIALIZED",
        "ReplicationStatuses": [{"Location": ctx.region, "Status": "REPLICATING"}],
        "CreatedAt": ctx.now,
        "LastUpdatedAt": ctx.now,
        "AssociatedStreamGroups": [],
        "tags": dict(req.get("Tags") or {}),
    }
    if req.get("ApplicationLogOutputUri"):
        app["ApplicationLogOutputUri"] = req["ApplicationLogOutputUri"]
    ctx.resources.insert(APPLICATION, app_id, app)
    processing_at = PROCESS.schedule(ctx, APPLICATION, app_id, app)
    READY.schedule(ctx, APPLICATION, app_id, app, start=processing_at)
    return describe(app)


transition(PROCESS.action)(update_fields)   # sets PROCESS.to: nothing more


@transition(READY.action)
def become_ready(resources, kind, app_id, args, due_at) -> None:
    app = resources.get(APPLICATION, app_id)
    if not applies(app, args):
        return
    app.update(Status="READY", LastUpdatedAt=due_at)
    for status in app["ReplicationStatuses"]:
        if status["Location"] == resources.region:
            status["Status"] = "COMPLETED"
    resources.update(APPLICATION, app_id, app)


@operation(SERVICE, "GetApplication", read_only=True)
def get_application(ctx: RequestContext, req: dict) -> dict:
    return describe(find_application(ctx, req["Identifier"]))


@operation(SERVICE, "ListApplicationShaderCaches", read_only=True)
def list_application_shader_caches(ctx: RequestContext, req: dict) -> dict:
    """Shader caches hold the shaders an application's sessions compiled on the stream hosts'
    GPUs; greenroom runs no application and compiles none, so an application has none."""
    find_application(ctx, req["Identifier"])
    return {"Items": []}


APPLICATION_RECORD.list_operation(SERVICE, "ListApplications", default_size=DEFAULT_PAGE_SIZE)


@operation(SERVICE, "UpdateApplication")
def update_application(ctx: RequestContext, req: dict) -> dict:
    """Only Description, ApplicationLogPaths and ApplicationLogOutputUri can change; the runtime
    environment, executable and source are fixed at creation (the model has no member for them)."""
    app = find_application(ctx, req["Identifier"])
    if app["Status"] == "DELETING":
        raise errors.Validation(f"Application {app['Id']} is being deleted.")
    log_paths = req.get("ApplicationLogPaths", app["ApplicationLogPaths"])
    output_uri = req.get("ApplicationLogOutputUri", app.get("ApplicationLogOutputUri"))
    _check_logging(log_paths, output_uri)
    if "Description" in req:
        app["Description"] = req["Description"]
    app["ApplicationLogPaths"] = list(log_paths)
    if output_uri:
        app["ApplicationLogOutputUri"] = output_uri
    else:
        app.pop("ApplicationLogOutputUri", None)
    app["LastUpdatedAt"] = ctx.now
    ctx.resources.update(APPLICATION, app["Id"], app)
    return describe(app)


@operation(SERVICE, "DeleteApplication")
def delete_application(ctx: RequestContext, req: dict) -> dict:
    app = find_application(ctx, req["Identifier"])
    if app["Status"] not in ("READY", "ERROR"):
        raise errors.Conflict(f"Application {app['Id']} is {app['Status']}; only a READY or ERROR application "
                              "can be deleted.")
    if app["AssociatedStreamGroups"]:
        raise errors.Validation(f"Application {app['Id']} is associated with stream groups "
                                f"{', '.join(app['AssociatedStreamGroups'])}; disassociate it first.")
    if ctx.resources.list(SESSION, where={"_app_id": app["Id"], "_holds": True}, limit=1):
        raise errors.Validation(f"Application {app['Id']} is streaming in a stream session; "
                                "terminate its sessions first.")
    app.update(Status="DELETING", LastUpdatedAt=ctx.now)
    ctx.resources.update(APPLICATION, app["Id"], app)
    DELETED.schedule(ctx, APPLICATION, app["Id"], app)
    return {}


@transition(DELETED.action)
def remove_application(resources, kind, app_id, args, due_at) -> None:
    if applies(resources.get(APPLICATION, app_id), args):
        resources.delete(APPLICATION, app_id)


# --------------------------------------------------------------------------- replication

def replicate(ctx: RequestContext, app: dict, locations: list[str]) -> None:
    """Copy the application to locations it is not in yet (the caller saves ``app``)."""
    present = {status["Location"] for status in app["ReplicationStatuses"]}
    done_at = ctx.now + ctx.delay("gameliftstreams.application.replicate")
    for location in locations:
        if location in present:
            continue
        app["ReplicationStatuses"].append({"Location": location, "Status": "REPLICATING"})
        ctx.schedule_at(done_at, APPLICATION, app["Id"],
                                  "gameliftstreams.application.replicated",
                                  location=location)


def forget_locations(ctx: RequestContext, app: dict) -> None:
    """Drop replicas no associated stream group needs any more (the primary location stays)."""
    needed = {ctx.region}
    for group_arn in app["AssociatedStreamGroups"]:
        group = ctx.resources.get(STREAM_GROUP, group_arn.rsplit("/", 1)[1])
        if group is not None:
            needed.update(location["LocationName"] for location in group["_locations"]
                          if location["Status"] != "REMOVING")
    app["ReplicationStatuses"] = [status for status in app["ReplicationStatuses"]
                                  if status["Location"] in needed]


@transition("gameliftstreams.application.replicated")
def finish_replication(resources, kind, app_id, args, due_at) -> None:
    app = resources.get(APPLICATION, app_id)
    if app is None:
        return
    changed = False
    for status in app["ReplicationStatuses"]:
        if status["Location"] == args["location"] and status["Status"] == "REPLICATING":
            status["Status"] = "COMPLETED"
            changed = True
    if not changed:
        return
    resources.update(APPLICATION, app_id, app)
    # Sessions may have been waiting for the application to reach this location.
    scope = Moment(resources, due_at)
    for group_arn in app["AssociatedStreamGroups"]:
        place_waiting(scope, group_arn.rsplit("/", 1)[1])
