"""Nimble Studio streaming images: built-in images, lifecycle, owner filter, protection."""
from __future__ import annotations

import re

from nimble_support import (ACCOUNT, REGION, built_in_image, create_component, create_launch_profile,
                            create_studio, error_of, nimble, ready_studio)  # noqa: F401

AMI = "ami-0123456789abcdef0"


def test_every_studio_has_nimbles_images(nimble):
    nb = nimble.client()
    first = create_studio(nb, "one")["studioId"]  # there from the start, READY
    second = create_studio(nb, "two")["studioId"]
    images = nb.list_streaming_images(studioId=first)["streamingImages"]
    assert [(i["name"], i["platform"], i["owner"], i["state"]) for i in images] == [
        ("NimbleStudioWindowsStreamImage", "WINDOWS", "amazon", "READY"),
        ("NimbleStudioLinuxStreamImage", "LINUX", "amazon", "READY"),
    ]
    assert all(len(i["eulaIds"]) == 6 and re.fullmatch(r"ami-[0-9a-f]{17}", i["ec2ImageId"]) for i in images)
    # The same ids in every studio of the Region, as the service had.
    assert [i["streamingImageId"] for i in nb.list_streaming_images(studioId=second)["streamingImages"]] == [
        i["streamingImageId"] for i in images]
    image = images[0]
    assert image["arn"] == f"arn:aws:nimble:{REGION}:{ACCOUNT}:streaming-image/{image['streamingImageId']}"
    assert nb.get_streaming_image(studioId=first, streamingImageId=image["streamingImageId"])["streamingImage"] == image


def test_create_update_delete_lifecycle(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    image = nb.create_streaming_image(studioId=studio_id, name="Windows farm image", description="custom",
                                      ec2ImageId=AMI, tags={"k": "v"})["streamingImage"]
    image_id = image["streamingImageId"]
    assert (image["state"], image["statusCode"], image["owner"], image["platform"]) == (
        "CREATE_IN_PROGRESS", "STREAMING_IMAGE_CREATE_IN_PROGRESS", ACCOUNT, "WINDOWS")
    assert image["eulaIds"] == [] and image["tags"] == {"k": "v"}
    assert error_of(nb.update_streaming_image, studioId=studio_id, streamingImageId=image_id,
                    name="x")["Code"] == "ConflictException"
    nimble.advance(1)
    assert nb.get_streaming_image(studioId=studio_id, streamingImageId=image_id)["streamingImage"]["state"] == "READY"
    updating = nb.update_streaming_image(studioId=studio_id, streamingImageId=image_id, name="renamed")
    assert updating["streamingImage"]["state"] == "UPDATE_IN_PROGRESS"
    nimble.advance(1)
    image = nb.get_streaming_image(studioId=studio_id, streamingImageId=image_id)["streamingImage"]
    assert (image["state"], image["name"], image["description"]) == ("READY", "renamed", "custom")
    nb.delete_streaming_image(studioId=studio_id, streamingImageId=image_id)
    nimble.advance(1)
    image = nb.get_streaming_image(studioId=studio_id, streamingImageId=image_id)["streamingImage"]
    assert (image["state"], image["statusCode"]) == ("DELETED", "STREAMING_IMAGE_DELETED")
    nimble.advance(3600)
    assert error_of(nb.get_streaming_image, studioId=studio_id, streamingImageId=image_id)["status"] == 404


def test_owner_filter_and_pages(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    mine = [nb.create_streaming_image(studioId=studio_id, name=f"linux {i}", ec2ImageId=AMI)[
        "streamingImage"]["streamingImageId"] for i in range(9)]
    owned = [i["streamingImageId"] for p in nb.get_paginator("list_streaming_images").paginate(
        studioId=studio_id, owner=ACCOUNT) for i in p["streamingImages"]]
    assert owned == mine
    everything = nb.list_streaming_images(studioId=studio_id)
    assert len(everything["streamingImages"]) == 10 and everything["nextToken"]
    rest = nb.list_streaming_images(studioId=studio_id, nextToken=everything["nextToken"])
    assert len(rest["streamingImages"]) == 1 and "nextToken" not in rest
    assert len(nb.list_streaming_images(studioId=studio_id, owner="amazon")["streamingImages"]) == 2
    wrong = error_of(nb.list_streaming_images, studioId=studio_id, owner="amazon", nextToken=everything["nextToken"])
    assert wrong["Code"] == "ValidationException"


def test_nimbles_images_cannot_be_changed(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    image_id = built_in_image(nb, studio_id)["streamingImageId"]
    for call in (nb.update_streaming_image, nb.delete_streaming_image):
        problem = error_of(call, studioId=studio_id, streamingImageId=image_id)
        assert problem["Code"] == "AccessDeniedException" and problem["status"] == 403


def test_image_in_use_cannot_be_deleted_and_failures(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    image_id = nb.create_streaming_image(studioId=studio_id, name="img", ec2ImageId=AMI)["streamingImage"]["streamingImageId"]
    component = create_component(nb, studio_id)
    nimble.advance(1)
    create_launch_profile(nb, studio_id, [component["studioComponentId"]], [image_id])
    problem = error_of(nb.delete_streaming_image, studioId=studio_id, streamingImageId=image_id)
    assert problem["Code"] == "ConflictException" and "used by launch profiles" in problem["message"]
    nimble.arm_fault("CreateStreamingImage", "ACCESS_DENIED")
    failed = nb.create_streaming_image(studioId=studio_id, name="denied", ec2ImageId=AMI)["streamingImage"]
    nimble.arm_fault("UpdateStreamingImage", "INTERNAL_ERROR")
    nb.update_streaming_image(studioId=studio_id, streamingImageId=image_id, description="new")
    nimble.advance(1)
    failed = nb.get_streaming_image(studioId=studio_id, streamingImageId=failed["streamingImageId"])["streamingImage"]
    assert (failed["state"], failed["statusCode"]) == ("CREATE_FAILED", "ACCESS_DENIED")
    image = nb.get_streaming_image(studioId=studio_id, streamingImageId=image_id)["streamingImage"]
    assert (image["state"], image.get("description")) == ("UPDATE_FAILED", None)


def test_ami_pattern_and_encryption_from_the_studio(nimble):
    nb = nimble.client()
    bad = error_of(nb.create_streaming_image, studioId="x", name="n", ec2ImageId="image-1")
    assert bad["Code"] == "ValidationException" and "ec2ImageId" in bad["message"]
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd"
    studio_id = ready_studio(nimble, "keyed", studioEncryptionConfiguration={"keyType": "CUSTOMER_MANAGED_KEY",
                                                                             "keyArn": key_arn})
    image = nb.create_streaming_image(studioId=studio_id, name="img", ec2ImageId=AMI)["streamingImage"]
    assert image["encryptionConfiguration"] == {"keyType": "CUSTOMER_MANAGED_KEY", "keyArn": key_arn}
