"""GameLift Streams stream groups, locations, associations and tags through boto3."""
from __future__ import annotations

import datetime as dt
import re

import pytest

SLOW_GROUPS = {
    "gameliftstreams.streamgroup.activate": 5,
    "gameliftstreams.streamgroup.location.activate": 3,
    "gameliftstreams.streamgroup.location.remove": 2,
    "gameliftstreams.streamgroup.delete": 4,
}


def states(group: dict) -> dict:
    return {state["LocationName"]: state for state in group["LocationStates"]}


def test_create_activating_then_active(gls):
    gls.set_delays(SLOW_GROUPS)
    c = gls.client()
    app = gls.ready_application()
    group = c.create_stream_group(
        Description="Launch", StreamClass="gen4n_high", DefaultApplicationIdentifier=app["Id"],
        LocationConfigurations=[{"LocationName": "us-east-1", "AlwaysOnCapacity": 2, "MaximumCapacity": 6},
                                {"LocationName": "eu-central-1", "AlwaysOnCapacity": 4}],
        Tags={"team": "blue"})
    assert group["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(r"sg-[A-Za-z0-9]{9}", group["Id"])
    assert group["Arn"] == f"arn:aws:gameliftstreams:us-east-1:000000000000:streamgroup/{group['Id']}"
    assert group["Status"] == "ACTIVATING"
    assert group["DefaultApplication"] == {"Id": app["Id"], "Arn": app["Arn"]}
    assert group["AssociatedApplications"] == [app["Arn"]]
    assert group["ExpiresAt"] - group["CreatedAt"] == dt.timedelta(days=365)
    assert [s["LocationName"] for s in group["LocationStates"]] == ["us-east-1", "eu-central-1"]
    assert {s["Status"] for s in group["LocationStates"]} == {"ACTIVATING"}
    gls.advance(4.9)
    assert c.get_stream_group(Identifier=group["Arn"])["Status"] == "ACTIVATING"
    gls.advance(0.1)
    active = c.get_stream_group(Identifier=group["Arn"])
    assert active["Status"] == "ACTIVE"
    primary, remote = states(active)["us-east-1"], states(active)["eu-central-1"]
    assert primary == {"LocationName": "us-east-1", "Status": "ACTIVE", "AlwaysOnCapacity": 2,
                       "OnDemandCapacity": 4, "TargetIdleCapacity": 0, "MaximumCapacity": 6,
                       "RequestedCapacity": 2, "AllocatedCapacity": 2, "IdleCapacity": 2}
    assert remote["MaximumCapacity"] == 4 and remote["AllocatedCapacity"] == 4
    # The application is copied to the remote location.
    replication = c.get_application(Identifier=app["Id"])["ReplicationStatuses"]
    assert {r["Location"]: r["Status"] for r in replication} == {"us-east-1": "COMPLETED", "eu-central-1": "COMPLETED"}
    assert c.get_application(Identifier=app["Id"])["AssociatedStreamGroups"] == [group["Arn"]]


def test_primary_location_defaults_to_one_instance(gls):
    c = gls.client()
    small = c.create_stream_group(Description="small", StreamClass="gen6n_small")
    assert states(small)["us-east-1"]["AlwaysOnCapacity"] == 12
    ultra = c.create_stream_group(Description="ultra", StreamClass="gen6n_ultra_win2022",
                                  LocationConfigurations=[{"LocationName": "us-west-2", "MaximumCapacity": 3}])
    assert [s["LocationName"] for s in ultra["LocationStates"]] == ["us-east-1", "us-west-2"]
    assert states(ultra)["us-east-1"]["AlwaysOnCapacity"] == 1
    assert "DefaultApplication" not in ultra and ultra["AssociatedApplications"] == []


@pytest.mark.parametrize("stream_class, config, message", [
    ("gen4n_high", {"AlwaysOnCapacity": 3}, "multiple of 2"),
    ("gen6n_medium", {"MaximumCapacity": 6}, "multiple of 4"),
    ("gen6n_small", {"AlwaysOnCapacity": 12, "TargetIdleCapacity": 6}, "multiple of 12"),
    ("gen5n_ultra", {"OnDemandCapacity": 1, "MaximumCapacity": 2}, "cannot be combined"),
    ("gen5n_ultra", {"AlwaysOnCapacity": 3, "MaximumCapacity": 2}, "less than"),
    ("gen5n_ultra", {"AlwaysOnCapacity": 1, "TargetIdleCapacity": 1}, "needs a MaximumCapacity"),
    ("gen5n_ultra", {}, "specify AlwaysOnCapacity or MaximumCapacity"),
])
def test_capacity_must_fit_the_stream_class(gls, stream_class, config, message):
    c = gls.client()
    with pytest.raises(c.exceptions.ValidationException, match=re.escape(message)):
        c.create_stream_group(Description="g", StreamClass=stream_class,
                              LocationConfigurations=[{"LocationName": "us-east-1", **config}])
    assert c.list_stream_groups()["Items"] == []


def test_create_checks_default_application_and_locations(gls):
    c = gls.client()
    app = c.create_application(Description="new", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
                               ExecutablePath="game", ApplicationSourceUri="s3://bucket/game")
    with pytest.raises(c.exceptions.ValidationException, match="must be READY"):
        c.create_stream_group(Description="g", StreamClass="gen5n_high", DefaultApplicationIdentifier=app["Id"])
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.create_stream_group(Description="g", StreamClass="gen5n_high", DefaultApplicationIdentifier="a-123456789")
    with pytest.raises(c.exceptions.ValidationException, match="not a location"):
        c.create_stream_group(Description="g", StreamClass="gen5n_high",
                              LocationConfigurations=[{"LocationName": "moon-base", "AlwaysOnCapacity": 2}])
    with pytest.raises(c.exceptions.ValidationException, match="more than once"):
        c.create_stream_group(Description="g", StreamClass="gen5n_high", LocationConfigurations=[
            {"LocationName": "us-west-2", "AlwaysOnCapacity": 2}, {"LocationName": "us-west-2", "AlwaysOnCapacity": 2}])


def test_list_and_paginate_stream_groups(gls):
    c = gls.client()
    ids = [c.create_stream_group(Description=f"g{n}", StreamClass="gen5n_ultra")["Id"] for n in range(5)]
    pages = list(c.get_paginator("list_stream_groups").paginate(PaginationConfig={"PageSize": 2}))
    assert [item["Id"] for page in pages for item in page["Items"]] == ids
    item = pages[0]["Items"][0]
    assert item["StreamClass"] == "gen5n_ultra" and item["Status"] == "ACTIVE" and "ExpiresAt" in item
    assert "LocationStates" not in item  # summaries leave capacity out


def test_update_description_capacity_and_default(gls):
    c = gls.client()
    first, second = gls.ready_application("first"), gls.ready_application("second")
    group = gls.active_group(first)
    c.associate_applications(Identifier=group["Id"], ApplicationIdentifiers=[second["Arn"]])
    updated = c.update_stream_group(
        Identifier=group["Arn"], Description="renamed", DefaultApplicationIdentifier=second["Id"],
        LocationConfigurations=[{"LocationName": "us-east-1", "AlwaysOnCapacity": 4, "MaximumCapacity": 8,
                                 "TargetIdleCapacity": 2}])
    assert updated["Description"] == "renamed"
    assert updated["DefaultApplication"]["Id"] == second["Id"]
    assert states(updated)["us-east-1"] == {
        "LocationName": "us-east-1", "Status": "ACTIVE", "AlwaysOnCapacity": 4, "OnDemandCapacity": 4,
        "TargetIdleCapacity": 2, "MaximumCapacity": 8, "RequestedCapacity": 4, "AllocatedCapacity": 4,
        "IdleCapacity": 4}
    # Unset capacities keep their values.
    again = c.update_stream_group(Identifier=group["Id"],
                                  LocationConfigurations=[{"LocationName": "us-east-1", "AlwaysOnCapacity": 2}])
    assert states(again)["us-east-1"]["MaximumCapacity"] == 8
    with pytest.raises(c.exceptions.ValidationException, match="AddStreamGroupLocations"):
        c.update_stream_group(Identifier=group["Id"],
                              LocationConfigurations=[{"LocationName": "ap-northeast-1", "AlwaysOnCapacity": 2}])
    third = gls.ready_application("third")
    with pytest.raises(c.exceptions.ValidationException, match="not associated"):
        c.update_stream_group(Identifier=group["Id"], DefaultApplicationIdentifier=third["Id"])


def test_target_idle_capacity_allocates_ahead_of_sessions(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app, stream_class="gen5n_ultra", LocationConfigurations=[
        {"LocationName": "us-east-1", "AlwaysOnCapacity": 0, "MaximumCapacity": 3, "TargetIdleCapacity": 1}])
    assert states(c.get_stream_group(Identifier=group["Id"]))["us-east-1"]["AllocatedCapacity"] == 1
    gls.start_session(group, app)
    gls.start_session(group, app)
    state = states(c.get_stream_group(Identifier=group["Id"]))["us-east-1"]
    assert (state["AllocatedCapacity"], state["IdleCapacity"]) == (3, 1)
    gls.start_session(group, app)
    state = states(c.get_stream_group(Identifier=group["Id"]))["us-east-1"]
    assert (state["AllocatedCapacity"], state["IdleCapacity"]) == (3, 0)  # never above the maximum


def test_add_and_remove_locations(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    gls.set_delays(SLOW_GROUPS)
    added = c.add_stream_group_locations(Identifier=group["Id"], LocationConfigurations=[
        {"LocationName": "ap-northeast-1", "AlwaysOnCapacity": 2},
        {"LocationName": "eu-west-1", "MaximumCapacity": 4}])
    assert added["Identifier"] == group["Arn"]
    assert [(s["LocationName"], s["Status"]) for s in added["Locations"]] == [
        ("ap-northeast-1", "ACTIVATING"), ("eu-west-1", "ACTIVATING")]
    updating = c.get_stream_group(Identifier=group["Id"])
    assert updating["Status"] == "UPDATING_LOCATIONS"
    assert states(updating)["us-east-1"]["Status"] == "ACTIVE"
    # Nothing else may change meanwhile.
    with pytest.raises(c.exceptions.ValidationException, match="UPDATING_LOCATIONS"):
        c.add_stream_group_locations(Identifier=group["Id"],
                                     LocationConfigurations=[{"LocationName": "sa-east-1", "AlwaysOnCapacity": 2}])
    with pytest.raises(c.exceptions.ValidationException, match="must be ACTIVE"):
        c.update_stream_group(Identifier=group["Id"], Description="x")
    replication = {r["Location"]: r["Status"] for r in c.get_application(Identifier=app["Id"])["ReplicationStatuses"]}
    assert replication == {"us-east-1": "COMPLETED", "ap-northeast-1": "REPLICATING", "eu-west-1": "REPLICATING"}
    gls.advance(3)
    active = c.get_stream_group(Identifier=group["Id"])
    assert active["Status"] == "ACTIVE"
    assert {name: s["Status"] for name, s in states(active).items()} == {
        "us-east-1": "ACTIVE", "ap-northeast-1": "ACTIVE", "eu-west-1": "ACTIVE"}
    with pytest.raises(c.exceptions.ValidationException, match="already a location"):
        c.add_stream_group_locations(Identifier=group["Id"],
                                     LocationConfigurations=[{"LocationName": "eu-west-1", "AlwaysOnCapacity": 2}])

    with pytest.raises(c.exceptions.ValidationException, match="primary location"):
        c.remove_stream_group_locations(Identifier=group["Id"], Locations=["us-east-1"])
    with pytest.raises(c.exceptions.ValidationException, match="not a location"):
        c.remove_stream_group_locations(Identifier=group["Id"], Locations=["sa-east-1"])
    response = c.remove_stream_group_locations(Identifier=group["Arn"], Locations=["ap-northeast-1"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    removing = c.get_stream_group(Identifier=group["Id"])
    assert removing["Status"] == "UPDATING_LOCATIONS"
    assert states(removing)["ap-northeast-1"]["Status"] == "REMOVING"
    assert states(removing)["ap-northeast-1"]["AllocatedCapacity"] == 0
    replicas = c.get_application(Identifier=app["Id"])["ReplicationStatuses"]
    assert "ap-northeast-1" not in {r["Location"] for r in replicas}
    gls.advance(2)
    settled = c.get_stream_group(Identifier=group["Id"])
    assert settled["Status"] == "ACTIVE" and list(states(settled)) == ["us-east-1", "eu-west-1"]


def test_associate_and_disassociate_with_default_rules(gls):
    c = gls.client()
    first, second, third = (gls.ready_application(name) for name in ("first", "second", "third"))
    group = gls.active_group()
    associated = c.associate_applications(Identifier=group["Arn"],
                                          ApplicationIdentifiers=[second["Id"], first["Arn"], second["Arn"]])
    assert associated["Arn"] == group["Arn"]
    assert associated["ApplicationArns"] == [second["Arn"], first["Arn"]]
    current = c.get_stream_group(Identifier=group["Id"])
    assert current["DefaultApplication"]["Id"] == second["Id"]  # the first one associated
    assert current["AssociatedApplications"] == [second["Arn"], first["Arn"]]
    c.associate_applications(Identifier=group["Id"], ApplicationIdentifiers=[third["Id"]])
    assert c.get_stream_group(Identifier=group["Id"])["DefaultApplication"]["Id"] == second["Id"]
    assert c.get_application(Identifier=third["Id"])["AssociatedStreamGroups"] == [group["Arn"]]

    gone = c.disassociate_applications(Identifier=group["Id"], ApplicationIdentifiers=[second["Id"]])
    assert gone["ApplicationArns"] == [second["Arn"]]
    current = c.get_stream_group(Identifier=group["Id"])
    assert current["DefaultApplication"]["Id"] == first["Id"]  # another one takes over
    assert c.get_application(Identifier=second["Id"])["AssociatedStreamGroups"] == []
    # Not associated: left out of the answer.
    assert c.disassociate_applications(Identifier=group["Id"],
                                       ApplicationIdentifiers=[second["Id"]])["ApplicationArns"] == []
    c.disassociate_applications(Identifier=group["Id"], ApplicationIdentifiers=[first["Id"], third["Id"]])
    current = c.get_stream_group(Identifier=group["Id"])
    assert "DefaultApplication" not in current and current["AssociatedApplications"] == []

    new = c.create_application(Description="new", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
                               ExecutablePath="game", ApplicationSourceUri="s3://bucket/game")
    with pytest.raises(c.exceptions.ValidationException, match="must be READY"):
        c.associate_applications(Identifier=group["Id"], ApplicationIdentifiers=[new["Id"]])
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.associate_applications(Identifier=group["Id"], ApplicationIdentifiers=["a-000000000"])
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.associate_applications(Identifier="sg-000000000", ApplicationIdentifiers=[first["Id"]])


def test_operations_that_need_an_active_group(gls):
    gls.set_delays(SLOW_GROUPS)
    c = gls.client()
    app = gls.ready_application()
    group = c.create_stream_group(Description="g", StreamClass="gen4n_high")
    refusals = [
        lambda: c.update_stream_group(Identifier=group["Id"], Description="x"),
        lambda: c.associate_applications(Identifier=group["Id"], ApplicationIdentifiers=[app["Id"]]),
        lambda: c.disassociate_applications(Identifier=group["Id"], ApplicationIdentifiers=[app["Id"]]),
        lambda: c.add_stream_group_locations(Identifier=group["Id"], LocationConfigurations=[
            {"LocationName": "us-west-2", "AlwaysOnCapacity": 2}]),
        lambda: c.remove_stream_group_locations(Identifier=group["Id"], Locations=["us-west-2"]),
        lambda: gls.start_session(group, app),
    ]
    for refuse in refusals:
        with pytest.raises(c.exceptions.ValidationException, match="is ACTIVATING"):
            refuse()


def test_groups_expire_after_365_days(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    gls.advance(181 * 86400)
    with pytest.raises(c.exceptions.ValidationException, match="older than 180 days"):
        c.associate_applications(Identifier=group["Id"], ApplicationIdentifiers=[app["Id"]])
    gls.advance(184 * 86400)
    expired = c.get_stream_group(Identifier=group["Id"])
    assert expired["Status"] == "EXPIRED"
    assert c.list_stream_groups()["Items"][0]["Status"] == "EXPIRED"
    with pytest.raises(c.exceptions.ValidationException, match="EXPIRED"):
        gls.start_session(group, app)
    with pytest.raises(c.exceptions.ValidationException, match="EXPIRED"):
        c.update_stream_group(Identifier=group["Id"], Description="x")
    c.delete_stream_group(Identifier=group["Id"])
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_stream_group(Identifier=group["Id"])


def test_delete_ends_sessions_and_drops_associations(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    gls.set_delays(SLOW_GROUPS)
    session = gls.start_session(group, app)
    gls.advance(1)
    response = c.delete_stream_group(Identifier=group["Arn"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    deleting = c.get_stream_group(Identifier=group["Id"])
    assert deleting["Status"] == "DELETING" and deleting["AssociatedApplications"] == []
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "apiTerminated")
    assert c.get_application(Identifier=app["Id"])["AssociatedStreamGroups"] == []
    with pytest.raises(c.exceptions.ConflictException):
        c.delete_stream_group(Identifier=group["Id"])
    gls.advance(4)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_stream_group(Identifier=group["Id"])
    assert c.list_stream_sessions_by_account()["Items"] == []
    c.delete_application(Identifier=app["Id"])  # nothing holds the application any more


def test_tags_on_applications_and_groups(gls):
    c = gls.client()
    app = gls.ready_application(Tags={"team": "blue"})
    group = c.create_stream_group(Description="g", StreamClass="gen4n_high", Tags={"env": "dev"})
    assert c.list_tags_for_resource(ResourceArn=app["Arn"])["Tags"] == {"team": "blue"}
    assert c.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"] == {"env": "dev"}
    c.tag_resource(ResourceArn=group["Arn"], Tags={"env": "prod", "cost": "42"})
    assert c.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"] == {"env": "prod", "cost": "42"}
    c.untag_resource(ResourceArn=group["Arn"], TagKeys=["env", "absent"])
    assert c.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"] == {"cost": "42"}
    with pytest.raises(c.exceptions.ValidationException, match="reserved"):
        c.tag_resource(ResourceArn=app["Arn"], Tags={"aws:x": "y"})
    with pytest.raises(c.exceptions.ValidationException, match="at most 50"):
        c.tag_resource(ResourceArn=app["Arn"], Tags={f"k{n}": "v" for n in range(50)})
    assert c.list_tags_for_resource(ResourceArn=app["Arn"])["Tags"] == {"team": "blue"}
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_tags_for_resource(ResourceArn=app["Arn"].replace(app["Id"], "a-000000000"))
    session = gls.start_session(gls.active_group(app), app)
    with pytest.raises(c.exceptions.ValidationException, match="only applications and stream groups"):
        c.tag_resource(ResourceArn=session["Arn"], Tags={"a": "b"})
