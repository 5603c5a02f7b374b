"""Nimble Studio studios: lifecycle, validation, failures, SSO repair, deletion with dependents."""
from __future__ import annotations

import re

from nimble_support import (ACCOUNT, REGION, ROLE, USER_ROLE, create_component, create_studio,
                            error_of, nimble, ready_launch_profile, ready_studio)  # noqa: F401


def test_create_get_and_become_ready(nimble):
    nb = nimble.client()
    studio = create_studio(nb, "main", tags={"team": "fx"})
    assert re.fullmatch(rf"{REGION}:stid-[a-z0-9]{{16}}", studio["studioId"])
    suffix = studio["studioId"].split(":", 1)[1]
    assert studio["arn"] == f"arn:aws:nimble:{REGION}:{ACCOUNT}:studio/{suffix}"
    assert studio["studioUrl"] == f"https://main.nimblestudio.{REGION}.amazonaws.com"
    assert studio["homeRegion"] == REGION and studio["displayName"] == "main display"
    assert studio["studioEncryptionConfiguration"] == {"keyType": "AWS_OWNED_KEY"}
    assert studio["state"] == "CREATE_IN_PROGRESS" and studio["statusCode"] == "STUDIO_CREATE_IN_PROGRESS"
    assert "ssoClientId" not in studio and studio["tags"] == {"team": "fx"}
    nimble.advance(0.5)
    assert nb.get_studio(studioId=studio["studioId"])["studio"]["state"] == "CREATE_IN_PROGRESS"
    nimble.advance(0.5)
    ready = nb.get_studio(studioId=studio["studioId"])["studio"]
    assert ready["state"] == "READY" and ready["statusCode"] == "STUDIO_CREATED"
    assert ready["statusMessage"] == "The studio has been created successfully "
    assert re.fullmatch(r"[0-9a-f-]{36}", ready["ssoClientId"])
    assert ready["updatedAt"] > ready["createdAt"]


def test_list_studios_pages(nimble):
    nb = nimble.client()
    created = [create_studio(nb, f"studio{i:02d}")["studioId"] for i in range(12)]
    first = nb.list_studios()
    assert len(first["studios"]) == 10 and first["nextToken"]
    listed = [s["studioId"] for page in nb.get_paginator("list_studios").paginate() for s in page["studios"]]
    assert listed == created


def test_customer_managed_key(nimble):
    nb = nimble.client()
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    studio = create_studio(nb, "keyed", studioEncryptionConfiguration={"keyType": "CUSTOMER_MANAGED_KEY",
                                                                        "keyArn": key_arn})
    assert studio["studioEncryptionConfiguration"] == {"keyType": "CUSTOMER_MANAGED_KEY", "keyArn": key_arn}
    nimble.advance(1)
    assert nb.get_studio(studioId=studio["studioId"])["studio"]["state"] == "READY"
    # A key of another Region cannot be found by the studio: creation fails.
    other = create_studio(nb, "elsewhere", studioEncryptionConfiguration={
        "keyType": "CUSTOMER_MANAGED_KEY", "keyArn": key_arn.replace(REGION, "eu-west-1")})
    nimble.advance(1)
    failed = nb.get_studio(studioId=other["studioId"])["studio"]
    assert (failed["state"], failed["statusCode"]) == ("CREATE_FAILED", "ENCRYPTION_KEY_NOT_FOUND")


def test_encryption_configuration_rules(nimble):
    nb = nimble.client()
    missing = error_of(create_studio, nb, "nokey", studioEncryptionConfiguration={"keyType": "CUSTOMER_MANAGED_KEY"})
    assert missing["Code"] == "ValidationException" and "keyArn is required" in missing["message"]
    extra = error_of(create_studio, nb, "extra", studioEncryptionConfiguration={
        "keyType": "AWS_OWNED_KEY", "keyArn": "arn:aws:kms:us-west-2:000000000000:key/x"})
    assert "only allowed when keyType is CUSTOMER_MANAGED_KEY" in extra["message"]
    not_kms = error_of(create_studio, nb, "notkms", studioEncryptionConfiguration={
        "keyType": "CUSTOMER_MANAGED_KEY", "keyArn": "arn:aws:s3:::bucket"})
    assert "ARN of a KMS key" in not_kms["message"]
    assert nb.list_studios()["studios"] == []  # nothing was created


def test_model_and_role_validation(nimble):
    nb = nimble.client()
    bad_name = error_of(create_studio, nb, "Bad-Name")
    assert bad_name["Code"] == "ValidationException" and "studioName" in bad_name["message"]
    bad_role = error_of(nb.create_studio, studioName="roles", displayName="x", adminRoleArn="admin",
                        userRoleArn=USER_ROLE)
    assert bad_role["status"] == 400 and "adminRoleArn must be the ARN of an IAM role" in bad_role["message"]
    assert bad_role["code"] == "INVALID_ROLE_ARN"


def test_role_of_another_account_fails_creation_and_the_name_is_free_again(nimble):
    nb = nimble.client()
    studio = nb.create_studio(studioName="foreign", displayName="x", adminRoleArn=ROLE,
                              userRoleArn="arn:aws:iam::111122223333:role/user")["studio"]
    nimble.advance(1)
    failed = nb.get_studio(studioId=studio["studioId"])["studio"]
    assert (failed["state"], failed["statusCode"]) == ("CREATE_FAILED", "ROLE_NOT_OWNED_BY_STUDIO_OWNER")
    again = create_studio(nb, "foreign")  # a failed studio does not hold its name
    assert again["studioId"] != studio["studioId"]
    # CREATE_FAILED studios disappear after the retention delay.
    nimble.advance(3600)
    assert error_of(nb.get_studio, studioId=studio["studioId"])["Code"] == "ResourceNotFoundException"


def test_name_in_use_is_a_conflict(nimble):
    nb = nimble.client()
    studio = create_studio(nb, "taken")
    problem = error_of(create_studio, nb, "taken")
    assert problem["Code"] == "ConflictException" and problem["status"] == 409
    assert problem["context"] == {"resourceId": studio["studioId"]}


def test_not_found_carries_the_resource_id(nimble):
    problem = error_of(nimble.client().get_studio, studioId=f"{REGION}:stid-doesnotexist0000")
    assert problem["status"] == 404 and problem["Code"] == "ResourceNotFoundException"
    assert problem["context"] == {"resourceId": f"{REGION}:stid-doesnotexist0000"}
    assert problem["code"] == "RESOURCE_NOT_FOUND" and "could not be found" in problem["message"]


def test_update_and_nothing_changes_while_in_progress(nimble):
    nb = nimble.client()
    studio_id = create_studio(nb, "upd")["studioId"]
    busy = error_of(nb.update_studio, studioId=studio_id, displayName="new")
    assert busy["Code"] == "ConflictException" and "CREATE_IN_PROGRESS" in busy["message"]
    nimble.advance(1)
    updated = nb.update_studio(studioId=studio_id, displayName="renamed")["studio"]
    assert updated["state"] == "UPDATE_IN_PROGRESS" and updated["displayName"] == "renamed"
    assert error_of(nb.delete_studio, studioId=studio_id)["Code"] == "ConflictException"
    assert error_of(create_component, nb, studio_id)["Code"] == "ConflictException"
    nimble.advance(1)
    studio = nb.get_studio(studioId=studio_id)["studio"]
    assert (studio["state"], studio["statusCode"], studio["displayName"]) == ("READY", "STUDIO_UPDATED", "renamed")


def test_failed_update_keeps_the_prior_values(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble, "keep")
    nb.update_studio(studioId=studio_id, displayName="other", userRoleArn="arn:aws:iam::111122223333:role/u")
    nimble.advance(1)
    studio = nb.get_studio(studioId=studio_id)["studio"]
    assert (studio["state"], studio["statusCode"]) == ("UPDATE_FAILED", "ROLE_NOT_OWNED_BY_STUDIO_OWNER")
    assert studio["displayName"] == "keep display" and studio["userRoleArn"] == USER_ROLE
    # An UPDATE_FAILED studio still works: it can be updated again.
    nb.update_studio(studioId=studio_id, displayName="fixed")
    nimble.advance(1)
    assert nb.get_studio(studioId=studio_id)["studio"]["state"] == "READY"


def test_delete_lifecycle_and_disappearance(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble, "gone")
    deleting = nb.delete_studio(studioId=studio_id)["studio"]
    assert (deleting["state"], deleting["statusCode"]) == ("DELETE_IN_PROGRESS", "STUDIO_DELETE_IN_PROGRESS")
    nimble.advance(1)
    deleted = nb.get_studio(studioId=studio_id)["studio"]
    assert (deleted["state"], deleted["statusCode"]) == ("DELETED", "STUDIO_DELETED")
    assert [s["state"] for s in nb.list_studios()["studios"]] == ["DELETED"]
    assert error_of(nb.delete_studio, studioId=studio_id)["Code"] == "ValidationException"
    nimble.advance(3600)
    assert nb.list_studios()["studios"] == []
    assert error_of(nb.list_streaming_images, studioId=studio_id)["Code"] == "ResourceNotFoundException"


def test_delete_refused_while_dependents_exist(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble, "deps")
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    nb.delete_studio(studioId=studio_id)
    nimble.advance(1)
    studio = nb.get_studio(studioId=studio_id)["studio"]
    assert (studio["state"], studio["statusCode"]) == ("DELETE_FAILED", "STUDIO_WITH_LAUNCH_PROFILES_NOT_DELETED")
    nb.delete_launch_profile(studioId=studio_id, launchProfileId=profile_id)
    nimble.advance(1)
    nb.delete_studio(studioId=studio_id)
    nimble.advance(1)
    studio = nb.get_studio(studioId=studio_id)["studio"]
    assert studio["statusCode"] == "STUDIO_WITH_STUDIO_COMPONENTS_NOT_DELETED"
    for component in nb.list_studio_components(studioId=studio_id, states=["READY"])["studioComponents"]:
        nb.delete_studio_component(studioId=studio_id, studioComponentId=component["studioComponentId"])
    image = nb.create_streaming_image(studioId=studio_id, name="mine", ec2ImageId="ami-0123456789abcdef0")
    nimble.advance(1)
    nb.delete_studio(studioId=studio_id)
    nimble.advance(1)
    assert nb.get_studio(studioId=studio_id)["studio"]["statusCode"] == "STUDIO_WITH_STREAMING_IMAGES_NOT_DELETED"
    nb.delete_streaming_image(studioId=studio_id, streamingImageId=image["streamingImage"]["streamingImageId"])
    nimble.advance(1)
    nb.delete_studio(studioId=studio_id)  # Nimble's own images are no dependents
    nimble.advance(1)
    assert nb.get_studio(studioId=studio_id)["studio"]["state"] == "DELETED"


def test_sso_repair(nimble):
    nb = nimble.client()
    healthy = ready_studio(nimble, "healthy")
    valid = error_of(nb.start_studio_sso_configuration_repair, studioId=healthy)
    assert valid["Code"] == "ValidationException" and "valid IAM Identity Center configuration" in valid["message"]
    nimble.arm_fault("CreateStudio", "AWS_SSO_NOT_ENABLED")
    broken = create_studio(nb, "broken")["studioId"]
    nimble.advance(1)
    studio = nb.get_studio(studioId=broken)["studio"]
    assert (studio["state"], studio["statusCode"]) == ("CREATE_FAILED", "AWS_SSO_NOT_ENABLED")
    assert "ssoClientId" not in studio
    repairing = nb.start_studio_sso_configuration_repair(studioId=broken)["studio"]
    assert (repairing["state"], repairing["statusCode"]) == (
        "UPDATE_IN_PROGRESS", "AWS_SSO_CONFIGURATION_REPAIR_IN_PROGRESS")
    assert error_of(nb.start_studio_sso_configuration_repair, studioId=broken)["Code"] == "ConflictException"
    nimble.advance(1)
    repaired = nb.get_studio(studioId=broken)["studio"]
    assert (repaired["state"], repaired["statusCode"]) == ("READY", "AWS_SSO_CONFIGURATION_REPAIRED")
    assert repaired["ssoClientId"]
    nimble.advance(3600)  # a repaired studio is no longer a failed one: it stays
    assert nb.get_studio(studioId=broken)["studio"]["state"] == "READY"


def test_armed_faults_on_update_and_delete(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble, "faulty")
    nimble.arm_fault("UpdateStudio", "AWS_SSO_ACCESS_DENIED")
    nb.update_studio(studioId=studio_id, displayName="x")
    nimble.advance(1)
    studio = nb.get_studio(studioId=studio_id)["studio"]
    assert (studio["state"], studio["statusCode"], studio["displayName"]) == (
        "UPDATE_FAILED", "AWS_SSO_ACCESS_DENIED", "faulty display")
    nb.start_studio_sso_configuration_repair(studioId=studio_id)
    nimble.advance(1)
    nimble.arm_fault("DeleteStudio", "INTERNAL_ERROR", statusMessage="boom")
    nb.delete_studio(studioId=studio_id)
    nimble.advance(1)
    studio = nb.get_studio(studioId=studio_id)["studio"]
    assert (studio["state"], studio["statusCode"], studio["statusMessage"]) == ("DELETE_FAILED", "INTERNAL_ERROR", "boom")
    nb.delete_studio(studioId=studio_id)  # the fault was used up
    nimble.advance(1)
    assert nb.get_studio(studioId=studio_id)["studio"]["state"] == "DELETED"


def test_fault_route_validates(nimble):
    status, body = nimble.route("POST", "/_greenroom/nimble/faults", {"operation": "CreateStudio",
                                                                      "statusCode": "INSUFFICIENT_CAPACITY"})
    assert status == 400 and "not a status code of CreateStudio" in body["message"]
    status, body = nimble.route("POST", "/_greenroom/nimble/faults", {"operation": "GetStudio", "statusCode": "X"})
    assert status == 400 and "Unknown operation" in body["message"]
    nimble.arm_fault("CreateStudio", "INTERNAL_ERROR", count=2)
    status, body = nimble.route("GET", "/_greenroom/nimble/faults", query=f"account={ACCOUNT}&region={REGION}")
    assert status == 200 and [f["remaining"] for f in body["faults"]] == [2]
    status, body = nimble.route("DELETE", "/_greenroom/nimble/faults", query=f"account={ACCOUNT}&region={REGION}")
    assert body == {"cleared": 1}


def test_client_token_idempotency(nimble):
    nb = nimble.client()
    first = nb.create_studio(studioName="once", displayName="x", adminRoleArn=ROLE, userRoleArn=USER_ROLE,
                             clientToken="token-1")["studio"]
    nimble.advance(1)
    again = nb.create_studio(studioName="once", displayName="x", adminRoleArn=ROLE, userRoleArn=USER_ROLE,
                             clientToken="token-1")["studio"]
    assert again["studioId"] == first["studioId"] and again["state"] == "CREATE_IN_PROGRESS"
    assert len(nb.list_studios()["studios"]) == 1
    reused = error_of(nb.create_studio, studioName="twice", displayName="x", adminRoleArn=ROLE,
                      userRoleArn=USER_ROLE, clientToken="token-1")
    assert reused["Code"] == "ValidationException" and "already used with different parameters" in reused["message"]
    # The same token on another operation is another token.
    nb.delete_studio(studioId=first["studioId"], clientToken="token-1")
    repeat = nb.delete_studio(studioId=first["studioId"], clientToken="token-1")["studio"]
    assert repeat["state"] == "DELETE_IN_PROGRESS"
