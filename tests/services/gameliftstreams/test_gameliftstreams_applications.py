"""GameLift Streams applications through boto3, on the server and in process."""
from __future__ import annotations

import re
import uuid

import pytest

UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}
APP = {"Description": "My Game", "RuntimeEnvironment": UBUNTU, "ExecutablePath": "bin/game",
       "ApplicationSourceUri": "s3://game-bucket/builds/1/"}


def test_create_then_initialized_processing_ready(gls):
    c = gls.client()
    app = c.create_application(**APP, ApplicationLogPaths=["logs/"], ApplicationLogOutputUri="s3://log-bucket/game")
    assert app["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(r"a-[A-Za-z0-9]{9}", app["Id"])
    assert app["Arn"] == f"arn:aws:gameliftstreams:us-east-1:000000000000:application/{app['Id']}"
    assert app["Status"] == "INITIALIZED"
    assert app["RuntimeEnvironment"] == UBUNTU and app["ExecutablePath"] == "bin/game"
    assert app["ApplicationLogPaths"] == ["logs/"] and app["ApplicationLogOutputUri"] == "s3://log-bucket/game"
    assert app["AssociatedStreamGroups"] == []
    assert app["ReplicationStatuses"] == [{"Location": "us-east-1", "Status": "REPLICATING"}]
    gls.advance(0.5)
    assert c.get_application(Identifier=app["Id"])["Status"] == "PROCESSING"
    gls.advance(0.99)
    assert c.get_application(Identifier=app["Arn"])["Status"] == "PROCESSING"
    gls.advance(0.01)
    ready = c.get_application(Identifier=app["Arn"])
    assert ready["Status"] == "READY"
    assert ready["ReplicationStatuses"] == [{"Location": "us-east-1", "Status": "COMPLETED"}]
    assert ready["LastUpdatedAt"] > ready["CreatedAt"]


def test_lifecycle_delays_are_configurable(gls):
    gls.set_delays({"gameliftstreams.application.initialize": 10, "gameliftstreams.application.process": 20})
    c = gls.client()
    app = c.create_application(**APP)
    gls.advance(9)
    assert c.get_application(Identifier=app["Id"])["Status"] == "INITIALIZED"
    gls.advance(1)
    assert c.get_application(Identifier=app["Id"])["Status"] == "PROCESSING"
    gls.advance(20)
    assert c.get_application(Identifier=app["Id"])["Status"] == "READY"


@pytest.mark.parametrize("change, message", [
    ({"RuntimeEnvironment": {"Type": "PROTON", "Version": "2022"}}, "has no version 2022"),
    ({"RuntimeEnvironment": {"Type": "WINDOWS", "Version": "2022"}}, ".exe, .cmd or .bat"),
    ({"ApplicationSourceUri": "https://example.com/game"}, "Amazon S3 URI"),
    ({"ExecutablePath": "/usr/bin/game"}, "relative"),
    ({"ExecutablePath": "../outside/game"}, "relative"),
    ({"ApplicationLogPaths": ["logs/"]}, "ApplicationLogOutputUri is required"),
    ({"Tags": {"aws:owner": "me"}}, "reserved"),
])
def test_create_rejects_invalid_settings(gls, change, message):
    c = gls.client()
    with pytest.raises(c.exceptions.ValidationException, match=re.escape(message)):
        c.create_application(**{**APP, **change})
    assert c.list_applications()["Items"] == []


def test_model_validation_comes_first(gls):
    c = gls.client()
    with pytest.raises(c.exceptions.ValidationException, match="Description"):
        c.create_application(**{**APP, "Description": "bad\u00e9description"})
    with pytest.raises(c.exceptions.ValidationException, match="RuntimeEnvironment.Type"):
        c.create_application(**{**APP, "RuntimeEnvironment": {"Type": "MACOS", "Version": "15"}})


def test_windows_application_with_batch_file(gls):
    c = gls.client()
    app = c.create_application(**{**APP, "RuntimeEnvironment": {"Type": "WINDOWS", "Version": "2022"},
                                  "ExecutablePath": "Game\\Launch.BAT"})
    assert app["RuntimeEnvironment"] == {"Type": "WINDOWS", "Version": "2022"}


def test_client_token_makes_create_idempotent(gls):
    c = gls.client()
    token = uuid.uuid4().hex
    first = c.create_application(**APP, ClientToken=token)
    gls.advance(2)
    again = c.create_application(**APP, ClientToken=token)
    assert again["Id"] == first["Id"] and again["Status"] == "READY"
    assert len(c.list_applications()["Items"]) == 1
    with pytest.raises(c.exceptions.ConflictException, match="different parameters"):
        c.create_application(**{**APP, "Description": "Other"}, ClientToken=token)


def test_get_unknown_and_foreign_identifiers(gls):
    c = gls.client()
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_application(Identifier="a-000000000")
    app = c.create_application(**APP)
    other_region = app["Arn"].replace("us-east-1", "us-west-2")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_application(Identifier=other_region)
    with pytest.raises(c.exceptions.ValidationException, match="not the ARN of a GameLift Streams application"):
        c.get_application(Identifier=app["Arn"].replace("application/", "streamgroup/"))


def test_list_pages_with_the_paginator(gls):
    c = gls.client()
    ids = [c.create_application(**{**APP, "Description": f"game {n}"})["Id"] for n in range(7)]
    first = c.list_applications(MaxResults=3)
    assert [item["Id"] for item in first["Items"]] == ids[:3] and first["NextToken"]
    assert set(first["Items"][0]) == {"Arn", "Id", "Description", "Status", "CreatedAt", "LastUpdatedAt",
                                      "RuntimeEnvironment"}
    pages = list(c.get_paginator("list_applications").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(page["Items"]) for page in pages] == [2, 2, 2, 1]
    assert [item["Id"] for page in pages for item in page["Items"]] == ids
    assert len(c.list_applications()["Items"]) == 7  # default page size 25
    with pytest.raises(c.exceptions.ValidationException):
        c.list_applications(NextToken="bm90IGEgdG9rZW4=")


def test_update_changes_only_the_documented_fields(gls):
    c = gls.client()
    app = gls.ready_application()
    updated = c.update_application(Identifier=app["Arn"], Description="New name",
                                   ApplicationLogPaths=["logs/", "saved/crash.txt"],
                                   ApplicationLogOutputUri="s3://log-bucket/")
    assert updated["Description"] == "New name"
    assert updated["ApplicationLogPaths"] == ["logs/", "saved/crash.txt"]
    assert updated["ApplicationLogOutputUri"] == "s3://log-bucket/"
    assert updated["ExecutablePath"] == "bin/game" and updated["ApplicationSourceUri"] == APP["ApplicationSourceUri"]
    assert updated["Status"] == "READY"
    assert c.get_application(Identifier=app["Id"])["Description"] == "New name"
    # The log bucket cannot go while log paths remain; clearing both works.
    with pytest.raises(c.exceptions.ValidationException, match="ApplicationLogOutputUri is required"):
        c.update_application(Identifier=app["Id"], ApplicationLogOutputUri="")
    cleared = c.update_application(Identifier=app["Id"], ApplicationLogPaths=[], ApplicationLogOutputUri="")
    assert cleared["ApplicationLogPaths"] == [] and "ApplicationLogOutputUri" not in cleared


def test_delete_only_when_allowed(gls):
    c = gls.client()
    busy = c.create_application(**APP)
    with pytest.raises(c.exceptions.ConflictException, match="INITIALIZED"):
        c.delete_application(Identifier=busy["Id"])
    gls.advance(0.5)
    with pytest.raises(c.exceptions.ConflictException, match="PROCESSING"):
        c.delete_application(Identifier=busy["Id"])
    gls.advance(1)
    group = gls.active_group(busy)
    with pytest.raises(c.exceptions.ValidationException, match="associated with stream groups"):
        c.delete_application(Identifier=busy["Id"])
    # Disassociated, but still streamed by a live session: not yet.
    session = gls.start_session(group, busy)
    c.disassociate_applications(Identifier=group["Id"], ApplicationIdentifiers=[busy["Id"]])
    with pytest.raises(c.exceptions.ValidationException, match="streaming"):
        c.delete_application(Identifier=busy["Id"])
    gls.advance(1)
    c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    gls.advance(1)
    response = c.delete_application(Identifier=busy["Arn"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert c.get_application(Identifier=busy["Id"])["Status"] == "DELETING"
    with pytest.raises(c.exceptions.ConflictException, match="DELETING"):
        c.delete_application(Identifier=busy["Id"])
    gls.advance(1)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_application(Identifier=busy["Id"])
    assert c.list_applications()["Items"] == []
