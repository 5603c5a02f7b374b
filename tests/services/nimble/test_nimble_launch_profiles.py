"""Nimble Studio launch profiles: lifecycle, validation rules, asynchronous failures, details,
initialization, filters."""
from __future__ import annotations

import pytest

from nimble_support import (ACCOUNT, PROTOCOL, REGION, SUBNET, built_in_image, create_component,
                            create_launch_profile, error_of, nimble, ready_launch_profile, ready_studio,
                            stream_configuration)  # noqa: F401

AD = {"activeDirectoryConfiguration": {"directoryId": "d-0123456789", "computerAttributes": [
    {"name": "site", "value": "lon"}], "organizationalUnitDistinguishedName": "OU=WS,DC=corp"}}


def _studio_with_parts(nimble):
    studio_id = ready_studio(nimble)
    component = create_component(nimble.client(), studio_id)
    image = built_in_image(nimble.client(), studio_id)
    return studio_id, component["studioComponentId"], image["streamingImageId"]


def test_create_defaults_and_become_ready(nimble):
    nb = nimble.client()
    studio_id, component_id, image_id = _studio_with_parts(nimble)
    profile = create_launch_profile(nb, studio_id, [component_id], [image_id], description="for artists",
                                    tags={"dept": "anim"})
    assert profile["arn"] == f"arn:aws:nimble:{REGION}:{ACCOUNT}:launch-profile/{profile['launchProfileId']}"
    assert len(profile["launchProfileId"]) == 22
    assert (profile["state"], profile["statusCode"]) == ("CREATE_IN_PROGRESS", "LAUNCH_PROFILE_CREATE_IN_PROGRESS")
    assert profile["launchProfileProtocolVersions"] == PROTOCOL and profile["ec2SubnetIds"] == [SUBNET]
    assert profile["streamConfiguration"] == {
        "clipboardMode": "ENABLED", "ec2InstanceTypes": ["g4dn.xlarge", "g4dn.2xlarge"],
        "streamingImageIds": [image_id], "maxSessionLengthInMinutes": 690, "maxStoppedSessionLengthInMinutes": 0,
        "sessionPersistenceMode": "DEACTIVATED", "sessionBackup": {"mode": "DEACTIVATED", "maxBackupsToRetain": 0}}
    assert {r["state"] for r in profile["validationResults"]} == {"VALIDATION_IN_PROGRESS"}
    nimble.advance(1)
    ready = nb.get_launch_profile(studioId=studio_id, launchProfileId=profile["launchProfileId"])["launchProfile"]
    assert (ready["state"], ready["statusCode"], ready["statusMessage"]) == (
        "READY", "LAUNCH_PROFILE_CREATED", "Launch Profile has been created")
    assert [r["type"] for r in ready["validationResults"]] == [
        "VALIDATE_ACTIVE_DIRECTORY_STUDIO_COMPONENT", "VALIDATE_SUBNET_ASSOCIATION",
        "VALIDATE_NETWORK_ACL_ASSOCIATION", "VALIDATE_SECURITY_GROUP_ASSOCIATION"]
    assert {r["statusCode"] for r in ready["validationResults"]} == {"VALIDATION_SUCCESS"}


def test_persistent_configuration_defaults(nimble):
    nb = nimble.client()
    studio_id, component_id, image_id = _studio_with_parts(nimble)
    profile = create_launch_profile(nb, studio_id, [component_id], [image_id], streamConfiguration=stream_configuration(
        [image_id], sessionPersistenceMode="ACTIVATED", maxSessionLengthInMinutes=60,
        volumeConfiguration={"size": 200}, sessionBackup={"mode": "AUTOMATIC", "maxBackupsToRetain": 3},
        sessionStorage={"mode": ["UPLOAD"], "root": {"linux": "/home/artist", "windows": "C:/Users/artist"}}))
    configuration = profile["streamConfiguration"]
    assert configuration["automaticTerminationMode"] == "DEACTIVATED"
    assert configuration["volumeConfiguration"] == {"size": 200, "throughput": 125, "iops": 3000}
    assert configuration["sessionBackup"] == {"mode": "AUTOMATIC", "maxBackupsToRetain": 3}
    assert configuration["sessionStorage"]["mode"] == ["UPLOAD"]


@pytest.mark.parametrize("configuration, message", [
    ({"maxStoppedSessionLengthInMinutes": 30},
     "maxStoppedSessionLengthInMinutes can only be above 0 when sessionPersistenceMode and automaticTerminationMode"),
    ({"sessionPersistenceMode": "ACTIVATED", "maxStoppedSessionLengthInMinutes": 30},
     "maxStoppedSessionLengthInMinutes can only be above 0"),
    ({"sessionPersistenceMode": "ACTIVATED", "automaticTerminationMode": "DEACTIVATED",
      "maxStoppedSessionLengthInMinutes": 30}, "maxStoppedSessionLengthInMinutes can only be above 0"),
    ({"automaticTerminationMode": "ACTIVATED"}, "automaticTerminationMode is only allowed when sessionPersistenceMode"),
    ({"volumeConfiguration": {"size": 100}}, "volumeConfiguration is only allowed when sessionPersistenceMode"),
    ({"sessionBackup": {"mode": "AUTOMATIC"}}, "sessionBackup.mode AUTOMATIC is only allowed"),
    ({"ec2InstanceTypes": ["g4dn.xlarge", "g4dn.xlarge"]}, "ec2InstanceTypes must not repeat"),
    ({"maxSessionLengthInMinutes": 43201}, "less than or equal to 43200"),
    ({"maxSessionLengthInMinutes": 0}, "greater than or equal to 1"),
    ({"maxStoppedSessionLengthInMinutes": 5761}, "less than or equal to 5760"),
    ({"ec2InstanceTypes": []}, "ec2InstanceTypes' failed to satisfy constraint: Member must have length greater"),
    ({"ec2InstanceTypes": ["m5.large"]}, "enum value set"),
    ({"sessionBackup": {"maxBackupsToRetain": 11}}, "less than or equal to 10"),
    ({"volumeConfiguration": {"iops": 100}}, "greater than or equal to 3000"),
])
def test_stream_configuration_rules(nimble, configuration, message):
    studio_id, component_id, image_id = _studio_with_parts(nimble)
    problem = error_of(create_launch_profile, nimble.client(), studio_id, [component_id], [image_id],
                       streamConfiguration=stream_configuration([image_id], **configuration))
    assert problem["Code"] == "ValidationException" and message in problem["message"]


def test_profile_level_rules(nimble):
    nb = nimble.client()
    studio_id, component_id, image_id = _studio_with_parts(nimble)
    create = lambda **extra: create_launch_profile(nb, studio_id, [component_id], [image_id], **extra)  # noqa: E731
    version = error_of(create, launchProfileProtocolVersions=[])
    assert "launchProfileProtocolVersions must be [\"2021-03-31\"]" in version["message"]
    assert "launchProfileProtocolVersions.1.member" in error_of(create, launchProfileProtocolVersions=["2022-01-01"])["message"]
    assert "at least one subnet" in error_of(create, ec2SubnetIds=[])["message"]
    assert "length less than or equal to 6" in error_of(create, ec2SubnetIds=[f"subnet-0000000{i}" for i in range(7)])["message"]
    assert "studioComponentIds" in error_of(create, studioComponentIds=[])["message"]
    unknown = error_of(create, studioComponentIds=["AAAAAAAAAAAAAAAAAAAAAA"])
    assert unknown["Code"] == "ResourceNotFoundException" and unknown["context"] == {"resourceId": "AAAAAAAAAAAAAAAAAAAAAA"}
    ads = [create_component(nb, studio_id, name=f"ad{i}", type="ACTIVE_DIRECTORY", configuration=AD)["studioComponentId"]
           for i in range(2)]
    assert "at most one ACTIVE_DIRECTORY" in error_of(create, studioComponentIds=ads)["message"]
    assert "studioComponentIds must not repeat" in error_of(create, studioComponentIds=[component_id] * 2)["message"]


def test_asynchronous_failures(nimble):
    nb = nimble.client()
    studio_id, component_id, built_in = _studio_with_parts(nimble)
    pending = nb.create_streaming_image(studioId=studio_id, name="late", ec2ImageId="ami-0123456789abcdef0")[
        "streamingImage"]["streamingImageId"]
    nimble.set_delays({"nimble.streaming_image.create": 5})
    slow = nb.create_streaming_image(studioId=studio_id, name="slow", ec2ImageId="ami-0123456789abcdef0")[
        "streamingImage"]["streamingImageId"]
    # Checked when creation completes: the first image is READY by then, the second is not.
    fine = create_launch_profile(nb, studio_id, [component_id], [pending])["launchProfileId"]
    not_ready = create_launch_profile(nb, studio_id, [component_id], [slow])["launchProfileId"]
    missing = create_launch_profile(nb, studio_id, [component_id], ["AAAAAAAAAAAAAAAAAAAAAA"])["launchProfileId"]
    subnets = create_launch_profile(nb, studio_id, [component_id], [built_in], ec2SubnetIds=["my-subnet"])["launchProfileId"]
    nimble.advance(1)

    def state(profile_id):
        profile = nb.get_launch_profile(studioId=studio_id, launchProfileId=profile_id)["launchProfile"]
        return profile["state"], profile["statusCode"]

    assert state(fine) == ("READY", "LAUNCH_PROFILE_CREATED")
    assert state(not_ready) == ("CREATE_FAILED", "STREAMING_IMAGE_NOT_READY")
    assert state(missing) == ("CREATE_FAILED", "STREAMING_IMAGE_NOT_FOUND")
    assert state(subnets) == ("CREATE_FAILED", "INVALID_SUBNETS_PROVIDED")
    results = nb.get_launch_profile(studioId=studio_id, launchProfileId=subnets)["launchProfile"]["validationResults"]
    assert {r["type"]: r["statusCode"] for r in results}["VALIDATE_SUBNET_ASSOCIATION"] == "VALIDATION_FAILED_SUBNET_NOT_FOUND"
    assert error_of(nb.update_launch_profile, studioId=studio_id, launchProfileId=missing, name="x")["Code"] == \
        "ValidationException"
    nimble.advance(3600)
    assert error_of(nb.get_launch_profile, studioId=studio_id, launchProfileId=missing)["status"] == 404


def test_update_lifecycle_and_failed_update(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, image_id = ready_launch_profile(nimble, studio_id)
    updated = nb.update_launch_profile(studioId=studio_id, launchProfileId=profile_id, name="renamed",
                                       streamConfiguration=stream_configuration([image_id], maxSessionLengthInMinutes=120))
    profile = updated["launchProfile"]
    assert (profile["state"], profile["name"]) == ("UPDATE_IN_PROGRESS", "renamed")
    assert profile["streamConfiguration"]["maxSessionLengthInMinutes"] == 120
    assert error_of(nb.update_launch_profile, studioId=studio_id, launchProfileId=profile_id,
                    name="again")["Code"] == "ConflictException"
    assert error_of(nb.delete_launch_profile, studioId=studio_id, launchProfileId=profile_id)["Code"] == "ConflictException"
    nimble.advance(1)
    profile = nb.get_launch_profile(studioId=studio_id, launchProfileId=profile_id)["launchProfile"]
    assert (profile["state"], profile["statusCode"]) == ("READY", "LAUNCH_PROFILE_UPDATED")
    # An update to an image that is not there fails and keeps the prior configuration.
    nb.update_launch_profile(studioId=studio_id, launchProfileId=profile_id, name="broken",
                             streamConfiguration=stream_configuration(["AAAAAAAAAAAAAAAAAAAAAA"]))
    nimble.advance(1)
    profile = nb.get_launch_profile(studioId=studio_id, launchProfileId=profile_id)["launchProfile"]
    assert (profile["state"], profile["statusCode"], profile["name"]) == (
        "UPDATE_FAILED", "STREAMING_IMAGE_NOT_FOUND", "renamed")
    assert profile["streamConfiguration"]["streamingImageIds"] == [image_id]
    problem = error_of(nb.update_launch_profile, studioId=studio_id, launchProfileId=profile_id,
                       launchProfileProtocolVersions=[])
    assert problem["Code"] == "ValidationException"


def test_delete_refused_while_sessions_exist(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    session_id = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["sessionId"]
    nimble.advance(1)
    nb.delete_launch_profile(studioId=studio_id, launchProfileId=profile_id)
    nimble.advance(1)
    profile = nb.get_launch_profile(studioId=studio_id, launchProfileId=profile_id)["launchProfile"]
    assert (profile["state"], profile["statusCode"]) == ("DELETE_FAILED", "LAUNCH_PROFILE_WITH_STREAM_SESSIONS_NOT_DELETED")
    nb.delete_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    deleting = nb.delete_launch_profile(studioId=studio_id, launchProfileId=profile_id)["launchProfile"]
    assert deleting["state"] == "DELETE_IN_PROGRESS"
    nimble.advance(1)
    profile = nb.get_launch_profile(studioId=studio_id, launchProfileId=profile_id)["launchProfile"]
    assert (profile["state"], profile["statusCode"]) == ("DELETED", "LAUNCH_PROFILE_DELETED")
    assert error_of(nb.create_streaming_session, studioId=studio_id, launchProfileId=profile_id)["Code"] == \
        "ValidationException"


def test_list_filters_and_pages(nimble):
    nb = nimble.client()
    studio_id, component_id, image_id = _studio_with_parts(nimble)
    nimble.advance(1)
    created = [create_launch_profile(nb, studio_id, [component_id], [image_id], name=f"lp{i}")["launchProfileId"]
               for i in range(5)]
    nimble.advance(1)
    nb.update_launch_profile(studioId=studio_id, launchProfileId=created[1], name="busy")
    listed = [p["launchProfileId"] for page in nb.get_paginator("list_launch_profiles").paginate(
        studioId=studio_id, PaginationConfig={"PageSize": 2}) for p in page["launchProfiles"]]
    assert listed == created
    busy = nb.list_launch_profiles(studioId=studio_id, states=["UPDATE_IN_PROGRESS"])["launchProfiles"]
    assert [p["launchProfileId"] for p in busy] == [created[1]]
    assert error_of(nb.list_launch_profiles, studioId=studio_id, states=["BUSY"])["Code"] == "ValidationException"


def test_details(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, image_id = ready_launch_profile(nimble, studio_id)
    details = nb.get_launch_profile_details(studioId=studio_id, launchProfileId=profile_id)
    assert details["launchProfile"]["launchProfileId"] == profile_id
    assert [i["streamingImageId"] for i in details["streamingImages"]] == [image_id]
    assert details["streamingImages"][0]["eulaIds"]
    summary = details["studioComponentSummaries"][0]
    assert (summary["name"], summary["type"]) == ("render-farm", "COMPUTE_FARM") and "configuration" not in summary


def test_initialization(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    ad = create_component(nb, studio_id, name="corp-ad", type="ACTIVE_DIRECTORY", configuration=AD,
                          ec2SecurityGroupIds=["sg-0000000a"],
                          initializationScripts=[{"platform": "WINDOWS", "runContext": "SYSTEM_INITIALIZATION",
                                                  "script": "join.ps1", "launchProfileProtocolVersion": "2021-03-31"}])
    fsx = create_component(nb, studio_id, name="fsx", type="SHARED_FILE_SYSTEM",
                           configuration={"sharedFileSystemConfiguration": {"fileSystemId": "fs-1"}},
                           ec2SecurityGroupIds=["sg-0000000a", "sg-0000000b"],
                           runtimeRoleArn=f"arn:aws:iam::{ACCOUNT}:role/mount",
                           initializationScripts=[
                               {"platform": "LINUX", "runContext": "SYSTEM_INITIALIZATION", "script": "mount.sh"},
                               {"platform": "LINUX", "runContext": "USER_INITIALIZATION", "script": "link.sh"},
                               {"platform": "WINDOWS", "runContext": "USER_INITIALIZATION", "script": "map.ps1"}])
    image_id = built_in_image(nb, studio_id)["streamingImageId"]
    profile_id = create_launch_profile(nb, studio_id, [ad["studioComponentId"], fsx["studioComponentId"]],
                                       [image_id])["launchProfileId"]
    initialize = lambda **kw: nb.get_launch_profile_initialization(  # noqa: E731
        studioId=studio_id, launchProfileId=profile_id, **{"launchProfileProtocolVersions": PROTOCOL,
                                                           "launchPurpose": "WORKSTATION", "platform": "LINUX", **kw})
    assert error_of(initialize)["Code"] == "ConflictException"  # not READY yet
    nimble.advance(1)
    linux = initialize()["launchProfileInitialization"]
    assert (linux["launchProfileId"], linux["platform"], linux["launchPurpose"], linux["launchProfileProtocolVersion"]) == (
        profile_id, "LINUX", "WORKSTATION", "2021-03-31")
    assert linux["ec2SecurityGroupIds"] == ["sg-0000000a", "sg-0000000b"]
    assert linux["activeDirectory"] == {
        "studioComponentId": ad["studioComponentId"], "studioComponentName": "corp-ad", "directoryId": "d-0123456789",
        "organizationalUnitDistinguishedName": "OU=WS,DC=corp", "computerAttributes": [{"name": "site", "value": "lon"}]}
    assert linux["systemInitializationScripts"] == [{
        "studioComponentId": fsx["studioComponentId"], "studioComponentName": "fsx", "script": "mount.sh",
        "runtimeRoleArn": f"arn:aws:iam::{ACCOUNT}:role/mount"}]
    assert [s["script"] for s in linux["userInitializationScripts"]] == ["link.sh"]
    windows = initialize(platform="WINDOWS")["launchProfileInitialization"]
    assert [s["script"] for s in windows["systemInitializationScripts"]] == ["join.ps1"]
    assert [s["script"] for s in windows["userInitializationScripts"]] == ["map.ps1"]
    assert "LINUX or WINDOWS" in error_of(initialize, platform="MAC")["message"]
    assert "launchPurpose" in error_of(initialize, launchPurpose="work station")["message"]
    assert "protocol version 2021-03-31" in error_of(initialize, launchProfileProtocolVersions=["2020-01-01"])["message"]
