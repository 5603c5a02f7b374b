"""Encoder configurations (how compositions render): CreateEncoderConfiguration,
GetEncoderConfiguration, ListEncoderConfigurations, DeleteEncoderConfiguration.

``video`` defaults: 1280x720, 2,500,000 bps, 30 fps, returned complete. Beyond the model's
ranges: width and height must be even and width x height at most 2,073,600 (1920x1080 pixels).
At most ``encoder_configurations`` (20) per account and region. Deleting one a running
composition uses is a ConflictException.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.operations import operation
from .common import (COMPOSITION, DEFAULT_LARGE_PAGE_SIZE, ENCODER_CONFIGURATION,
    ENCODER_CONFIGURATION_RECORD, SERVICE, errors, find, new_resource)
from .quotas import quota

DEFAULT_VIDEO = {"width": 1280, "height": 720, "framerate": 30, "bitrate": 2_500_000}
MAX_PIXELS = 2_073_600
RUNNING_COMPOSITION_STATES = ("STARTING", "ACTIVE", "STOPPING")


def encoder_arns(composition: dict) -> set[str]:
    arns = set()
    for destination in composition["destinations"]:
        configuration = destination["configuration"]
        if (configuration.get("channel") or {}).get("encoderConfigurationArn"):
            arns.add(configuration["channel"]["encoderConfigurationArn"])
        arns.update((configuration.get("s3") or {}).get("encoderConfigurationArns", []))
    return arns


@operation(SERVICE, "CreateEncoderConfiguration")
def create_encoder_configuration(ctx: RequestContext, req: dict) -> dict:
    video = {**DEFAULT_VIDEO, **{k: v for k, v in (req.get("video") or {}).items() if v is not None}}
    for side in ("width", "height"):
        if video[side] % 2:
            raise errors.Validation(f"video.{side} must be an even number of pixels, not {video[side]}")
    if video["width"] * video["height"] > MAX_PIXELS:
        raise errors.Validation(f"video.width x video.height must be at most {MAX_PIXELS} pixels "
                                f"(e.g. 1920x1080); {video['width']}x{video['height']} is {video['width'] * video['height']}")
    ctx.resources.require_room(
        ENCODER_CONFIGURATION, quota(ctx.resources, "encoder_configurations"),
        lambda limit: errors.ServiceQuotaExceeded(f"The account already has {limit} encoder configurations in {ctx.region}"))
    configuration_id, document = new_resource(ctx, "encoder-configuration", req, video=video)
    ctx.resources.insert(ENCODER_CONFIGURATION, configuration_id, document)
    return {"encoderConfiguration": ENCODER_CONFIGURATION_RECORD.view(document)}


ENCODER_CONFIGURATION_RECORD.get_operation(
    SERVICE, "GetEncoderConfiguration", "encoderConfiguration",
    lambda ctx, req: find(ctx, ENCODER_CONFIGURATION, "encoder-configuration", req["arn"])[1])


ENCODER_CONFIGURATION_RECORD.list_operation(SERVICE, "ListEncoderConfigurations", default_size=DEFAULT_LARGE_PAGE_SIZE)


@operation(SERVICE, "DeleteEncoderConfiguration")
def delete_encoder_configuration(ctx: RequestContext, req: dict) -> dict:
    configuration_id, document = find(ctx, ENCODER_CONFIGURATION, "encoder-configuration", req["arn"])
    users = [composition["arn"] for _, composition in ctx.resources.list(COMPOSITION)
             if composition["state"] in RUNNING_COMPOSITION_STATES and document["arn"] in encoder_arns(composition)]
    if users:
        raise errors.Conflict(f"Encoder configuration {document['arn']} is in use by {', '.join(users)}")
    ctx.resources.delete(ENCODER_CONFIGURATION, configuration_id)
    return {}
