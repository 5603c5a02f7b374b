"""Stream capacity per location: configuration rules, what is in use, what LocationState shows.

A location's configuration keeps the capacities the caller set (AlwaysOnCapacity,
MaximumCapacity, TargetIdleCapacity, or the deprecated OnDemandCapacity). From them:

* the most sessions the location can host at once is MaximumCapacity when set, else
  AlwaysOnCapacity + OnDemandCapacity (the deprecated model) [inferred];
* RequestedCapacity is the always-on capacity requested (as documented);
* AllocatedCapacity is the always-on capacity, or the sessions in use plus the target-idle
  buffer when that is more, never above the maximum (nor below what is in use); IdleCapacity is
  the allocated capacity no session uses [inferred arithmetic of the documented meanings];
* OnDemandCapacity is reported as the maximum minus the always-on capacity.

A session holds capacity from its placement until it is TERMINATED or in ERROR.
"""
from __future__ import annotations

import re

from ...core.store import Resources
from .common import SESSION, errors

# Sessions per instance, by stream class: capacities are whole multiples of it.
TENANCY = {
    "gen6n_small": 12,
    "gen6n_medium": 4,
    "gen6n_high": 2,
    "gen5n_high": 2,
    "gen4n_high": 2,
}
CAPACITY_FIELDS = ("AlwaysOnCapacity", "MaximumCapacity", "TargetIdleCapacity", "OnDemandCapacity")
# Location names look like AWS Regions [inferred: any Region-shaped name is accepted].
_LOCATION_NAME = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d{1,2}")


def tenancy(stream_class: str) -> int:
    """Every *_win2022, ultra and pro class hosts one session per instance."""
    return TENANCY.get(stream_class, 1)


def check_location_name(name: str) -> None:
    if not _LOCATION_NAME.fullmatch(name):
        raise errors.Validation(f"{name} is not a location Amazon GameLift Streams supports.")


def configure(configs: list[dict], stream_class: str, existing: dict[str, dict],
              *, new_locations: bool) -> dict[str, dict]:
    """Validate LocationConfigurations and return them merged into ``existing`` (by name).

    ``new_locations``: the locations are being added (CreateStreamGroup,
    AddStreamGroupLocations), so each must state a capacity; otherwise (UpdateStreamGroup) they
    must already exist and unset capacities keep their values.
    """
    unit = tenancy(stream_class)
    merged = {name: dict(config) for name, config in existing.items()}
    seen = set()
    for config in configs:
        name = config["LocationName"]
        check_location_name(name)
        if name in seen:
            raise errors.Validation(f"Location {name} appears more than once in LocationConfigurations.")
        seen.add(name)
        given = {field: config[field] for field in CAPACITY_FIELDS if config.get(field) is not None}
        if "OnDemandCapacity" in given and ({"MaximumCapacity", "TargetIdleCapacity"} & given.keys()):
            raise errors.Validation(f"Location {name}: OnDemandCapacity cannot be combined with "
                                    "MaximumCapacity or TargetIdleCapacity.")
        for field, value in given.items():
            if value % unit:
                raise errors.Validation(
                    f"Location {name}: {field} {value} must be a whole multiple of {unit}, the "
                    f"tenancy of stream class {stream_class}."
                )
        if new_locations:
            if not ({"AlwaysOnCapacity", "MaximumCapacity", "OnDemandCapacity"} & given.keys()):
                raise errors.Validation(f"Location {name}: specify AlwaysOnCapacity or MaximumCapacity "
                                        "for a new location.")
            current = {}
        else:
            if name not in merged:
                raise errors.Validation(f"Location {name} is not a location of this stream group; "
                                        "add it with AddStreamGroupLocations.")
            current = merged[name]
            # Switching between the deprecated and the current capacity model drops the other.
            if "OnDemandCapacity" in given:
                current.pop("MaximumCapacity", None)
                current.pop("TargetIdleCapacity", None)
            if {"MaximumCapacity", "TargetIdleCapacity"} & given.keys():
                current.pop("OnDemandCapacity", None)
        location = {**current, **given, "LocationName": name}
        if config.get("VpcTransitConfiguration"):
            vpc = config["VpcTransitConfiguration"]
            previous = current.get("VpcTransitConfiguration")
            if previous and previous["VpcId"] != vpc["VpcId"]:
                raise errors.Validation(f"Location {name}: the VPC of a VpcTransitConfiguration cannot change.")
            location["VpcTransitConfiguration"] = {"VpcId": vpc["VpcId"],
                                                   "Ipv4CidrBlocks": list(vpc["Ipv4CidrBlocks"])}
        if location.get("TargetIdleCapacity") and location.get("MaximumCapacity") is None:
            raise errors.Validation(f"Location {name}: TargetIdleCapacity needs a MaximumCapacity.")
        always_on, maximum = location.get("AlwaysOnCapacity") or 0, location.get("MaximumCapacity")
        if maximum is not None and maximum < always_on:
            raise errors.Validation(f"Location {name}: MaximumCapacity {maximum} is less than "
                                    f"AlwaysOnCapacity {always_on}.")
        if maximum is not None and (location.get("TargetIdleCapacity") or 0) > maximum:
            raise errors.Validation(f"Location {name}: TargetIdleCapacity exceeds MaximumCapacity.")
        location.setdefault("Status", existing.get(name, {}).get("Status", "ACTIVATING"))
        merged[name] = location
    return merged


def maximum_sessions(location: dict) -> int:
    if location.get("MaximumCapacity") is not None:
        return location["MaximumCapacity"]
    return (location.get("AlwaysOnCapacity") or 0) + (location.get("OnDemandCapacity") or 0)


def sessions_in_use(resources: Resources, group_id: str, location: str) -> int:
    return resources.count(SESSION, parent=group_id, where={"Location": location, "_holds": True})


def has_room(resources: Resources, group_id: str, location: dict) -> bool:
    return location["Status"] == "ACTIVE" and \
        sessions_in_use(resources, group_id, location["LocationName"]) < maximum_sessions(location)


def location_state(resources: Resources, group_id: str, location: dict) -> dict:
    always_on = location.get("AlwaysOnCapacity") or 0
    maximum = maximum_sessions(location)
    in_use = sessions_in_use(resources, group_id, location["LocationName"])
    allocated = 0
    if location["Status"] == "ACTIVE":
        wanted = max(always_on, in_use + (location.get("TargetIdleCapacity") or 0))
        allocated = max(in_use, min(maximum, wanted))
    state = {
        "LocationName": location["LocationName"],
        "Status": location["Status"],
        "AlwaysOnCapacity": always_on,
        "OnDemandCapacity": max(maximum - always_on, 0),
        "TargetIdleCapacity": location.get("TargetIdleCapacity") or 0,
        "MaximumCapacity": maximum,
        "RequestedCapacity": always_on,
        "AllocatedCapacity": allocated,
        "IdleCapacity": max(allocated - in_use, 0),
    }
    if location.get("VpcTransitConfiguration"):
        state["VpcTransitConfiguration"] = location["VpcTransitConfiguration"]
    return state
