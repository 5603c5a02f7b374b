"""GameLift Streams state in a persistent store (a SQLite file, PostgreSQL): resources, pending
lifecycle steps and pagination tokens survive a restart of the server."""
from __future__ import annotations

from urllib.parse import quote

import requests

UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}


def test_state_and_pending_transitions_survive_a_restart(launch, db_url):
    first = launch("--db-url", db_url)
    first.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    c = first.client("gameliftstreams")
    app = c.create_application(Description="game", RuntimeEnvironment=UBUNTU, ExecutablePath="game",
                               ApplicationSourceUri="s3://bucket/game", Tags={"team": "blue"})
    first.admin("POST", "clock", {"advance": 2}).raise_for_status()
    group = c.create_stream_group(Description="g", StreamClass="gen6n_small", DefaultApplicationIdentifier=app["Id"])
    sessions = [c.start_stream_session(Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
                                       SignalRequest="NO_CLIENT_CONNECTION")["Arn"] for _ in range(3)]
    page = c.list_stream_sessions(Identifier=group["Id"], Status="ACTIVATING", MaxResults=2)
    now = first.admin("GET", "clock").json()["now"]
    first.stop()

    second = launch("--db-url", db_url)
    c = second.client("gameliftstreams")
    second.admin("POST", "clock", {"set": now + 1}).raise_for_status()  # activation was due at now + 1
    rest = c.list_stream_sessions(Identifier=group["Id"], MaxResults=2, Status="ACTIVATING",
                                  NextToken=page["NextToken"])
    assert [item["Arn"] for item in page["Items"]] == sessions[:2]
    assert rest["Items"] == []  # the token still works; nothing is ACTIVATING any more
    assert {item["Status"] for item in c.list_stream_sessions(Identifier=group["Id"])["Items"]} == {"ACTIVE"}
    assert c.get_application(Identifier=app["Id"])["AssociatedStreamGroups"] == [group["Arn"]]
    assert c.list_tags_for_resource(ResourceArn=app["Arn"])["Tags"] == {"team": "blue"}
    state = c.get_stream_group(Identifier=group["Id"])["LocationStates"][0]
    assert (state["AllocatedCapacity"], state["IdleCapacity"]) == (12, 9)
    # Timers set before the restart still fire: the default connection timeout is 120 s.
    response = requests.post(f"{second.base_url}/_greenroom/gameliftstreams/sessions/"
                             f"{quote(sessions[0], safe='')}/exit", timeout=10)
    assert response.json()["StatusReason"] == "applicationExit"
    second.admin("POST", "clock", {"advance": 120}).raise_for_status()
    reasons = [c.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=arn)["StatusReason"]
               for arn in sessions]
    assert reasons == ["applicationExit", "connectionTimeout", "connectionTimeout"]
