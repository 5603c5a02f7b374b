"""Compositions (server-side composition of a stage to IVS channels and S3): StartComposition,
GetComposition, ListCompositions, StopComposition.

State machine: STARTING -> ACTIVE after ``ivs-realtime.composition.start`` (destinations too,
with their ``startTime``); StopComposition makes it STOPPING and STOPPED after
``ivs-realtime.composition.stop`` (``endTime`` set, destinations likewise). It stops by itself
``ivs-realtime.composition.idle`` seconds (AWS: 1 minute) after the last participant left the
stage, or after it started on an empty stage; after the ``composition_hours`` quota (24 h);
and when its stage is deleted. [inferred] Destinations never fail (greenroom has no channel
or S3 to fail on), so FAILED and RECONNECTING are not reached.

Echoed defaults: layout ``grid`` (when no layout is given) ``{gridGap: 2, videoAspectRatio:
VIDEO, videoFillMode: "", omitStoppedVideo: false}``; ``pip`` ``{gridGap: 0, pipPosition:
BOTTOM_RIGHT, pipBehavior: STATIC}``; S3 ``recordingConfiguration {format: HLS,
hlsConfiguration: {targetSegmentDurationSeconds: 2}}`` and ``thumbnailConfigurations
[{targetIntervalSeconds: 60, storage: [SEQUENTIAL]}]`` ([inferred] given when none is sent).

Rules beyond the model: a destination has exactly one of ``channel`` and ``s3``, a layout at
most one of ``grid`` and ``pip`` (ValidationException); encoder and storage configurations must
exist (ResourceNotFoundException); at most ``compositions`` (5) running per account and region
(ServiceQuotaExceededException). [inferred] Channel ARNs are not checked (classic IVS is not
emulated). An ``idempotencyToken`` already used on the stage returns that composition.
StopComposition on a stopping or stopped composition changes nothing ([inferred]).
"""
from __future__ import annotations

import copy

from ...core.context import RequestContext
from ...core.lifecycle import REVISION, Step, applies, revise, revision, transition
from ...core.operations import operation
from ...core.store import documents, rewrite_transitions, upgrade
from .common import (COMPOSITION, COMPOSITION_RECORD, DEFAULT_LARGE_PAGE_SIZE, ENCODER_CONFIGURATION, SERVICE,
    STORAGE_CONFIGURATION, env, Env, errors, events, find, find_stage, new_id, resource_arn, tagging,
    transition_env)
from .encoder_configurations import encoder_arns
from .participation import active_session, connected_count
from .quotas import quota

RUNNING = ("STARTING", "ACTIVE")
NOT_FINISHED = ("STARTING", "ACTIVE", "STOPPING")
GRID_DEFAULTS = {"gridGap": 2, "videoAspectRatio": "VIDEO", "videoFillMode": "", "omitStoppedVideo": False}
PIP_DEFAULTS = {"gridGap": 0, "pipPosition": "BOTTOM_RIGHT", "pipBehavior": "STATIC"}
HLS_SEGMENT_DEFAULT = 2
THUMBNAIL_DEFAULTS = {"targetIntervalSeconds": 60, "storage": ["SEQUENTIAL"]}


# A composition's own steps (core.lifecycle.Step); the states they reach, and the time each sets.
START = Step("STARTING", delay="ivs-realtime.composition.start", action="ivs-realtime.composition.activate")
STOP = Step("STOPPING", delay="ivs-realtime.composition.stop", action="ivs-realtime.composition.finish")
SETTLED = {"STARTING": ("ACTIVE", "startTime"), "STOPPING": ("STOPPED", "endTime")}
# The idle clock (an emptied stage) is independent of those steps: a lane of its own, revised when
# it starts and when someone joins.
IDLE = Step(None, delay="ivs-realtime.composition.idle", lane="idle", action="ivs-realtime.composition.idle")


def _layout(given: dict | None) -> dict:
    given = given or {}
    if given.get("grid") is not None and given.get("pip") is not None:
        raise errors.Validation("layout may have grid or pip, not both")
    if given.get("pip") is not None:
        return {"pip": {**PIP_DEFAULTS, **given["pip"]}}
    return {"grid": {**GRID_DEFAULTS, **(given.get("grid") or {})}}


def _destination_configuration(ctx: RequestContext, given: dict, index: int) -> dict:
    has_channel, has_s3 = given.get("channel") is not None, given.get("s3") is not None
    if has_channel == has_s3:
        raise errors.Validation(f"destinations.{index}.member must have exactly one of channel and s3")
    configuration = copy.deepcopy(given)
    if has_channel:
        encoder_arn = configuration["channel"].get("encoderConfigurationArn")
        if encoder_arn:
            find(ctx, ENCODER_CONFIGURATION, "encoder-configuration", encoder_arn)
        return configuration
    s3 = configuration["s3"]
    find(ctx, STORAGE_CONFIGURATION, "storage-configuration", s3["storageConfigurationArn"])
    for encoder_arn in s3["encoderConfigurationArns"]:
        find(ctx, ENCODER_CONFIGURATION, "encoder-configuration", encoder_arn)
    recording = s3.get("recordingConfiguration") or {}
    s3["recordingConfiguration"] = {
        "hlsConfiguration": {"targetSegmentDurationSeconds": HLS_SEGMENT_DEFAULT,
                             **(recording.get("hlsConfiguration") or {})},
        "format": recording.get("format") or "HLS",
    }
    thumbnails = s3.get("thumbnailConfigurations")
    s3["thumbnailConfigurations"] = [
        {**THUMBNAIL_DEFAULTS, **{k: v for k, v in thumbnail.items() if v not in (None, [])}}
        for thumbnail in (thumbnails if thumbnails is not None else [{}])
    ]
    return configuration


def _stage_arn_of(env_: Env, stage_id: str) -> str:
    return f"arn:aws:ivs:{env_.region}:{env_.account}:stage/{stage_id}"


@operation(SERVICE, "StartComposition")
def start_composition(ctx: RequestContext, req: dict) -> dict:
    stage_id, stage = find_stage(ctx, req["stageArn"])
    token = req.get("idempotencyToken")
    if token:
        for _, existing in ctx.resources.list(COMPOSITION, where={"stageArn": stage["arn"],
                                                                  "idempotencyToken": token}, limit=1):
            return {"composition": COMPOSITION_RECORD.view(existing)}
    layout = _layout(req.get("layout"))
    configurations = [_destination_configuration(ctx, d, i) for i, d in enumerate(req["destinations"], 1)]
    tags = tagging.check(req.get("tags"))
    limit = quota(ctx.resources, "compositions")
    running = ctx.resources.scan(COMPOSITION, keep=lambda c: c["state"] in NOT_FINISHED, limit=limit)
    if len(running) >= limit:
        raise errors.ServiceQuotaExceeded(f"The account already has {limit} running compositions in {ctx.region}")
    composition_id = new_id(ctx)
    destinations = []
    for configuration in configurations:
        destination_id = new_id(ctx)
        destination = {"id": destination_id, "state": "STARTING", "configuration": configuration}
        if "s3" in configuration:
            destination["detail"] = {"s3": {"recordingPrefix": f"{composition_id}/{destination_id}"}}
        destinations.append(destination)
    composition = {
        "arn": resource_arn(ctx, "composition", composition_id),
        "stageArn": stage["arn"],
        "state": "STARTING",
        "layout": layout,
        "destinations": destinations,
        "tags": tags,
        "startTime": ctx.now,
        "idempotencyToken": token,     # not an output member: the serializer leaves it out
        "_": {"stageId": stage_id, "idleSince": None},
    }
    ctx.resources.insert(COMPOSITION, composition_id, composition)
    e = env(ctx)
    START.schedule(e, COMPOSITION, composition_id, composition)
    e.schedule_at(ctx.now + quota(ctx.resources, "composition_hours") * 3600, COMPOSITION, composition_id,
                  "ivs-realtime.composition.expire")
    session = active_session(e, stage)
    if session is None or not connected_count(e, session["sessionId"]):
        _start_idle_clock(e, composition_id, composition)
    return {"composition": COMPOSITION_RECORD.view(composition)}


COMPOSITION_RECORD.get_operation(
    SERVICE, "GetComposition", "composition",
    lambda ctx, req: find(ctx, COMPOSITION, "composition", req["arn"])[1])


def _summary(composition: dict) -> dict:
    return {
        "arn": composition["arn"], "stageArn": composition["stageArn"], "state": composition["state"],
        "tags": composition["tags"], "startTime": composition.get("startTime"),
        "endTime": composition.get("endTime"),
        "destinations": [{key: destination.get(key) for key in ("id", "state", "startTime", "endTime")}
                         for destination in composition["destinations"]],
    }


@operation(SERVICE, "ListCompositions", read_only=True)
def list_compositions(ctx: RequestContext, req: dict) -> dict:
    stage_arn = req.get("filterByStageArn")
    encoder_arn = req.get("filterByEncoderConfigurationArn")
    where = {"stageArn": stage_arn} if stage_arn else None
    page = ctx.page(
        filters={"stage": stage_arn, "encoder": encoder_arn}, token=req.get("nextToken"),
        page_size=req.get("maxResults", DEFAULT_LARGE_PAGE_SIZE),
        fetch=lambda after, limit: [(pk, _summary(c)) for pk, c in ctx.resources.scan(
            COMPOSITION, where=where, after=after, limit=limit,
            keep=lambda c: encoder_arn is None or encoder_arn in encoder_arns(c))],
    )
    return {"compositions": page.items, "nextToken": page.next_token}


@operation(SERVICE, "StopComposition")
def stop_composition(ctx: RequestContext, req: dict) -> dict:
    composition_id, composition = find(ctx, COMPOSITION, "composition", req["arn"])
    if composition["state"] in RUNNING:
        begin_stop(env(ctx), composition_id, composition)
    return {}


# ------------------------------------------------------------------------- lifecycle

def begin_stop(e: Env, composition_id: str, composition: dict) -> None:
    composition["state"] = "STOPPING"
    for destination in composition["destinations"]:
        destination["state"] = "STOPPING"
    e.resources.update(COMPOSITION, composition_id, composition)
    STOP.schedule(e, COMPOSITION, composition_id, composition)


@transition(START.action)
@transition(STOP.action)
def _settle(resources, kind, composition_id, args, due_at) -> None:
    """STARTING -> ACTIVE (its destinations start), STOPPING -> STOPPED (they end)."""
    composition = resources.get(COMPOSITION, composition_id)
    if not applies(composition, args) or composition["state"] not in SETTLED:
        return
    state, time_field = SETTLED[composition["state"]]
    composition["state"] = state
    if state == "STOPPED":
        composition["endTime"] = due_at
    for destination in composition["destinations"]:
        destination.update({"state": state, time_field: due_at})
    resources.update(COMPOSITION, composition_id, composition)


@transition("ivs-realtime.composition.expire")
def _expire(resources, kind, composition_id, args, due_at) -> None:
    composition = resources.get(COMPOSITION, composition_id)
    if composition is not None and composition["state"] in RUNNING:
        begin_stop(transition_env(resources, due_at, args), composition_id, composition)


@transition(IDLE.action)
def _idle(resources, kind, composition_id, args, due_at) -> None:
    composition = resources.get(COMPOSITION, composition_id)
    if applies(composition, args) and composition["state"] in RUNNING:
        begin_stop(transition_env(resources, due_at, args), composition_id, composition)


def _start_idle_clock(e: Env, composition_id: str, composition: dict) -> None:
    composition["_"]["idleSince"] = e.now
    revise(composition, IDLE.lane)
    e.resources.update(COMPOSITION, composition_id, composition)
    IDLE.schedule(e, COMPOSITION, composition_id, composition)


def _running_on(e: Env, stage_id: str) -> list[tuple[int, dict]]:
    return [(pk, c) for pk, c in e.resources.list(COMPOSITION, where={"stageArn": _stage_arn_of(e, stage_id)})
            if c["state"] in RUNNING]


@events.subscribe("stage.emptied")
def stage_emptied(e: Env, stage_id: str) -> None:
    """The last participant left the stage: its compositions stop unless someone joins in time."""
    for _, composition in _running_on(e, stage_id):
        composition_id = composition["arn"].rsplit("/", 1)[1]
        if composition["_"]["idleSince"] is None:
            _start_idle_clock(e, composition_id, composition)


@events.subscribe("stage.occupied")
def stage_occupied(e: Env, stage_id: str) -> None:
    for _, composition in _running_on(e, stage_id):
        if composition["_"]["idleSince"] is not None:
            composition["_"]["idleSince"] = None
            revise(composition, IDLE.lane)
            e.resources.update(COMPOSITION, composition["arn"].rsplit("/", 1)[1], composition)


def stop_compositions_of_stage(e: Env, stage_arn: str) -> None:
    for _, composition in e.resources.list(COMPOSITION, where={"stageArn": stage_arn}):
        if composition["state"] in RUNNING:
            begin_stop(e, composition["arn"].rsplit("/", 1)[1], composition)


@upgrade("ivs-realtime.composition-idle-lane")
def _idle_lane(conn) -> None:
    """Once, when a store opens: a pending idle stop guarded by ``idleSince`` expects the idle
    lane's revision (-1, never, for a clock someone's joining had stopped)."""
    compositions = {composition["arn"].rsplit("/", 1)[1]: composition for composition in documents(conn, COMPOSITION)}

    def idle(args: dict, pending) -> dict | None:
        if "idleSince" not in args:
            return None
        composition = compositions.get(pending.resource_id)
        current = composition is not None and composition["_"].get("idleSince") == args["idleSince"]
        return {"expect": {REVISION: {IDLE.lane: revision(composition, IDLE.lane) if current else -1}}}
    rewrite_transitions(conn, IDLE.action, idle)
