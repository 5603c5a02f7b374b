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
from .common import (COMPOSITION, DEFAULT_PAGE_SIZE, SERVICE, STAGE, STORAGE_CONFIGURATION,
    STORAGE_CONFIGURATION_RECORD, errors, find, new_resource)

RUNNING_COMPOSITION_STATES = ("STARTING", "ACTIVE", "STOPPING")


@operation(SERVICE, "CreateStorageConfiguration")
def create_storage_configuration(ctx: RequestContext, req: dict) -> dict:
    configuration_id, document = new_resource(ctx, "storage-configuration", req,
                                              s3={"bucketName": req["s3"]["bucketName"]})
    ctx.resources.insert(STORAGE_CONFIGURATION, configuration_id, document)
    return {"storageConfiguration": STORAGE_CONFIGURATION_RECORD.view(document)}


STORAGE_CONFIGURATION_RECORD.get_operation(
    SERVICE, "GetStorageConfiguration", "storageConfiguration",
    lambda ctx, req: find(ctx, STORAGE_CONFIGURATION, "storage-configuration", req["arn"])[1])


STORAGE_CONFIGURATION_RECORD.list_operation(SERVICE, "ListStorageConfigurations", default_size=DEFAULT_PAGE_SIZE)


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
