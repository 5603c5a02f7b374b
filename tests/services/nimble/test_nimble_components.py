"""Nimble Studio studio components: every type and configuration, rules, lifecycle, filters."""
from __future__ import annotations

import re

import pytest

from nimble_support import (ACCOUNT, REGION, create_component, create_launch_profile, error_of,
                            built_in_image, nimble, ready_studio)  # noqa: F401

AD = {"activeDirectoryConfiguration": {
    "directoryId": "d-0123456789", "organizationalUnitDistinguishedName": "OU=Workstations,DC=corp,DC=example,DC=com",
    "computerAttributes": [{"name": "location", "value": "london"}]}}
FSX = {"sharedFileSystemConfiguration": {
    "fileSystemId": "fs-0123456789abcdef0", "endpoint": "fsx.corp.example.com", "shareName": "share",
    "linuxMountPoint": "/mnt/fsxshare", "windowsMountDrive": "Z"}}
KINDS = [
    ("ACTIVE_DIRECTORY", "AWS_MANAGED_MICROSOFT_AD", AD),
    ("SHARED_FILE_SYSTEM", "AMAZON_FSX_FOR_WINDOWS", FSX),
    ("SHARED_FILE_SYSTEM", "AMAZON_FSX_FOR_LUSTRE", FSX),
    ("COMPUTE_FARM", "CUSTOM", {"computeFarmConfiguration": {"activeDirectoryUser": "render",
                                                             "endpoint": "deadline.corp:8080"}}),
    ("LICENSE_SERVICE", "CUSTOM", {"licenseServiceConfiguration": {"endpoint": "licenses.corp:27000"}}),
    ("CUSTOM", "CUSTOM", None),
]


def test_every_type_with_its_configuration(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    created = []
    for kind, subtype, configuration in KINDS:
        extra = {"configuration": configuration} if configuration else {}
        component = nb.create_studio_component(
            studioId=studio_id, name=f"{kind.lower()}-{subtype.lower()}", type=kind, subtype=subtype,
            description="a component", ec2SecurityGroupIds=["sg-0123456789abcdef0"],
            runtimeRoleArn=f"arn:aws:iam::{ACCOUNT}:role/runtime",
            secureInitializationRoleArn=f"arn:aws:iam::{ACCOUNT}:role/secure",
            scriptParameters=[{"key": "ROOT", "value": "/mnt"}],
            initializationScripts=[{"launchProfileProtocolVersion": "2021-03-31", "platform": "LINUX",
                                    "runContext": "SYSTEM_INITIALIZATION", "script": "echo system"}],
            tags={"kind": kind}, **extra)["studioComponent"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", component["studioComponentId"])
        assert component["arn"] == f"arn:aws:nimble:{REGION}:{ACCOUNT}:studio-component/{component['studioComponentId']}"
        assert component["state"] == "CREATE_IN_PROGRESS"
        assert component["createdBy"] == ACCOUNT and component["type"] == kind and component["subtype"] == subtype
        created.append((component["studioComponentId"], configuration))
    nimble.advance(1)
    for component_id, configuration in created:
        component = nb.get_studio_component(studioId=studio_id, studioComponentId=component_id)["studioComponent"]
        assert (component["state"], component["statusCode"], component["statusMessage"]) == (
            "READY", "STUDIO_COMPONENT_CREATED", "Studio Component has been created")
        assert component.get("configuration") == configuration
        assert component["scriptParameters"] == [{"key": "ROOT", "value": "/mnt"}]


@pytest.mark.parametrize("kind, configuration, subtype, message", [
    ("ACTIVE_DIRECTORY", None, None, "needs configuration.activeDirectoryConfiguration"),
    ("ACTIVE_DIRECTORY", FSX, None, "not sharedFileSystemConfiguration"),
    ("CUSTOM", FSX, None, "takes no configuration"),
    ("SHARED_FILE_SYSTEM", {**FSX, **AD}, None, "exactly one of its members"),
    ("COMPUTE_FARM", {"computeFarmConfiguration": {}}, "AMAZON_FSX_FOR_LUSTRE", "does not fit"),
    ("ACTIVE_DIRECTORY", {"activeDirectoryConfiguration": {"directoryId": "corp"}}, None, "d-xxxxxxxxxx"),
])
def test_configuration_rules(nimble, kind, configuration, subtype, message):
    studio_id = ready_studio(nimble)
    extra = {"configuration": configuration} if configuration else {}
    if subtype:
        extra["subtype"] = subtype
    problem = error_of(nimble.client().create_studio_component, studioId=studio_id, name="x", type=kind, **extra)
    assert problem["Code"] == "ValidationException" and message in problem["message"]
    assert nimble.client().list_studio_components(studioId=studio_id)["studioComponents"] == []


def test_script_and_parameter_rules(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    missing = error_of(create_component, nb, studio_id, initializationScripts=[{"script": "echo"}])
    assert "initializationScripts.1 needs platform, runContext" in missing["message"]
    repeated = error_of(create_component, nb, studio_id, scriptParameters=[{"key": "A_1", "value": "x"},
                                                                           {"key": "A_1", "value": "y"}])
    assert "repeats the key A_1" in repeated["message"]
    group = error_of(create_component, nb, studio_id, ec2SecurityGroupIds=["web"])
    assert "not a security group id" in group["message"]
    model = error_of(create_component, nb, studio_id, scriptParameters=[{"key": "1bad", "value": "x"}])
    assert "scriptParameters.1.member.key" in model["message"]


def test_second_directory_component_fails(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    first = create_component(nb, studio_id, name="ad", type="ACTIVE_DIRECTORY", configuration=AD)
    second = create_component(nb, studio_id, name="ad2", type="ACTIVE_DIRECTORY", configuration=AD)
    nimble.advance(1)
    assert nb.get_studio_component(studioId=studio_id, studioComponentId=first["studioComponentId"])[
        "studioComponent"]["state"] == "READY"
    failed = nb.get_studio_component(studioId=studio_id, studioComponentId=second["studioComponentId"])["studioComponent"]
    assert (failed["state"], failed["statusCode"]) == ("CREATE_FAILED", "ACTIVE_DIRECTORY_ALREADY_EXISTS")
    nimble.advance(3600)
    assert error_of(nb.get_studio_component, studioId=studio_id,
                    studioComponentId=second["studioComponentId"])["Code"] == "ResourceNotFoundException"


def test_update_lifecycle_and_failed_update(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    component_id = create_component(nb, studio_id)["studioComponentId"]
    assert error_of(nb.update_studio_component, studioId=studio_id, studioComponentId=component_id,
                    name="x")["Code"] == "ConflictException"
    nimble.advance(1)
    updated = nb.update_studio_component(studioId=studio_id, studioComponentId=component_id, name="farm-2",
                                         type="LICENSE_SERVICE",
                                         configuration={"licenseServiceConfiguration": {"endpoint": "lic:1"}})
    component = updated["studioComponent"]
    assert (component["state"], component["name"], component["type"]) == ("UPDATE_IN_PROGRESS", "farm-2", "LICENSE_SERVICE")
    nimble.advance(1)
    component = nb.get_studio_component(studioId=studio_id, studioComponentId=component_id)["studioComponent"]
    assert (component["state"], component["statusCode"]) == ("READY", "STUDIO_COMPONENT_UPDATED")
    # A new type without its configuration is refused at once.
    problem = error_of(nb.update_studio_component, studioId=studio_id, studioComponentId=component_id,
                       type="SHARED_FILE_SYSTEM")
    assert "needs configuration.sharedFileSystemConfiguration" in problem["message"]
    nimble.arm_fault("UpdateStudioComponent", "ENCRYPTION_KEY_ACCESS_DENIED")
    nb.update_studio_component(studioId=studio_id, studioComponentId=component_id, name="farm-3")
    nimble.advance(1)
    component = nb.get_studio_component(studioId=studio_id, studioComponentId=component_id)["studioComponent"]
    assert (component["state"], component["statusCode"], component["name"]) == (
        "UPDATE_FAILED", "ENCRYPTION_KEY_ACCESS_DENIED", "farm-2")


def test_list_filters_and_pages(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    farms = [create_component(nb, studio_id, name=f"farm{i}")["studioComponentId"] for i in range(3)]
    custom = create_component(nb, studio_id, name="custom", type="CUSTOM", configuration=None)
    nimble.advance(1)
    nb.delete_studio_component(studioId=studio_id, studioComponentId=farms[0])
    listed = nb.list_studio_components(studioId=studio_id, types=["COMPUTE_FARM"], states=["READY"])
    assert [c["studioComponentId"] for c in listed["studioComponents"]] == farms[1:]
    assert [c["studioComponentId"] for c in nb.list_studio_components(
        studioId=studio_id, types=["CUSTOM"])["studioComponents"]] == [custom["studioComponentId"]]
    pages = list(nb.get_paginator("list_studio_components").paginate(studioId=studio_id,
                                                                     PaginationConfig={"PageSize": 2}))
    assert [len(p["studioComponents"]) for p in pages] == [2, 2]
    assert error_of(nb.list_studio_components, studioId=studio_id, maxResults=0)["Code"] == "ValidationException"


def test_delete_lifecycle_and_in_use(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    used = create_component(nb, studio_id)["studioComponentId"]
    spare = create_component(nb, studio_id, name="spare")["studioComponentId"]
    image = built_in_image(nb, studio_id)
    nimble.advance(1)
    create_launch_profile(nb, studio_id, [used], [image["streamingImageId"]])
    problem = error_of(nb.delete_studio_component, studioId=studio_id, studioComponentId=used)
    assert problem["Code"] == "ConflictException" and "used by launch profiles" in problem["message"]
    deleting = nb.delete_studio_component(studioId=studio_id, studioComponentId=spare)["studioComponent"]
    assert (deleting["state"], deleting["statusCode"]) == ("DELETE_IN_PROGRESS", "STUDIO_COMPONENT_DELETE_IN_PROGRESS")
    nimble.advance(1)
    deleted = nb.get_studio_component(studioId=studio_id, studioComponentId=spare)["studioComponent"]
    assert (deleted["state"], deleted["statusCode"]) == ("DELETED", "STUDIO_COMPONENT_DELETED")
    unknown = error_of(nb.get_studio_component, studioId=studio_id, studioComponentId="AAAAAAAAAAAAAAAAAAAAAA")
    assert unknown["status"] == 404 and unknown["context"] == {"resourceId": "AAAAAAAAAAAAAAAAAAAAAA"}


def test_create_failure_and_delete_failure_faults(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    nimble.arm_fault("CreateStudioComponent", "INTERNAL_ERROR")
    failed = create_component(nb, studio_id)["studioComponentId"]
    component_id = create_component(nb, studio_id, name="ok")["studioComponentId"]
    nimble.advance(1)
    assert nb.get_studio_component(studioId=studio_id, studioComponentId=failed)["studioComponent"]["state"] == "CREATE_FAILED"
    nimble.arm_fault("DeleteStudioComponent", "INTERNAL_ERROR")
    nb.delete_studio_component(studioId=studio_id, studioComponentId=component_id)
    nimble.advance(1)
    component = nb.get_studio_component(studioId=studio_id, studioComponentId=component_id)["studioComponent"]
    assert (component["state"], component["statusCode"]) == ("DELETE_FAILED", "INTERNAL_ERROR")
