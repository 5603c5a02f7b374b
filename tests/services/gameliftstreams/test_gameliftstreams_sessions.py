"""GameLift Streams stream sessions: starting and placing them, every lifecycle path of the
reference under a manual clock, termination, reconnection, exports, lists."""
from __future__ import annotations

import json
import re
import uuid

import pytest


def test_start_places_and_activates(gls, webrtc):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    offer, peer = webrtc.offer()
    started = gls.start_session(group, app, offer, Description="first", UserId="player-1/abc=",
                        AdditionalLaunchArgs=["-fullscreen"], AdditionalEnvironmentVariables={"LEVEL": "3"},
                        PerformanceStatsConfiguration={"SharedWithClient": True})
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 201
    session_id = started["Arn"].rsplit("/", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9]{13}", session_id)
    assert started["Arn"] == f"arn:aws:gameliftstreams:us-east-1:000000000000:streamsession/{group['Id']}/{session_id}"
    assert started["Status"] == "ACTIVATING" and started["StreamGroupId"] == group["Id"]
    assert started["Location"] == "us-east-1" and started["ApplicationArn"] == app["Arn"]
    assert started["ConnectionTimeoutSeconds"] == 120 and started["SessionLengthSeconds"] == 43200
    assert started["AdditionalLaunchArgs"] == ["-fullscreen"]
    assert started["AdditionalEnvironmentVariables"] == {"LEVEL": "3"}
    assert started["PerformanceStatsConfiguration"] == {"SharedWithClient": True}
    assert started["SignalRequest"] == offer and "SignalResponse" not in started
    gls.advance(0.99)
    assert gls.stream_session(group, started)["Status"] == "ACTIVATING"
    gls.advance(0.01)
    active = c.get_stream_session(Identifier=group["Arn"], StreamSessionIdentifier=session_id)
    assert active["Status"] == "ACTIVE" and "StatusReason" not in active
    assert webrtc.accept(peer, active["SignalResponse"]) == "stable"


@pytest.mark.parametrize("change, error, message", [
    ({"Identifier": "sg-000000000"}, "ResourceNotFoundException", "sg-000000000"),
    ({"ApplicationIdentifier": "a-000000000"}, "ResourceNotFoundException", "a-000000000"),
    ({"Locations": ["eu-west-1"]}, "ValidationException", "not a location"),
    ({"SignalRequest": "v=0 not json"}, "ValidationException", "JSON"),
    ({"SignalRequest": '{"type": "answer", "sdp": "v=0"}'}, "ValidationException", "'offer'"),
    ({"Protocol": "RTMP"}, "ValidationException", "Protocol"),
    ({"ConnectionTimeoutSeconds": 3601}, "ValidationException", "ConnectionTimeoutSeconds"),
    ({"SessionLengthSeconds": 0}, "ValidationException", "SessionLengthSeconds"),
    ({"UserId": "not allowed!"}, "ValidationException", "UserId"),
    ({"AdditionalEnvironmentVariables": {"1BAD": "x"}}, "ValidationException", "AdditionalEnvironmentVariables"),
    ({"AdditionalLaunchArgs": ["-x"] * 101}, "ValidationException", "AdditionalLaunchArgs"),
])
def test_start_validates_every_parameter(gls, change, error, message):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    request = {"Identifier": group["Id"], "ApplicationIdentifier": app["Id"], "Protocol": "WebRTC",
               "SignalRequest": "NO_CLIENT_CONNECTION", **change}
    with pytest.raises(getattr(c.exceptions, error), match=re.escape(message)):
        c.start_stream_session(**request)
    assert c.list_stream_sessions(Identifier=group["Id"])["Items"] == []


def test_start_needs_an_associated_application(gls):
    c = gls.client()
    app, other = gls.ready_application("one"), gls.ready_application("two")
    group = gls.active_group(app)
    with pytest.raises(c.exceptions.ValidationException, match="not associated"):
        gls.start_session(group, other)


def test_capacity_is_consumed_and_exhaustion_prevents_placement(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)  # gen4n_high: always-on capacity 2 in us-east-1
    first, second = gls.start_session(group, app), gls.start_session(group, app)
    waiting = gls.start_session(group, app)
    assert first["Location"] == second["Location"] == "us-east-1"
    assert waiting["Status"] == "ACTIVATING" and "Location" not in waiting
    state = c.get_stream_group(Identifier=group["Id"])["LocationStates"][0]
    assert (state["AllocatedCapacity"], state["IdleCapacity"]) == (2, 0)
    gls.advance(1)
    assert gls.stream_session(group, waiting)["Status"] == "ACTIVATING"
    # Capacity freed in time: the waiting session is placed and activates.
    c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=first["Arn"])
    gls.advance(1)  # TERMINATING -> TERMINATED frees the slot
    placed = gls.stream_session(group, waiting)
    assert (placed["Status"], placed["Location"]) == ("ACTIVATING", "us-east-1")
    gls.advance(1)
    assert gls.stream_session(group, waiting)["Status"] == "ACTIVE"
    # No capacity and none freed: placement times out.
    late = gls.start_session(group, app)
    gls.advance(9.99)
    assert gls.stream_session(group, late)["Status"] == "ACTIVATING"
    gls.advance(0.01)
    failed = gls.stream_session(group, late)
    assert (failed["Status"], failed["StatusReason"]) == ("ERROR", "placementTimeout")


def test_more_capacity_places_waiting_sessions(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app, stream_class="gen5n_ultra", LocationConfigurations=[
        {"LocationName": "us-east-1", "AlwaysOnCapacity": 0, "MaximumCapacity": 0}])
    waiting = gls.start_session(group, app)
    c.update_stream_group(Identifier=group["Id"],
                          LocationConfigurations=[{"LocationName": "us-east-1", "MaximumCapacity": 1}])
    assert gls.stream_session(group, waiting)["Location"] == "us-east-1"
    gls.advance(1)
    assert gls.stream_session(group, waiting)["Status"] == "ACTIVE"


def test_locations_in_priority_order_and_replication(gls):
    gls.set_delays({"gameliftstreams.application.replicate": 30})
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app, stream_class="gen5n_ultra", LocationConfigurations=[
        {"LocationName": "us-east-1", "AlwaysOnCapacity": 1},
        {"LocationName": "eu-west-1", "AlwaysOnCapacity": 1}])
    # The application is not in eu-west-1 yet: that location cannot host it.
    remote_first = gls.start_session(group, app, Locations=["eu-west-1", "us-east-1"])
    assert remote_first["Location"] == "us-east-1"
    waiting = gls.start_session(group, app, Locations=["eu-west-1"])
    assert "Location" not in waiting
    gls.advance(9)
    assert gls.stream_session(group, waiting)["Status"] == "ACTIVATING"
    c.update_stream_group(Identifier=group["Id"], LocationConfigurations=[
        {"LocationName": "eu-west-1", "AlwaysOnCapacity": 1}])
    gls.advance(1)
    assert gls.stream_session(group, waiting)["StatusReason"] == "placementTimeout"
    gls.advance(20)  # replicated now
    placed = gls.start_session(group, app, Locations=["eu-west-1", "us-east-1"])
    assert placed["Location"] == "eu-west-1"


def test_identifiers_accept_ids_and_arns(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app)
    session_id = session["Arn"].rsplit("/", 1)[1]
    for group_identifier in (group["Id"], group["Arn"]):
        for session_identifier in (session_id, session["Arn"]):
            found = c.get_stream_session(Identifier=group_identifier, StreamSessionIdentifier=session_identifier)
            assert found["Arn"] == session["Arn"]
    other = gls.active_group(app)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_stream_session(Identifier=other["Id"], StreamSessionIdentifier=session_id)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_stream_session(Identifier=other["Id"], StreamSessionIdentifier=session["Arn"])
    with pytest.raises(c.exceptions.ValidationException):
        c.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=group["Arn"])


def test_client_token_is_idempotent(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    token = uuid.uuid4().hex
    first = gls.start_session(group, app, ClientToken=token)
    gls.advance(1)
    again = gls.start_session(group, app, ClientToken=token)
    assert again["Arn"] == first["Arn"] and again["Status"] == "ACTIVE"
    assert len(c.list_stream_sessions(Identifier=group["Id"])["Items"]) == 1
    with pytest.raises(c.exceptions.ConflictException):
        gls.start_session(group, app, ClientToken=token, UserId="someone-else")


# ------------------------------------------------------------------ lifecycle paths

def test_connection_timeout(gls):
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app, ConnectionTimeoutSeconds=30)
    gls.advance(1 + 29.99)
    assert gls.stream_session(group, session)["Status"] == "ACTIVE"
    gls.advance(0.01)
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "connectionTimeout")


def test_connect_disconnect_and_reconnection_timeout(gls, webrtc):
    app = gls.ready_application()
    group = gls.active_group(app)
    offer, _ = webrtc.offer()
    session = gls.start_session(group, app, offer, ConnectionTimeoutSeconds=60)
    with pytest.raises(gls.Refused) as refused:
        gls.session_action("connect", session["Arn"])
    assert refused.value.status == 409 and "ACTIVATING" in refused.value.message
    gls.advance(1)
    assert gls.session_action("connect", session["Arn"])["Status"] == "CONNECTED"
    gls.advance(500)  # connected: the connection timeout no longer applies
    assert gls.stream_session(group, session)["Status"] == "CONNECTED"
    assert gls.session_action("disconnect", session["Arn"])["Status"] == "PENDING_CLIENT_RECONNECTION"
    gls.advance(59.99)
    assert gls.stream_session(group, session)["Status"] == "PENDING_CLIENT_RECONNECTION"
    gls.advance(0.01)
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "reconnectionTimeout")
    with pytest.raises(gls.Refused):
        gls.session_action("connect", session["Arn"])


def test_reconnection_through_create_stream_session_connection(gls, webrtc):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    offer, _ = webrtc.offer()
    session = gls.start_session(group, app, offer, ConnectionTimeoutSeconds=60)
    gls.advance(1)
    gls.session_action("connect", session["Arn"])
    gls.session_action("disconnect", session["Arn"])
    gls.advance(50)
    new_offer, peer = webrtc.offer()
    answered = c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                                  SignalRequest=new_offer)
    assert webrtc.accept(peer, answered["SignalResponse"]) == "stable"
    current = gls.stream_session(group, session)
    assert current["Status"] == "RECONNECTING"
    assert current["SignalRequest"] == new_offer and current["SignalResponse"] == answered["SignalResponse"]
    gls.advance(10)  # past the first reconnection window: the reconnection superseded it
    active = gls.stream_session(group, session)
    assert active["Status"] == "ACTIVE"
    assert gls.session_action("connect", session["Arn"])["Status"] == "CONNECTED"
    # Dropped again, reconnected, and this time the client never comes: reconnectionTimeout.
    gls.session_action("disconnect", session["Arn"])
    third, _ = webrtc.offer()
    c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                       SignalRequest=third)
    # Connecting while RECONNECTING goes straight to CONNECTED.
    assert gls.session_action("connect", session["Arn"])["Status"] == "CONNECTED"
    gls.session_action("disconnect", session["Arn"])
    fourth, _ = webrtc.offer()
    c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                       SignalRequest=fourth)
    gls.advance(0.5 + 59.99)
    assert gls.stream_session(group, session)["Status"] == "ACTIVE"
    gls.advance(0.01)
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "reconnectionTimeout")


def test_create_stream_session_connection_rules(gls, webrtc):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    offer, _ = webrtc.offer()
    session = gls.start_session(group, app, offer)
    second, _ = webrtc.offer()
    with pytest.raises(c.exceptions.ValidationException, match="ACTIVATING"):
        c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                           SignalRequest=second)
    gls.advance(1)
    with pytest.raises(c.exceptions.ValidationException, match="newly generated"):
        c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                           SignalRequest=offer)
    with pytest.raises(c.exceptions.ValidationException, match="needs a WebRTC offer"):
        c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                           SignalRequest="NO_CLIENT_CONNECTION")
    with pytest.raises(c.exceptions.ValidationException, match="JSON"):
        c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                           SignalRequest="not an offer")
    # ACTIVE: a new answer, the session stays ACTIVE; a repeated ClientToken answers the same.
    token = uuid.uuid4().hex
    answered = c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                                  SignalRequest=second, ClientToken=token)
    again = c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                               SignalRequest=second, ClientToken=token)
    assert again["SignalResponse"] == answered["SignalResponse"]
    assert gls.stream_session(group, session)["Status"] == "ACTIVE"
    gls.session_action("connect", session["Arn"])
    with pytest.raises(c.exceptions.ValidationException, match="CONNECTED"):
        third, _ = webrtc.offer()
        c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                           SignalRequest=third)


def test_no_client_connection_then_a_browser_connects(gls, webrtc):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app)  # NO_CLIENT_CONNECTION
    gls.advance(1)
    active = gls.stream_session(group, session)
    assert active["Status"] == "ACTIVE" and "SignalResponse" not in active
    with pytest.raises(gls.Refused, match="CreateStreamSessionConnection"):
        gls.session_action("connect", session["Arn"])
    offer, peer = webrtc.offer()
    answered = c.create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                                  SignalRequest=offer)
    assert webrtc.accept(peer, answered["SignalResponse"]) == "stable"
    assert gls.session_action("connect", session["Arn"])["Status"] == "CONNECTED"


def test_idle_timeout_and_input(gls):
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app, SessionLengthSeconds=86400)
    gls.advance(1)
    _connect_with_offer(gls, group, session)
    gls.advance(3000)
    gls.session_action("input", session["Arn"])
    gls.advance(3599)
    assert gls.stream_session(group, session)["Status"] == "CONNECTED"  # input restarted the idle timer
    gls.advance(1)
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "idleTimeout")
    with pytest.raises(gls.Refused) as refused:
        gls.session_action("input", session["Arn"])
    assert refused.value.status == 409


def _connect_with_offer(gls, group, session):
    offer = json.dumps({"type": "offer", "sdp": _MINIMAL_OFFER})
    gls.client().create_stream_session_connection(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                                  SignalRequest=offer)
    assert gls.session_action("connect", session["Arn"])["Status"] == "CONNECTED"


# A data-channel-only offer as browsers write it.
_MINIMAL_OFFER = "\r\n".join([
    "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
    "a=msid-semantic: WMS", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:Tb1f", "a=ice-pwd:Zp0WmW3QJvG9l5sXt2Ka6A8n", "a=ice-options:trickle",
    "a=fingerprint:sha-256 5A:2C:8C:1B:83:96:09:3A:2E:4F:86:31:E0:57:B8:9B:"
    "5C:27:03:3C:8A:26:C5:91:BB:E0:05:4E:9C:18:54:54",
    "a=setup:actpass", "a=mid:0", "a=sctp-port:5000", "a=max-message-size:262144", "",
])


def test_max_session_length(gls):
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app, SessionLengthSeconds=600, ConnectionTimeoutSeconds=3600)
    gls.advance(1)
    _connect_with_offer(gls, group, session)
    gls.advance(599.99)
    assert gls.stream_session(group, session)["Status"] == "CONNECTED"
    gls.advance(0.01)
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "maxSessionLengthTimeout")


def test_application_exit(gls):
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app)
    gls.advance(1)
    ended = gls.session_action("exit", session["Arn"])
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "applicationExit")
    assert gls.stream_session(group, session)["StatusReason"] == "applicationExit"
    with pytest.raises(gls.Refused) as refused:
        gls.session_action("exit", session["Arn"])
    assert refused.value.status == 409


def test_terminate(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app)
    with pytest.raises(c.exceptions.ValidationException, match="ACTIVATING"):
        c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    gls.advance(1)
    response = c.terminate_stream_session(Identifier=group["Arn"], StreamSessionIdentifier=session["Arn"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert gls.stream_session(group, session)["Status"] == "TERMINATING"
    with pytest.raises(gls.Refused):
        gls.session_action("connect", session["Arn"])
    gls.advance(1)
    ended = gls.stream_session(group, session)
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "apiTerminated")
    c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    assert gls.stream_session(group, session)["Status"] == "TERMINATED"
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier="ABCDEFGHIJKLM")


def test_lifecycle_delays_apply(gls):
    gls.set_delays({"gameliftstreams.session.activate": 7, "gameliftstreams.session.terminate": 3})
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app)
    gls.advance(6.9)
    assert gls.stream_session(group, session)["Status"] == "ACTIVATING"
    gls.advance(0.1)
    assert gls.stream_session(group, session)["Status"] == "ACTIVE"
    c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    gls.advance(2.9)
    assert gls.stream_session(group, session)["Status"] == "TERMINATING"
    gls.advance(0.1)
    assert gls.stream_session(group, session)["Status"] == "TERMINATED"


# ------------------------------------------------------------------ exports

def test_export_files(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app)
    with pytest.raises(c.exceptions.ValidationException, match="ACTIVATING"):
        c.export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                      OutputUri="s3://exports/")
    gls.advance(1)
    with pytest.raises(c.exceptions.ValidationException, match="OutputUri"):
        c.export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                      OutputUri="s3://exports/file.tar")
    with pytest.raises(c.exceptions.ValidationException, match="bucket"):
        c.export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                      OutputUri="s3://X/")
    c.export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                  OutputUri="s3://exports/game/")
    exported = gls.stream_session(group, session)["ExportFilesMetadata"]
    session_id = session["Arn"].rsplit("/", 1)[1]
    assert exported["Status"] == "PENDING"
    assert re.fullmatch(rf"s3://exports/game/\d{{8}}-\d{{6}}-{app['Id']}-{group['Id']}-{session_id}\.zip",
                        exported["OutputUri"])
    c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    gls.advance(1)
    assert gls.stream_session(group, session)["ExportFilesMetadata"]["Status"] == "PENDING"  # uploading
    gls.advance(1)
    done = gls.stream_session(group, session)["ExportFilesMetadata"]
    assert done == {"Status": "SUCCEEDED", "OutputUri": exported["OutputUri"]}
    with pytest.raises(c.exceptions.ValidationException, match="TERMINATED"):
        c.export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                      OutputUri="s3://exports/x.zip")


def test_export_to_a_named_zip(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app)
    gls.advance(1)
    c.export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"],
                                  OutputUri="s3://exports/MyGame_Session1.ZIP")
    gls.session_action("exit", session["Arn"])
    gls.advance(1)
    assert gls.stream_session(group, session)["ExportFilesMetadata"] == {
        "Status": "SUCCEEDED", "OutputUri": "s3://exports/MyGame_Session1.ZIP"}


# ------------------------------------------------------------------ lists

def _paged(pages, key="Items"):
    return [item["Arn"] for page in pages for item in page[key]]


def test_list_stream_sessions_with_filters_over_pages(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app, stream_class="gen6n_small")  # capacity 12
    sessions = [gls.start_session(group, app, UserId=f"user-{n}")["Arn"] for n in range(11)]
    gls.advance(1)
    exported = sessions[1::2]  # 5 sessions
    for arn in exported:
        c.export_stream_session_files(Identifier=group["Id"], StreamSessionIdentifier=arn, OutputUri="s3://exports/")
    terminated = sessions[::3]  # 4 sessions
    for arn in terminated:
        c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=arn)
    gls.advance(2)  # terminated after 1 s, their exports uploaded 1 s later
    active = [arn for arn in sessions if arn not in terminated]
    paginator = c.get_paginator("list_stream_sessions")

    everything = list(paginator.paginate(Identifier=group["Id"], PaginationConfig={"PageSize": 3}))
    assert _paged(everything) == sessions and len(everything) == 4
    by_status = list(paginator.paginate(Identifier=group["Arn"], Status="ACTIVE", PaginationConfig={"PageSize": 2}))
    assert _paged(by_status) == active and [len(p["Items"]) for p in by_status] == [2, 2, 2, 1]
    assert _paged(paginator.paginate(Identifier=group["Id"], Status="TERMINATED",
                                     PaginationConfig={"PageSize": 1})) == terminated
    # Exports of terminated sessions are done, the others still pending.
    succeeded = [arn for arn in exported if arn in terminated]
    pending = [arn for arn in exported if arn not in terminated]
    assert _paged(paginator.paginate(Identifier=group["Id"], ExportFilesStatus="PENDING",
                                     PaginationConfig={"PageSize": 2})) == pending
    assert _paged(paginator.paginate(Identifier=group["Id"], ExportFilesStatus="SUCCEEDED",
                                     PaginationConfig={"PageSize": 1})) == succeeded
    assert _paged(paginator.paginate(Identifier=group["Id"], Status="ACTIVE", ExportFilesStatus="PENDING",
                                     PaginationConfig={"PageSize": 1})) == pending
    assert c.list_stream_sessions(Identifier=group["Id"], ExportFilesStatus="FAILED")["Items"] == []

    # MaxItems and StartingToken resume where the last page stopped, without gaps or repeats.
    head = paginator.paginate(Identifier=group["Id"], Status="ACTIVE",
                              PaginationConfig={"PageSize": 2, "MaxItems": 3}).build_full_result()
    assert [item["Arn"] for item in head["Items"]] == active[:3] and head["NextToken"]
    tail = paginator.paginate(Identifier=group["Id"], Status="ACTIVE",
                              PaginationConfig={"PageSize": 2, "StartingToken": head["NextToken"]}).build_full_result()
    assert [item["Arn"] for item in tail["Items"]] == active[3:]


def test_list_pages_stay_stable_while_sessions_change(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app, stream_class="gen6n_small")
    sessions = [gls.start_session(group, app)["Arn"] for _ in range(6)]
    first = c.list_stream_sessions(Identifier=group["Id"], Status="ACTIVATING", MaxResults=4)
    assert [item["Arn"] for item in first["Items"]] == sessions[:4]
    newer = gls.start_session(group, app)["Arn"]
    rest = c.list_stream_sessions(Identifier=group["Id"], Status="ACTIVATING", MaxResults=4,
                                  NextToken=first["NextToken"])
    assert [item["Arn"] for item in rest["Items"]] == sessions[4:] + [newer]
    assert "NextToken" not in rest
    # A token belongs to its filters.
    with pytest.raises(c.exceptions.ValidationException):
        c.list_stream_sessions(Identifier=group["Id"], Status="ACTIVE", NextToken=first["NextToken"])
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_stream_sessions(Identifier="sg-000000000")


def test_list_stream_sessions_by_account(gls):
    c = gls.client()
    app = gls.ready_application()
    one, two = gls.active_group(app), gls.active_group(app)
    a, b, d = gls.start_session(one, app), gls.start_session(two, app), gls.start_session(two, app)
    gls.advance(1)
    c.export_stream_session_files(Identifier=two["Id"], StreamSessionIdentifier=b["Arn"], OutputUri="s3://exports/")
    pages = list(c.get_paginator("list_stream_sessions_by_account").paginate(PaginationConfig={"PageSize": 2}))
    assert _paged(pages) == [a["Arn"], b["Arn"], d["Arn"]]
    items = {item["Arn"]: item for page in pages for item in page["Items"]}
    assert items[b["Arn"]]["ExportFilesMetadata"] == {"Status": "PENDING"}  # only the status here
    assert "ExportFilesMetadata" not in items[a["Arn"]]
    only = c.list_stream_sessions_by_account(ExportFilesStatus="PENDING")["Items"]
    assert [item["Arn"] for item in only] == [b["Arn"]]
    # Another Region's sessions are its own.
    assert gls.client(region="us-west-2").list_stream_sessions_by_account()["Items"] == []
