"""Storage configurations (where participant and composite recordings go):
CreateStorageConfiguration, GetStorageConfiguration, ListStorageConfigurations,
DeleteStorageConfiguration.

[inferred] greenroom emulates no S3, so the bucket is not checked (AWS checks it exists in the
stage's region). Deleting a configuration that a stage records to (its
``autoParticipantRecordingConfiguration``) or that a running composition writes to is a
ConflictException.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.operations import operation
from ...core.records import public
from .common import (COMPOSITION, DEFAULT_PAGE_SIZE, SERVICE, STAGE, STORAGE_CONFIGURATION,
    tagging, errors, find, new_id, resource_arn)

RUNNING_COMPOSITION_STATES = ("STARTING", "ACTIVE", "STOPPING")


@operation(SERVICE, "CreateStorageConfiguration")
def create_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    tags = req.get("tags") or {}
    tagging.check(tags)
    configuration_id = new_id(ctx)
    document = {
        "arn": resource_arn(ctx, "storage-configuration", configuration_id),
        "name": req.get("name", ""),
        "s3": {"bucketName": req["s3"]["bucketName"]},
        "tags": tags,
    }
    ctx.resources.insert(STORAGE_CONFIGURATION, configuration_id, document)
    return {"storageConfiguration": public(document)}


@operation(SERVICE, "GetStorageConfiguration")
def get_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    _, document = find(ctx, STORAGE_CONFIGURATION, "storage-configuration", req["arn"])
    return {"storageConfiguration": public(document)}


@operation(SERVICE, "ListStorageConfigurations")
def list_storage_configurations(ctx: RequestContext, req: dict) -> dict:
    page = ctx.page(
        filters={}, token=req.get("nextToken"), page_size=req.get("maxResults", DEFAULT_PAGE_SIZE),
        fetch=lambda after, limit: [(pk, public(document)) for pk, document in
                                    ctx.resources.list(STORAGE_CONFIGURATION, after=after, limit=limit)],
    )
    return {"storageConfigurations": page.items, "nextToken": page.next_token}


def _users(ctx: RequestContext, arn: str) -> list[str]:
    users = [stage["arn"] for _, stage in ctx.resources.list(STAGE)
             if stage["autoParticipantRecordingConfiguration"]["storageConfigurationArn"] == arn]
    for _, composition in ctx.resources.list(COMPOSITION):
        if composition["state"] in RUNNING_COMPOSITION_STATES and any(
                (destination["configuration"].get("s3") or {}).get("storageConfigurationArn") == arn
                for destination in composition["destinations"]):
            users.append(composition["arn"])
    return users


@operation(SERVICE, "DeleteStorageConfiguration")
def delete_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    configuration_id, document = find(ctx, STORAGE_CONFIGURATION, "storage-configuration", req["arn"])
    users = _users(ctx, document["arn"])
    if users:
        raise errors.Conflict(f"Storage configuration {document['arn']} is in use by {', '.join(users)}")
    ctx.resources.delete(STORAGE_CONFIGURATION, configuration_id)
    return {}
