"""Stages: CreateStage, GetStage, ListStages, UpdateStage, DeleteStage.

``autoParticipantRecordingConfiguration`` is always returned complete. Given without a storage
configuration (``storageConfigurationArn: ""``) it is the disabled default whatever else was
sent; with one, omitted members take their defaults ([inferred] UpdateStage replaces the whole
configuration rather than merging into the stored one). It cannot be changed while a
participant's recording is STARTING, ACTIVE or STOPPING (ConflictException, [inferred]). A
storage configuration that does not exist is a ValidationException (CreateStage has no
ResourceNotFoundException).

DeleteStage disconnects everyone (the active session ends at once), ends replications from and
to the stage, stops its compositions and clears ``stageArn`` of every ingest configuration
attached to it ([inferred] AWS documents this for configurations publishing to it; greenroom
clears all, so none points at a stage that no longer exists). The stage's sessions,
participants and events are forgotten with it.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.operations import operation
from . import tables
from .common import (DEFAULT_PAGE_SIZE, INGEST_CONFIGURATION, REVOCATION, SERVICE, SESSION, STAGE,
    STAGE_RECORD, STORAGE_CONFIGURATION, TOKEN, arn_id, env, errors, find_stage, new_resource,
    stage_endpoints)
from .compositions import stop_compositions_of_stage
from .participation import active_session, close_session
from .recording import recording_in_progress
from .quotas import quota
from .replication import stop_replicas_of_stage
from .tokens import issue_token


def default_recording_configuration() -> dict:
    return {
        "storageConfigurationArn": "",
        "mediaTypes": ["AUDIO_VIDEO"],
        "thumbnailConfiguration": {"targetIntervalSeconds": 60, "storage": ["SEQUENTIAL"],
                                   "recordingMode": "DISABLED"},
        "recordingReconnectWindowSeconds": 0,
        "hlsConfiguration": {"targetSegmentDurationSeconds": 6},
        "recordParticipantReplicas": True,
    }


def recording_configuration(ctx: RequestContext, given: dict | None) -> dict:
    configuration = default_recording_configuration()
    if not given or not given.get("storageConfigurationArn"):
        return configuration
    storage_arn = given["storageConfigurationArn"]
    storage_id = arn_id(ctx, storage_arn, "storage-configuration")
    if storage_id is None or ctx.resources.get(STORAGE_CONFIGURATION, storage_id) is None:
        raise errors.Validation(f"Storage configuration {storage_arn} does not exist")
    configuration["storageConfigurationArn"] = storage_arn
    if given.get("mediaTypes"):
        configuration["mediaTypes"] = list(given["mediaTypes"])
    thumbnail = {k: v for k, v in (given.get("thumbnailConfiguration") or {}).items() if v not in (None, [])}
    configuration["thumbnailConfiguration"].update(thumbnail)
    configuration["hlsConfiguration"].update(given.get("hlsConfiguration") or {})
    for member in ("recordingReconnectWindowSeconds", "recordParticipantReplicas"):
        if given.get(member) is not None:
            configuration[member] = given[member]
    return configuration


def describe(ctx: RequestContext, stage: dict) -> dict:
    return {**STAGE_RECORD.view(stage), "endpoints": stage_endpoints(ctx, stage["_"]["whipId"])}


@operation(SERVICE, "CreateStage")
def create_stage(ctx: RequestContext, req: dict) -> dict:
    ctx.resources.require_room(STAGE, quota(ctx.resources, "stages"), lambda limit: errors.ServiceQuotaExceeded(
        f"The account already has {limit} stages in {ctx.region} (the stages quota)"))
    stage_id, stage = new_resource(ctx, "stage", req, autoParticipantRecordingConfiguration=recording_configuration(
        ctx, req.get("autoParticipantRecordingConfiguration")), _={"whipId": ctx.ids.hex(12)})
    ctx.resources.insert(STAGE, stage_id, stage)
    tokens = [issue_token(ctx, stage_id, stage, configuration)
              for configuration in req.get("participantTokenConfigurations") or []]
    return {"stage": describe(ctx, stage), "participantTokens": tokens}


@operation(SERVICE, "GetStage", read_only=True)
def get_stage(ctx: RequestContext, req: dict) -> dict:
    _, stage = find_stage(ctx, req["arn"])
    return {"stage": describe(ctx, stage)}


STAGE_RECORD.list_operation(SERVICE, "ListStages", default_size=DEFAULT_PAGE_SIZE)


@operation(SERVICE, "UpdateStage")
def update_stage(ctx: RequestContext, req: dict) -> dict:
    stage_id, stage = find_stage(ctx, req["arn"])
    if "name" in req:
        stage["name"] = req["name"]
    if "autoParticipantRecordingConfiguration" in req:
        session = active_session(env(ctx), stage)
        if session is not None and recording_in_progress(env(ctx), session["sessionId"]):
            raise errors.Conflict("The stage's autoParticipantRecordingConfiguration cannot be updated while "
                                  "participant recording is active")
        stage["autoParticipantRecordingConfiguration"] = recording_configuration(
            ctx, req["autoParticipantRecordingConfiguration"])
    ctx.resources.update(STAGE, stage_id, stage)
    return {"stage": describe(ctx, stage)}


@operation(SERVICE, "DeleteStage")
def delete_stage(ctx: RequestContext, req: dict) -> dict:
    stage_id, stage = find_stage(ctx, req["arn"])
    e = env(ctx)
    stop_replicas_of_stage(e, stage["arn"])
    stop_compositions_of_stage(e, stage["arn"])
    session = active_session(e, stage)
    if session is not None:
        close_session(e, session)
    for _, ingest in ctx.resources.list(INGEST_CONFIGURATION, where={"stageArn": stage["arn"]}):
        ingest.update(stageArn="", state="INACTIVE")
        ingest["_"]["publishers"] = []
        ctx.resources.update(INGEST_CONFIGURATION, ingest["arn"].rsplit("/", 1)[1], ingest)
    for kind in (SESSION, TOKEN, REVOCATION):
        for _, document in ctx.resources.list(kind, parent=stage_id):
            ctx.resources.delete(kind, _document_id(kind, stage_id, document))
    tables.delete_stage_activity(ctx.conn, ctx.account, ctx.region, stage_id)
    ctx.resources.delete(STAGE, stage_id)
    return {}


def _document_id(kind: str, stage_id: str, document: dict) -> str:
    if kind == SESSION:
        return document["sessionId"]
    if kind == TOKEN:
        return document["participantId"]
    return f"{stage_id}/{document['participantId']}"
