"""Stream groups: Create (ACTIVATING -> ACTIVE), Get, List, Update, Add/RemoveStreamGroupLocations
(UPDATING_LOCATIONS), Associate/DisassociateApplications, Delete (DELETING -> gone), expiry.

- The primary location is the Region the group is created in. When LocationConfigurations does
  not mention it, it gets always-on capacity of one instance (the tenancy of the stream class),
  the default the API reference once documented [inferred]. A location named in
  LocationConfigurations must state a capacity.
- Update, Add/RemoveStreamGroupLocations and Associate/DisassociateApplications need an ACTIVE
  group, StartStreamSession too; otherwise they answer ValidationException (the error every one
  of them models) [inferred]. An EXPIRED group (ExpiresAt, 365 days after creation) therefore
  takes no updates, locations, associations or new sessions; Get, List and Delete still work.
  Groups older than 180 days take no new associations.
- AddStreamGroupLocations answers the added locations' states; Associate/Disassociate answer
  the applications of the request that were (dis)associated [inferred].
- The default application: the first one associated when the group has none; disassociating
  it makes the earliest remaining association the default [inferred order].
- Deleting a group ends its live sessions (TERMINATED apiTerminated [inferred]) and drops its
  associations at once; the group and its sessions are gone after the streamgroup.delete delay.
  Deleting a group that is already DELETING is a ConflictException [inferred].
- ERROR / ACTIVE_WITH_ERRORS (no available instances) cannot happen here: capacity is unlimited.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.idempotency import current, idempotent
from ...core.lifecycle import Moment, Step, applies, transition
from ...core.operations import operation
from . import capacity
from .applications import forget_locations, replicate
from .common import (APPLICATION, DEFAULT_PAGE_SIZE, SERVICE, SESSION, STREAM_GROUP, STREAM_GROUP_RECORD,
    tagging, errors, find_application, find_stream_group)
from .session_lifecycle import FINAL, end_session, place_waiting

NO_NEW_ASSOCIATIONS_AFTER_SECONDS = 180 * 86400

# A stream group's steps (core.lifecycle.Step): it activates, expires (in any status but
# DELETING: the action checks that; a timer of its own, so a lane), and adding or removing locations settles after its delay.
ACTIVATE = Step("ACTIVATING", delay="gameliftstreams.streamgroup.activate", field="Status",
                action="gameliftstreams.streamgroup.activated")
EXPIRE = Step(None, delay="gameliftstreams.streamgroup.expire", field="Status", lane="expiry",
              action="gameliftstreams.streamgroup.expired")
LOCATIONS_SETTLED = "gameliftstreams.streamgroup.locations_settled"
LOCATIONS_ADDED = Step("UPDATING_LOCATIONS", delay="gameliftstreams.streamgroup.location.activate",
                       field="Status", action=LOCATIONS_SETTLED)
LOCATIONS_REMOVED = Step("UPDATING_LOCATIONS", delay="gameliftstreams.streamgroup.location.remove",
                         field="Status", action=LOCATIONS_SETTLED)


def describe(ctx: RequestContext, group: dict) -> dict:
    return {**STREAM_GROUP_RECORD.view(group), "LocationStates": [
        capacity.location_state(ctx.resources, group["Id"], location) for location in group["_locations"]
    ]}


def require_active(group: dict, action: str) -> None:
    if group["Status"] != "ACTIVE":
        raise errors.Validation(f"Stream group {group['Id']} is {group['Status']}; it must be ACTIVE to {action}.")


def _application_ready(app: dict) -> None:
    if app["Status"] != "READY":
        raise errors.Validation(f"Application {app['Id']} is {app['Status']}; it must be READY.")


def _associate(ctx: RequestContext, group: dict, app: dict) -> bool:
    """Link an application and a group (the caller saves the group); False if already linked."""
    if app["Arn"] in group["AssociatedApplications"]:
        return False
    group["AssociatedApplications"].append(app["Arn"])
    if not group.get("DefaultApplication"):
        group["DefaultApplication"] = {"Id": app["Id"], "Arn": app["Arn"]}
    app["AssociatedStreamGroups"].append(group["Arn"])
    replicate(ctx, app, [location["LocationName"] for location in group["_locations"]
                         if location["Status"] != "REMOVING"])
    app["LastUpdatedAt"] = ctx.now
    ctx.resources.update(APPLICATION, app["Id"], app)
    return True


def _disassociate(ctx: RequestContext, group: dict, app: dict) -> bool:
    if app["Arn"] not in group["AssociatedApplications"]:
        return False
    group["AssociatedApplications"].remove(app["Arn"])
    if (group.get("DefaultApplication") or {}).get("Arn") == app["Arn"]:
        group.pop("DefaultApplication", None)
        if group["AssociatedApplications"]:
            arn = group["AssociatedApplications"][0]
            group["DefaultApplication"] = {"Id": arn.rsplit("/", 1)[1], "Arn": arn}
    if group["Arn"] in app["AssociatedStreamGroups"]:
        app["AssociatedStreamGroups"].remove(group["Arn"])
    forget_locations(ctx, app)
    app["LastUpdatedAt"] = ctx.now
    ctx.resources.update(APPLICATION, app["Id"], app)
    return True


@operation(SERVICE, "CreateStreamGroup")
@idempotent("ClientToken", errors.Conflict,
            replay=current(STREAM_GROUP, lambda first: first["Id"], lambda ctx, group: describe(ctx, group)))
def create_stream_group(ctx: RequestContext, req: dict) -> dict:
    tagging.check(req.get("Tags") or {})
    stream_class = req["StreamClass"]
    default_app = None
    if req.get("DefaultApplicationIdentifier"):
        default_app = find_application(ctx, req["DefaultApplicationIdentifier"])
        _application_ready(default_app)
    locations = capacity.configure(req.get("LocationConfigurations", []), stream_class, {}, new_locations=True)
    primary = locations.pop(ctx.region, None) or {
        "LocationName": ctx.region, "AlwaysOnCapacity": capacity.tenancy(stream_class), "Status": "ACTIVATING",
    }
    group_id = "sg-" + ctx.ids.alphanumeric(9)
    expire_delay = ctx.delay("gameliftstreams.streamgroup.expire")
    group = {
        "Arn": ctx.arn(SERVICE, f"streamgroup/{group_id}"),
        "Id": group_id,
        "Description": req["Description"],
        "StreamClass": stream_class,
        "Status": "ACTIVATING",
        "CreatedAt": ctx.now,
        "LastUpdatedAt": ctx.now,
        "ExpiresAt": ctx.now + expire_delay,
        "AssociatedApplications": [],
        "_locations": [primary, *locations.values()],
        "tags": dict(req.get("Tags") or {}),
    }
    if default_app is not None:
        _associate(ctx, group, default_app)
    ctx.resources.insert(STREAM_GROUP, group_id, group)
    ACTIVATE.schedule(ctx, STREAM_GROUP, group_id, group)
    EXPIRE.schedule(ctx, STREAM_GROUP, group_id, group)
    return describe(ctx, group)


@transition(EXPIRE.action)
def expired(resources, kind, group_id, args, due_at) -> None:
    group = resources.get(STREAM_GROUP, group_id)
    if applies(group, args) and group["Status"] != "DELETING":
        resources.update(STREAM_GROUP, group_id, {**group, "Status": "EXPIRED", "LastUpdatedAt": due_at})


@operation(SERVICE, "GetStreamGroup", read_only=True)
def get_stream_group(ctx: RequestContext, req: dict) -> dict:
    return describe(ctx, find_stream_group(ctx, req["Identifier"]))


STREAM_GROUP_RECORD.list_operation(SERVICE, "ListStreamGroups", default_size=DEFAULT_PAGE_SIZE)


@operation(SERVICE, "UpdateStreamGroup")
def update_stream_group(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    require_active(group, "be updated")
    if req.get("DefaultApplicationIdentifier"):
        app = find_application(ctx, req["DefaultApplicationIdentifier"])
        _application_ready(app)
        if app["Arn"] not in group["AssociatedApplications"]:
            raise errors.Validation(f"Application {app['Id']} is not associated with stream group {group['Id']}; "
                                    "associate it with AssociateApplications first.")
        group["DefaultApplication"] = {"Id": app["Id"], "Arn": app["Arn"]}
    if req.get("LocationConfigurations"):
        existing = {location["LocationName"]: location for location in group["_locations"]}
        for config in req["LocationConfigurations"]:
            status = existing.get(config["LocationName"], {}).get("Status")
            if status is not None and status != "ACTIVE":
                raise errors.Validation(f"Location {config['LocationName']} is {status}; its capacity can change "
                                        "once it is ACTIVE.")
        merged = capacity.configure(req["LocationConfigurations"], group["StreamClass"], existing,
                                    new_locations=False)
        group["_locations"] = list(merged.values())
    if "Description" in req:
        group["Description"] = req["Description"]
    group["LastUpdatedAt"] = ctx.now
    ctx.resources.update(STREAM_GROUP, group["Id"], group)
    place_waiting(ctx, group["Id"])  # more capacity may free a waiting session
    return describe(ctx, ctx.resources.get(STREAM_GROUP, group["Id"]))


@operation(SERVICE, "AddStreamGroupLocations")
def add_stream_group_locations(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    require_active(group, "add locations")
    existing = {location["LocationName"]: location for location in group["_locations"]}
    for config in req["LocationConfigurations"]:
        if config["LocationName"] in existing:
            raise errors.Validation(f"Location {config['LocationName']} is already a location of stream group "
                                    f"{group['Id']}; change its capacity with UpdateStreamGroup.")
    added = capacity.configure(req["LocationConfigurations"], group["StreamClass"], {}, new_locations=True)
    group["_locations"].extend(added.values())
    group.update(Status="UPDATING_LOCATIONS", LastUpdatedAt=ctx.now)
    ctx.resources.update(STREAM_GROUP, group["Id"], group)
    for app_arn in group["AssociatedApplications"]:
        app = ctx.resources.get(APPLICATION, app_arn.rsplit("/", 1)[1])
        if app is not None:
            replicate(ctx, app, list(added))
            ctx.resources.update(APPLICATION, app["Id"], app)
    LOCATIONS_ADDED.schedule(ctx, STREAM_GROUP, group["Id"], group)
    return {"Identifier": group["Arn"], "Locations": [
        capacity.location_state(ctx.resources, group["Id"], location)
        for location in group["_locations"] if location["LocationName"] in added
    ]}


@operation(SERVICE, "RemoveStreamGroupLocations")
def remove_stream_group_locations(ctx: RequestContext, req: dict) -> dict:
    """The primary location cannot be removed; sessions already running in a removed location
    go on until they end [inferred]."""
    group = find_stream_group(ctx, req["Identifier"])
    require_active(group, "remove locations")
    by_name = {location["LocationName"]: location for location in group["_locations"]}
    for name in req["Locations"]:
        if name not in by_name:
            raise errors.Validation(f"Location {name} is not a location of stream group {group['Id']}.")
        if name == group["_locations"][0]["LocationName"]:
            raise errors.Validation(f"Location {name} is the primary location of stream group {group['Id']} "
                                    "and cannot be removed; set its capacity to 0 instead.")
    for name in req["Locations"]:
        by_name[name]["Status"] = "REMOVING"
    group.update(Status="UPDATING_LOCATIONS", LastUpdatedAt=ctx.now)
    ctx.resources.update(STREAM_GROUP, group["Id"], group)
    for app_arn in group["AssociatedApplications"]:
        app = ctx.resources.get(APPLICATION, app_arn.rsplit("/", 1)[1])
        if app is not None:
            forget_locations(ctx, app)
            ctx.resources.update(APPLICATION, app["Id"], app)
    LOCATIONS_REMOVED.schedule(ctx, STREAM_GROUP, group["Id"], group)
    return {}


@transition(ACTIVATE.action)
@transition(LOCATIONS_SETTLED)
def locations_settled(resources, kind, group_id, args, due_at) -> None:
    """The group is ACTIVE (created, or its locations changed): added locations become ACTIVE,
    removed ones disappear. Only one change is ever under way: Add/RemoveStreamGroupLocations
    need an ACTIVE group (and a new one has no sessions waiting yet)."""
    group = resources.get(STREAM_GROUP, group_id)
    if not applies(group, args):
        return
    group["_locations"] = [location for location in group["_locations"] if location["Status"] != "REMOVING"]
    for location in group["_locations"]:
        if location["Status"] == "ACTIVATING":
            location["Status"] = "ACTIVE"
    group.update(Status="ACTIVE", LastUpdatedAt=due_at)
    resources.update(STREAM_GROUP, group_id, group)
    place_waiting(Moment(resources, due_at), group_id)


@operation(SERVICE, "AssociateApplications")
def associate_applications(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    require_active(group, "associate applications")
    if ctx.now - group["CreatedAt"] > NO_NEW_ASSOCIATIONS_AFTER_SECONDS:
        raise errors.Validation(f"Stream group {group['Id']} is older than 180 days and takes no new "
                                "application associations; create a new stream group.")
    apps = [find_application(ctx, identifier) for identifier in req["ApplicationIdentifiers"]]
    for app in apps:
        _application_ready(app)
    arns = []
    for app in apps:
        if app["Arn"] not in arns:
            _associate(ctx, group, ctx.resources.get(APPLICATION, app["Id"]))
            arns.append(app["Arn"])
    group["LastUpdatedAt"] = ctx.now
    ctx.resources.update(STREAM_GROUP, group["Id"], group)
    return {"Arn": group["Arn"], "ApplicationArns": arns}


@operation(SERVICE, "DisassociateApplications")
def disassociate_applications(ctx: RequestContext, req: dict) -> dict:
    """Applications that are not associated are left out of the answer [inferred]; running
    sessions of a disassociated application go on until they end (as documented)."""
    group = find_stream_group(ctx, req["Identifier"])
    require_active(group, "disassociate applications")
    apps = [find_application(ctx, identifier) for identifier in req["ApplicationIdentifiers"]]
    arns = []
    for app in apps:
        if _disassociate(ctx, group, ctx.resources.get(APPLICATION, app["Id"])):
            arns.append(app["Arn"])
    group["LastUpdatedAt"] = ctx.now
    ctx.resources.update(STREAM_GROUP, group["Id"], group)
    return {"Arn": group["Arn"], "ApplicationArns": arns}


@operation(SERVICE, "DeleteStreamGroup")
def delete_stream_group(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    if group["Status"] == "DELETING":
        raise errors.Conflict(f"Stream group {group['Id']} is already being deleted.")
    for app_arn in list(group["AssociatedApplications"]):
        app = ctx.resources.get(APPLICATION, app_arn.rsplit("/", 1)[1])
        if app is not None:
            _disassociate(ctx, group, app)
    group.update(Status="DELETING", LastUpdatedAt=ctx.now)
    group.pop("DefaultApplication", None)
    ctx.resources.update(STREAM_GROUP, group["Id"], group)
    for _, session in ctx.resources.list(SESSION, parent=group["Id"]):
        if session["Status"] not in FINAL:
            end_session(ctx, session, "TERMINATED", "apiTerminated")
    ctx.schedule("gameliftstreams.streamgroup.delete", STREAM_GROUP, group["Id"],
                 action="gameliftstreams.streamgroup.remove")
    return {}


@transition("gameliftstreams.streamgroup.remove")
def remove_stream_group(resources, kind, group_id, args, due_at) -> None:
    for _, session in resources.list(SESSION, parent=group_id):
        resources.delete(SESSION, session["_id"])
    resources.delete(STREAM_GROUP, group_id)
