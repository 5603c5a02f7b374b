"""Streaming images: CreateStreamingImage, GetStreamingImage, ListStreamingImages,
UpdateStreamingImage, DeleteStreamingImage.

States: CREATE_IN_PROGRESS -> READY | CREATE_FAILED; UPDATE_IN_PROGRESS -> READY |
UPDATE_FAILED (prior name and description kept); DELETE_IN_PROGRESS -> DELETED | DELETE_FAILED.

Every studio has Nimble's own two images (``owner`` "amazon", READY from the start, with the
EULAs of their software in ``eulaIds``): NimbleStudioWindowsStreamImage and
NimbleStudioLinuxStreamImage, with the same ids in every studio of a Region, as the service
had. They cannot be changed (AccessDeniedException [inferred]) and do not keep a studio from
being deleted. Images a studio creates are owned by its account.

An image cannot be deleted while a launch profile that is not deleted uses it
(ConflictException [inferred]). greenroom cannot inspect an AMI: an image's ``platform`` is
WINDOWS when its name or description mentions Windows, LINUX otherwise [inferred].
"""
from __future__ import annotations

import hashlib

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.lifecycle import revise
from ...core.operations import operation
from .common import (lifecycle_steps, GONE_STATES, LAUNCH_PROFILE, STREAMING_IMAGE, STREAMING_IMAGE_RECORD, TOKEN_REUSED,
    USABLE_STATES, errors, failed, find_child, in_studio, insert, key, new_id, require_state, settle,
    stable_id, status, take_fault, usable_studio)
from .eulas import BUILT_IN_IMAGE_EULA_IDS

LIST_PAGE_SIZE = 10  # ListStreamingImages has no maxResults [inferred]
AMAZON = "amazon"

_BUILT_IN = (
    ("WINDOWS", "NimbleStudioWindowsStreamImage", "Base windows image for NimbleStudio"),
    ("LINUX", "NimbleStudioLinuxStreamImage", "Base linux image for NimbleStudio"),
)

# Its lifecycle (core.lifecycle.Step): create, update and delete settle after their delays.
CREATED, UPDATED, DELETED = lifecycle_steps("streaming_image", "STREAMING_IMAGE_READY", "STREAMING_IMAGE_READY", "STREAMING_IMAGE_DELETED")



def add_built_in_images(ctx: RequestContext, studio_id: str) -> None:
    for platform, name, description in _BUILT_IN:
        image_id = stable_id("nimble-built-in-image", ctx.region, platform)
        ami = "ami-" + hashlib.sha256(f"{ctx.region}/{platform}".encode()).hexdigest()[:17]
        insert(ctx, STREAMING_IMAGE, key(studio_id, image_id), {
            "streamingImageId": image_id,
            "arn": ctx.arn("nimble", f"streaming-image/{image_id}"),
            "name": name, "description": description, "ec2ImageId": ami,
            "owner": AMAZON, "platform": platform, "eulaIds": list(BUILT_IN_IMAGE_EULA_IDS),
            "state": "READY", **status("STREAMING_IMAGE_READY"), "tags": {},
            "_studioId": studio_id, "_rev": 1,
        }, parent=studio_id)


def find_image(ctx: RequestContext, studio_id: str, image_id: str) -> dict:
    return find_child(ctx, STREAMING_IMAGE, "streaming image", studio_id, image_id)


def _own_image(ctx: RequestContext, req: dict, allowed, action: str) -> tuple[str, str, dict]:
    """(studio id, image id, image) of an image of the studio's own (amazon's cannot be changed)
    that is in one of the ``allowed`` states for ``action``."""
    studio_id, image_id = req["studioId"], req["streamingImageId"]
    image = find_image(ctx, studio_id, image_id)
    if image["owner"] == AMAZON:
        raise errors.AccessDenied(f"Streaming image {image_id} is owned by amazon and cannot be changed.",
                                  resourceId=image_id)
    require_state(image, "streaming image", image_id, allowed, action)
    return studio_id, image_id, image


@operation("nimble", "CreateStreamingImage")
@idempotent("clientToken", TOKEN_REUSED)
def create_streaming_image(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    studio = usable_studio(ctx, studio_id)
    image_id = new_id(ctx)
    text = f"{req['name']} {req.get('description') or ''}".lower()
    image = {
        "streamingImageId": image_id,
        "arn": ctx.arn("nimble", f"streaming-image/{image_id}"),
        "name": req["name"],
        "description": req.get("description"),
        "ec2ImageId": req["ec2ImageId"],
        "owner": ctx.account,
        "platform": "WINDOWS" if "windows" in text else "LINUX",
        "eulaIds": [],
        "tags": req.get("tags") or {},
        "state": "CREATE_IN_PROGRESS",
        **status("STREAMING_IMAGE_CREATE_IN_PROGRESS"),
        "_studioId": studio_id,
        "_rev": 1,
    }
    studio_key = studio["studioEncryptionConfiguration"]
    if studio_key.get("keyType") == "CUSTOMER_MANAGED_KEY":
        # Images of a studio encrypted with its own key are encrypted with that key [inferred].
        image["encryptionConfiguration"] = dict(studio_key)
    resource_key = key(studio_id, image_id)
    insert(ctx, STREAMING_IMAGE, resource_key, image, parent=studio_id)
    failure = take_fault(ctx, "CreateStreamingImage")
    settle(ctx, CREATED, STREAMING_IMAGE, resource_key, image, outcome=failed(failure, "CREATE_FAILED"))
    return {"streamingImage": STREAMING_IMAGE_RECORD.view(image)}


STREAMING_IMAGE_RECORD.get_operation("nimble", "GetStreamingImage", "streamingImage",
                                     lambda ctx, req: find_image(ctx, req["studioId"], req["streamingImageId"]))


# The studio's images; ``owner`` filters by owner ("amazon", or an account id).
STREAMING_IMAGE_RECORD.list_operation("nimble", "ListStreamingImages", in_studio("owner"), page_size=LIST_PAGE_SIZE)


@operation("nimble", "UpdateStreamingImage")
@idempotent("clientToken", TOKEN_REUSED)
def update_streaming_image(ctx: RequestContext, req: dict) -> dict:
    studio_id, image_id, image = _own_image(ctx, req, USABLE_STATES, "update")
    changes = {field: req[field] for field in ("name", "description") if req.get(field) is not None}
    prior = {field: image.get(field) for field in changes}
    image.update(changes)
    image.update(state="UPDATE_IN_PROGRESS", **status("STREAMING_IMAGE_UPDATE_IN_PROGRESS"))
    revise(image)
    resource_key = key(studio_id, image_id)
    ctx.resources.update(STREAMING_IMAGE, resource_key, image)
    failure = take_fault(ctx, "UpdateStreamingImage")
    settle(ctx, UPDATED, STREAMING_IMAGE, resource_key, image,
           outcome={"state": "UPDATE_FAILED", **failure, **prior} if failure else None)
    return {"streamingImage": STREAMING_IMAGE_RECORD.view(image)}


@operation("nimble", "DeleteStreamingImage")
@idempotent("clientToken", TOKEN_REUSED)
def delete_streaming_image(ctx: RequestContext, req: dict) -> dict:
    studio_id, image_id, image = _own_image(ctx, req, USABLE_STATES | {"CREATE_FAILED"}, "delete")
    users = [profile["launchProfileId"]
             for _, profile in ctx.resources.list(LAUNCH_PROFILE, parent=studio_id)
             if profile["state"] not in GONE_STATES
             and image_id in profile["streamConfiguration"]["streamingImageIds"]]
    if users:
        raise errors.Conflict(f"Streaming image {image_id} is used by launch profiles {', '.join(users)}; "
                              "remove it from them or delete them first.", resourceId=image_id, code="RESOURCE_IN_USE")
    image.update(state="DELETE_IN_PROGRESS", **status("STREAMING_IMAGE_DELETE_IN_PROGRESS"))
    revise(image)
    resource_key = key(studio_id, image_id)
    ctx.resources.update(STREAMING_IMAGE, resource_key, image)
    failure = take_fault(ctx, "DeleteStreamingImage")
    settle(ctx, DELETED, STREAMING_IMAGE, resource_key, image, outcome=failed(failure, "DELETE_FAILED"))
    return {"streamingImage": STREAMING_IMAGE_RECORD.view(image)}
