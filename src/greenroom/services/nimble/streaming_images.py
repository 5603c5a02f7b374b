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
from ...core.operations import operation
from .common import (GONE_STATES, LAUNCH_PROFILE, STREAMING_IMAGE, USABLE_STATES, bump, delay,
    errors, filtered_fetch, find_child, find_studio, TOKEN_REUSED, insert,
    key, new_id, require_state, settle, settle_outcome, stable_id, status,
    take_fault, usable_studio)
from .eulas import BUILT_IN_IMAGE_EULA_IDS

LIST_PAGE_SIZE = 10  # ListStreamingImages has no maxResults [inferred]
AMAZON = "amazon"

_BUILT_IN = (
    ("WINDOWS", "NimbleStudioWindowsStreamImage", "Base windows image for NimbleStudio"),
    ("LINUX", "NimbleStudioLinuxStreamImage", "Base linux image for NimbleStudio"),
)


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


def _own_image(image: dict) -> None:
    if image["owner"] == AMAZON:
        raise errors.AccessDenied(
            f"Streaming image {image['streamingImageId']} is owned by amazon and cannot be changed.",
            resourceId=image["streamingImageId"])


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
    done_at = ctx.now + delay(ctx, "nimble.streaming_image.create")
    failure = take_fault(ctx, "CreateStreamingImage")
    settle_outcome(ctx, STREAMING_IMAGE, resource_key, image, done_at, from_state="CREATE_IN_PROGRESS",
                   failure=failure, failed_state="CREATE_FAILED", success_state="READY",
                   success_code="STREAMING_IMAGE_READY")
    return {"streamingImage": image}


@operation("nimble", "GetStreamingImage")
def get_streaming_image(ctx: RequestContext, req: dict) -> dict:
    return {"streamingImage": find_image(ctx, req["studioId"], req["streamingImageId"])}


@operation("nimble", "ListStreamingImages")
def list_streaming_images(ctx: RequestContext, req: dict) -> dict:
    """The studio's images; ``owner`` filters by owner ("amazon", or an account id)."""
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    owner = req.get("owner")
    page = ctx.page(
        filters={"studioId": studio_id, "owner": owner}, token=req.get("nextToken"),
        page_size=LIST_PAGE_SIZE,
        fetch=filtered_fetch(ctx, STREAMING_IMAGE, parent=studio_id,
                             where={"owner": owner} if owner else None),
    )
    return {"streamingImages": page.items, "nextToken": page.next_token}


@operation("nimble", "UpdateStreamingImage")
@idempotent("clientToken", TOKEN_REUSED)
def update_streaming_image(ctx: RequestContext, req: dict) -> dict:
    studio_id, image_id = req["studioId"], req["streamingImageId"]
    image = find_image(ctx, studio_id, image_id)
    _own_image(image)
    require_state(image, "streaming image", image_id, USABLE_STATES, "update")
    changes = {field: req[field] for field in ("name", "description") if req.get(field) is not None}
    prior = {field: image.get(field) for field in changes}
    image.update(changes)
    image.update(state="UPDATE_IN_PROGRESS", **status("STREAMING_IMAGE_UPDATE_IN_PROGRESS"))
    bump(image)
    resource_key = key(studio_id, image_id)
    ctx.resources.update(STREAMING_IMAGE, resource_key, image)
    done_at = ctx.now + delay(ctx, "nimble.streaming_image.update")
    failure = take_fault(ctx, "UpdateStreamingImage")
    outcome = ({"state": "UPDATE_FAILED", **failure, **prior} if failure
               else {"state": "READY", **status("STREAMING_IMAGE_READY")})
    settle(ctx, STREAMING_IMAGE, resource_key, image, done_at, outcome, from_state="UPDATE_IN_PROGRESS")
    return {"streamingImage": image}


@operation("nimble", "DeleteStreamingImage")
@idempotent("clientToken", TOKEN_REUSED)
def delete_streaming_image(ctx: RequestContext, req: dict) -> dict:
    studio_id, image_id = req["studioId"], req["streamingImageId"]
    image = find_image(ctx, studio_id, image_id)
    _own_image(image)
    require_state(image, "streaming image", image_id, USABLE_STATES | {"CREATE_FAILED"}, "delete")
    users = [profile["launchProfileId"]
             for _, profile in ctx.resources.list(LAUNCH_PROFILE, parent=studio_id)
             if profile["state"] not in GONE_STATES
             and image_id in profile["streamConfiguration"]["streamingImageIds"]]
    if users:
        raise errors.Conflict(f"Streaming image {image_id} is used by launch profiles {', '.join(users)}; "
                              "remove it from them or delete them first.", resourceId=image_id, code="RESOURCE_IN_USE")
    image.update(state="DELETE_IN_PROGRESS", **status("STREAMING_IMAGE_DELETE_IN_PROGRESS"))
    bump(image)
    resource_key = key(studio_id, image_id)
    ctx.resources.update(STREAMING_IMAGE, resource_key, image)
    done_at = ctx.now + delay(ctx, "nimble.streaming_image.delete")
    failure = take_fault(ctx, "DeleteStreamingImage")
    settle_outcome(ctx, STREAMING_IMAGE, resource_key, image, done_at, from_state="DELETE_IN_PROGRESS",
                   failure=failure, failed_state="DELETE_FAILED", success_state="DELETED",
                   success_code="STREAMING_IMAGE_DELETED")
    return {"streamingImage": image}
