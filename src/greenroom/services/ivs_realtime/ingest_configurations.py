"""Ingest configurations (RTMP/RTMPS publishers into a stage): CreateIngestConfiguration,
GetIngestConfiguration, ListIngestConfigurations, UpdateIngestConfiguration,
DeleteIngestConfiguration.

On create: ``stageArn`` "" when absent, ``userId`` "", ``attributes`` {}, a participant id is
assigned, ``state`` INACTIVE, and a stream key ``rt_{account}_{region}_{id}_{secret}``. RTMP
requires ``insecureIngest: true`` (ValidationException). A ``stageArn`` that does not exist is a
ValidationException on create (it has no ResourceNotFoundException) and ResourceNotFoundException
on update. [inferred] ``redundantIngest`` adds one backup credential (its own participant id and
stream key) in ``redundantIngestCredentials``.

The configuration is ACTIVE while an encoder publishes with its key (driven by the
``client_actions.ingest`` stand-in). While ACTIVE it cannot be updated, nor deleted unless
``force`` is true, which disconnects the publisher (ConflictException otherwise).

Create and Update answer with the security headers the newest model declares on their
responses (``SECURITY_HEADERS``; the values are the usual hardened API ones [inferred]).
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.operations import operation
from .common import (DEFAULT_PAGE_SIZE, INGEST_CONFIGURATION, INGEST_CONFIGURATION_RECORD, SERVICE, STAGE,
    arn_id, check_attributes, cors_members, env, errors, find, new_id, resource_arn, security_headers, tagging)
from .participation import CONNECTED, disconnect, get_participant

SECRET_LENGTH = 32
SECURITY_HEADERS = security_headers(cacheControl="no-store, no-cache",
                                    contentSecurityPolicy="default-src 'self'; upgrade-insecure-requests;")


def stream_key(ctx: RequestContext, configuration_id: str) -> str:
    return f"rt_{ctx.account}_{ctx.region}_{configuration_id}_{ctx.ids.alphanumeric(SECRET_LENGTH)}"


def _backup_credentials(ctx: RequestContext, configuration_id: str) -> list[dict]:
    return [{"participantId": new_id(ctx), "streamKey": stream_key(ctx, configuration_id)}]


def _stage_exists(ctx: RequestContext, stage_arn: str) -> bool:
    stage_id = arn_id(ctx, stage_arn, "stage")
    return stage_id is not None and ctx.resources.get(STAGE, stage_id) is not None


@operation(SERVICE, "CreateIngestConfiguration")
def create_ingest_configuration(ctx: RequestContext, req: dict) -> dict:
    protocol = req["ingestProtocol"]
    insecure = bool(req.get("insecureIngest", False))
    if protocol == "RTMP" and not insecure:
        raise errors.Validation("insecureIngest must be true when ingestProtocol is RTMP")
    stage_arn = req.get("stageArn") or ""
    if stage_arn and not _stage_exists(ctx, stage_arn):
        raise errors.Validation(f"Stage {stage_arn} does not exist")
    check_attributes(req.get("attributes"))
    tags = tagging.check(req.get("tags"))
    configuration_id = new_id(ctx)
    redundant = bool(req.get("redundantIngest", False))
    document = {
        "name": req.get("name", ""),
        "arn": resource_arn(ctx, "ingest-configuration", configuration_id),
        "ingestProtocol": protocol,
        "streamKey": stream_key(ctx, configuration_id),
        "stageArn": stage_arn,
        "participantId": new_id(ctx),
        "state": "INACTIVE",
        "userId": req.get("userId", ""),
        "redundantIngest": redundant,
        "redundantIngestCredentials": _backup_credentials(ctx, configuration_id) if redundant else None,
        "attributes": req.get("attributes") or {},
        "tags": tags,
        "insecureIngest": insecure,    # not an output member
        "_": {"publishers": []},
    }
    ctx.resources.insert(INGEST_CONFIGURATION, configuration_id, document)
    return {"ingestConfiguration": INGEST_CONFIGURATION_RECORD.view(document), **SECURITY_HEADERS, **cors_members()}


INGEST_CONFIGURATION_RECORD.get_operation(
    SERVICE, "GetIngestConfiguration", "ingestConfiguration",
    lambda ctx, req: find(ctx, INGEST_CONFIGURATION, "ingest-configuration", req["arn"])[1])


@operation(SERVICE, "ListIngestConfigurations", read_only=True)
def list_ingest_configurations(ctx: RequestContext, req: dict) -> dict:
    where = {}
    if req.get("filterByStageArn"):
        where["stageArn"] = req["filterByStageArn"]
    if req.get("filterByState"):
        where["state"] = req["filterByState"]
    return ctx.list_answer(INGEST_CONFIGURATION, req, default_size=DEFAULT_PAGE_SIZE,
                           view=INGEST_CONFIGURATION_RECORD.brief, where=where, filters=where)


@operation(SERVICE, "UpdateIngestConfiguration")
def update_ingest_configuration(ctx: RequestContext, req: dict) -> dict:
    configuration_id, document = find(ctx, INGEST_CONFIGURATION, "ingest-configuration", req["arn"])
    if document["state"] == "ACTIVE":
        raise errors.Conflict(f"Ingest configuration {document['arn']} cannot be updated while it is ACTIVE")
    if "stageArn" in req:
        if req["stageArn"] and not _stage_exists(ctx, req["stageArn"]):
            raise errors.ResourceNotFound(f"Stage {req['stageArn']} does not exist")
        document["stageArn"] = req["stageArn"]
    if "redundantIngest" in req and req["redundantIngest"] != document["redundantIngest"]:
        document["redundantIngest"] = req["redundantIngest"]
        document["redundantIngestCredentials"] = (
            _backup_credentials(ctx, configuration_id) if req["redundantIngest"] else None)
    ctx.resources.update(INGEST_CONFIGURATION, configuration_id, document)
    return {"ingestConfiguration": INGEST_CONFIGURATION_RECORD.view(document), **SECURITY_HEADERS, **cors_members()}


@operation(SERVICE, "DeleteIngestConfiguration")
def delete_ingest_configuration(ctx: RequestContext, req: dict) -> dict:
    configuration_id, document = find(ctx, INGEST_CONFIGURATION, "ingest-configuration", req["arn"])
    if document["state"] == "ACTIVE" and not req.get("force"):
        raise errors.Conflict(f"Ingest configuration {document['arn']} is ACTIVE; stop publishing or delete it with force")
    e = env(ctx)
    for key in document["_"]["publishers"]:  # connected encoders go with it
        session_id, _, participant_id = key.partition("/")
        participant = get_participant(e, session_id, participant_id)
        if participant is not None and participant["state"] == CONNECTED:
            disconnect(e, participant["_"]["stageId"], participant)
    ctx.resources.delete(INGEST_CONFIGURATION, configuration_id)
    return {}
