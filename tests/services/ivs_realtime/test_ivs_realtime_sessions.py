"""Stage sessions, participants and their events, driven by the client stand-ins."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from ivs_realtime_support import Refused, all_pages, message

EVENT_MEMBERS = {"name", "participantId", "eventTime", "replica"}


def _stage_with_tokens(rt, *configurations, **stage_args):
    created = rt.client().create_stage(participantTokenConfigurations=list(configurations), **stage_args)
    return created["stage"]["arn"], created["participantTokens"]


def _events(ivs, arn, session_id, participant_id):
    return ivs.list_participant_events(stageArn=arn, sessionId=session_id, participantId=participant_id)["events"]


def test_session_starts_with_first_join_and_ends_after_last_leave(rt):
    ivs = rt.client()
    arn, (a, b) = _stage_with_tokens(rt, {}, {})
    assert ivs.list_stage_sessions(stageArn=arn)["stageSessions"] == []
    first = rt.join(a["token"])
    session_id = first["sessionId"]
    assert re.fullmatch(r"st-[a-zA-Z0-9]{13}", session_id)
    assert rt.join(b["token"])["sessionId"] == session_id
    session = ivs.get_stage_session(stageArn=arn, sessionId=session_id)["stageSession"]
    assert session["sessionId"] == session_id and "endTime" not in session
    rt.act(a["participantId"], "leave")
    rt.advance(5)
    assert ivs.get_stage(arn=arn)["stage"]["activeSessionId"] == session_id  # b is still there
    rt.act(b["participantId"], "leave")
    rt.advance(1)
    assert ivs.get_stage(arn=arn)["stage"]["activeSessionId"] == session_id  # ends a little later
    rt.advance(1)
    assert "activeSessionId" not in ivs.get_stage(arn=arn)["stage"]
    ended = ivs.get_stage_session(stageArn=arn, sessionId=session_id)["stageSession"]
    assert ended["endTime"] - ended["startTime"] == dt.timedelta(seconds=7)
    assert "activeSessionId" not in ivs.list_stages()["stages"][0]


def test_rejoining_in_time_keeps_the_session_and_a_later_join_starts_another(rt):
    ivs = rt.client()
    arn, (a,) = _stage_with_tokens(rt, {})
    session_id = rt.join(a["token"])["sessionId"]
    first_join = ivs.get_participant(stageArn=arn, sessionId=session_id, participantId=a["participantId"])["participant"]["firstJoinTime"]
    rt.act(a["participantId"], "leave")
    rt.advance(1)
    assert rt.join(a["token"])["sessionId"] == session_id
    rt.advance(5)
    participant = ivs.get_participant(stageArn=arn, sessionId=session_id, participantId=a["participantId"])["participant"]
    assert participant["state"] == "CONNECTED" and participant["firstJoinTime"] == first_join
    rt.act(a["participantId"], "leave")
    rt.advance(2)
    second = rt.join(a["token"])["sessionId"]
    assert second != session_id
    sessions = ivs.list_stage_sessions(stageArn=arn)["stageSessions"]
    assert [s["sessionId"] for s in sessions] == [second, session_id]  # newest first
    assert "endTime" not in sessions[0] and "endTime" in sessions[1]


def test_participant_fields(rt):
    ivs = rt.client()
    arn, (a,) = _stage_with_tokens(rt, {"userId": "dana", "attributes": {"role": "guest"}})
    joined = rt.join(a["token"], client={"browserName": "Firefox", "browserVersion": "128"})
    participant = ivs.get_participant(stageArn=arn, sessionId=joined["sessionId"],
                                      participantId=a["participantId"])["participant"]
    assert participant["participantId"] == a["participantId"] and participant["userId"] == "dana"
    assert participant["state"] == "CONNECTED" and participant["attributes"] == {"role": "guest"}
    assert participant["published"] is False and participant["protocol"] == "WHIP"
    assert participant["replicationType"] == "NONE" and participant["recordingState"] == "DISABLED"
    assert participant["browserName"] == "Firefox" and participant["browserVersion"] == "128"
    assert isinstance(participant["firstJoinTime"], dt.datetime)
    rt.act(a["participantId"], "publish")
    rt.act(a["participantId"], "unpublish")
    summary = ivs.list_participants(stageArn=arn, sessionId=joined["sessionId"])["participants"][0]
    assert summary["published"] is True  # ever published in the session
    assert "attributes" not in summary and "browserName" not in summary


def test_list_participants_filters(rt):
    ivs = rt.client()
    arn, tokens = _stage_with_tokens(rt, {"userId": "u1"}, {"userId": "u2"}, {"userId": "u1"}, {"userId": "u3"})
    session_id = None
    for token in tokens:
        session_id = rt.join(token["token"])["sessionId"]
    rt.act(tokens[0]["participantId"], "publish")
    rt.act(tokens[3]["participantId"], "leave")

    def ids(**filters):
        return [p["participantId"] for p in ivs.list_participants(stageArn=arn, sessionId=session_id, **filters)["participants"]]

    every = [t["participantId"] for t in tokens]
    assert ids() == every
    assert ids(filterByUserId="u1") == [every[0], every[2]]
    assert ids(filterByPublished=True) == [every[0]]
    assert ids(filterByPublished=False) == every[1:]
    assert ids(filterByState="DISCONNECTED") == [every[3]]
    assert ids(filterByState="CONNECTED") == every[:3]
    assert ids(filterByRecordingState="ACTIVE") == []
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.list_participants(stageArn=arn, sessionId=session_id, filterByUserId="u1", filterByState="CONNECTED")
    assert "Only one" in message(error)
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.list_participants(stageArn=arn, sessionId=session_id, filterByRecordingState="DISABLED")
    # Unknown sessions and stages list nothing; Get says not found.
    assert ivs.list_participants(stageArn=arn, sessionId="st-AAAAAAAAAAAAA")["participants"] == []
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_participant(stageArn=arn, sessionId=session_id, participantId="nobody")
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_stage_session(stageArn=arn, sessionId="st-AAAAAAAAAAAAA")
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.get_stage_session(stageArn=arn, sessionId="st-short")


def test_session_of_another_stage_is_not_found(rt):
    ivs = rt.client()
    arn, (a,) = _stage_with_tokens(rt, {})
    other = ivs.create_stage()["stage"]["arn"]
    session_id = rt.join(a["token"])["sessionId"]
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_stage_session(stageArn=other, sessionId=session_id)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_participant(stageArn=other, sessionId=session_id, participantId=a["participantId"])
    assert ivs.list_participants(stageArn=other, sessionId=session_id)["participants"] == []
    assert _events(ivs, other, session_id, a["participantId"]) == []


def test_publish_subscribe_events_newest_first(rt):
    ivs = rt.client()
    arn, (pub, sub) = _stage_with_tokens(rt, {"capabilities": ["PUBLISH"]}, {"capabilities": ["SUBSCRIBE"]})
    session_id = rt.join(pub["token"])["sessionId"]
    rt.join(sub["token"])
    rt.advance(1)
    rt.act(pub["participantId"], "publish")
    rt.advance(1)
    rt.act(sub["participantId"], "subscribe", publisherParticipantId=pub["participantId"])
    rt.advance(1)
    rt.act(sub["participantId"], "unsubscribe", publisherParticipantId=pub["participantId"])
    rt.act(sub["participantId"], "subscribe", publisherParticipantId=pub["participantId"])
    rt.advance(1)
    rt.act(pub["participantId"], "unpublish")  # ends the subscription too
    rt.act(pub["participantId"], "leave")

    published = _events(ivs, arn, session_id, pub["participantId"])
    assert [e["name"] for e in published] == ["LEFT", "PUBLISH_STOPPED", "PUBLISH_STARTED", "JOINED"]
    subscribed = _events(ivs, arn, session_id, sub["participantId"])
    assert [e["name"] for e in subscribed] == ["SUBSCRIBE_STOPPED", "SUBSCRIBE_STARTED", "SUBSCRIBE_STOPPED",
                                               "SUBSCRIBE_STARTED", "JOINED"]
    for event in published + subscribed:
        assert EVENT_MEMBERS <= set(event) and event["replica"] is False
        assert "errorCode" not in event and "destinationStageArn" not in event and "newToken" not in event
        assert event["participantId"] in (pub["participantId"], sub["participantId"])
        if event["name"].startswith("SUBSCRIBE"):
            assert event["remoteParticipantId"] == pub["participantId"]
        else:
            assert "remoteParticipantId" not in event
    times = [event["eventTime"] for event in subscribed]
    assert times == sorted(times, reverse=True) and times[0] - times[-1] == dt.timedelta(seconds=4)


def test_error_events(rt):
    ivs = rt.client()
    arn, (viewer, host, other) = _stage_with_tokens(
        rt, {"capabilities": ["SUBSCRIBE"]}, {"capabilities": ["PUBLISH"]}, {})
    session_id = rt.join(viewer["token"])["sessionId"]
    rt.join(host["token"])
    rt.join(other["token"])

    def refused(participant_id, action, **body):
        with pytest.raises(Refused) as error:
            rt.act(participant_id, action, **body)
        return error.value.status, error.value.code

    assert refused(viewer["participantId"], "publish") == (403, "INSUFFICIENT_CAPABILITIES")
    assert refused(host["participantId"], "subscribe", publisherParticipantId=other["participantId"]) == \
        (403, "INSUFFICIENT_CAPABILITIES")
    assert refused(viewer["participantId"], "subscribe", publisherParticipantId=other["participantId"]) == \
        (404, "PUBLISHER_NOT_FOUND")  # connected, but not publishing
    assert refused(viewer["participantId"], "subscribe", publisherParticipantId="ghost") == (404, "PUBLISHER_NOT_FOUND")
    assert refused(other["participantId"], "subscribe", publisherParticipantId=other["participantId"]) == \
        (400, "INVALID_INPUT")
    # greenroom's own refusals record nothing.
    assert refused(other["participantId"], "unpublish") == (409, "NOT_PUBLISHING")
    assert refused(other["participantId"], "unsubscribe", publisherParticipantId="ghost") == (409, "NOT_SUBSCRIBED")
    rt.act(host["participantId"], "publish")
    assert refused(host["participantId"], "publish") == (409, "ALREADY_PUBLISHING")
    rt.act(viewer["participantId"], "subscribe", publisherParticipantId=host["participantId"])
    assert refused(viewer["participantId"], "subscribe", publisherParticipantId=host["participantId"]) == \
        (409, "ALREADY_SUBSCRIBED")
    assert refused("nobody-here", "publish") == (404, "PARTICIPANT_NOT_CONNECTED")

    viewer_events = _events(ivs, arn, session_id, viewer["participantId"])
    assert [(e["name"], e.get("errorCode"), e.get("remoteParticipantId")) for e in viewer_events] == [
        ("SUBSCRIBE_STARTED", None, host["participantId"]),
        ("SUBSCRIBE_ERROR", "PUBLISHER_NOT_FOUND", "ghost"),
        ("SUBSCRIBE_ERROR", "PUBLISHER_NOT_FOUND", other["participantId"]),
        ("PUBLISH_ERROR", "INSUFFICIENT_CAPABILITIES", None),
        ("JOINED", None, None),
    ]
    host_events = _events(ivs, arn, session_id, host["participantId"])
    assert [(e["name"], e.get("errorCode")) for e in host_events] == [
        ("PUBLISH_STARTED", None), ("SUBSCRIBE_ERROR", "INSUFFICIENT_CAPABILITIES"), ("JOINED", None)]
    assert _events(ivs, arn, session_id, other["participantId"])[0]["errorCode"] == "INVALID_INPUT"
    if rt.mode == "server":  # an action no client has
        response = rt.server.admin("POST", f"ivs-realtime/participants/{viewer['participantId']}/dance", {})
        assert response.status_code == 404 and "publish" in response.json()["message"]


def test_publisher_and_subscriber_quotas(rt):
    ivs = rt.client()
    rt.set_quotas(publishers_per_stage=1, subscribers_per_stage=1)
    arn, (a, b, c) = _stage_with_tokens(rt, {}, {}, {})
    session_id = rt.join(a["token"])["sessionId"]
    rt.join(b["token"])
    rt.act(a["participantId"], "publish")
    with pytest.raises(Refused) as error:
        rt.act(b["participantId"], "publish")
    assert (error.value.status, error.value.code) == (429, "QUOTA_EXCEEDED")
    assert _events(ivs, arn, session_id, b["participantId"])[0]["errorCode"] == "QUOTA_EXCEEDED"
    rt.act(b["participantId"], "subscribe", publisherParticipantId=a["participantId"])
    with pytest.raises(Refused):  # joining is fine (2 participants), a second subscriber is not
        rt.join(c["token"])
    rt.set_quotas(subscribers_per_stage=2)
    rt.join(c["token"])
    rt.set_quotas(subscribers_per_stage=1)
    with pytest.raises(Refused) as error:
        rt.act(c["participantId"], "subscribe", publisherParticipantId=a["participantId"])
    assert error.value.code == "QUOTA_EXCEEDED"
    event = _events(ivs, arn, session_id, c["participantId"])[0]
    assert (event["name"], event["errorCode"], event["remoteParticipantId"]) == \
        ("SUBSCRIBE_ERROR", "QUOTA_EXCEEDED", a["participantId"])


def test_publish_and_subscribe_last_at_most_the_quota(rt):
    ivs = rt.client()
    rt.set_quotas(publish_subscribe_hours=1)
    arn, (a, b) = _stage_with_tokens(rt, {}, {})
    session_id = rt.join(a["token"])["sessionId"]
    rt.join(b["token"])
    rt.act(a["participantId"], "publish")
    rt.act(b["participantId"], "subscribe", publisherParticipantId=a["participantId"])
    rt.advance(3599)
    assert ivs.list_participants(stageArn=arn, sessionId=session_id, filterByPublished=True)["participants"]
    rt.advance(1)
    assert [(e["name"], e.get("errorCode")) for e in _events(ivs, arn, session_id, a["participantId"])][:2] == [
        ("PUBLISH_STOPPED", None), ("PUBLISH_ERROR", "STREAM_DURATION_EXCEEDED")]
    names = [(e["name"], e.get("errorCode")) for e in _events(ivs, arn, session_id, b["participantId"])]
    assert ("SUBSCRIBE_STOPPED", None) in names
    # A participant can publish again after the limit stopped it.
    assert rt.act(a["participantId"], "publish")["publishing"] is True


def test_leaving_stops_everything(rt):
    ivs = rt.client()
    arn, (a, b) = _stage_with_tokens(rt, {}, {})
    session_id = rt.join(a["token"])["sessionId"]
    rt.join(b["token"])
    rt.act(a["participantId"], "publish")
    rt.act(b["participantId"], "publish")
    rt.act(b["participantId"], "subscribe", publisherParticipantId=a["participantId"])
    rt.act(a["participantId"], "subscribe", publisherParticipantId=b["participantId"])
    left = rt.act(b["participantId"], "leave")
    assert left["state"] == "DISCONNECTED" and left["publishing"] is False and left["subscriptions"] == []
    assert [e["name"] for e in _events(ivs, arn, session_id, b["participantId"])][:3] == \
        ["LEFT", "SUBSCRIBE_STOPPED", "PUBLISH_STOPPED"]
    a_events = _events(ivs, arn, session_id, a["participantId"])
    assert (a_events[0]["name"], a_events[0]["remoteParticipantId"]) == ("SUBSCRIBE_STOPPED", b["participantId"])
    with pytest.raises(Refused) as error:
        rt.act(b["participantId"], "publish")
    assert error.value.code == "PARTICIPANT_NOT_CONNECTED"


def test_disconnect_participant(rt):
    ivs = rt.client()
    arn, (a, b) = _stage_with_tokens(rt, {}, {})
    session_id = rt.join(a["token"])["sessionId"]
    rt.join(b["token"])
    rt.act(a["participantId"], "publish")
    rt.act(b["participantId"], "subscribe", publisherParticipantId=a["participantId"])
    ivs.disconnect_participant(stageArn=arn, participantId=a["participantId"], reason="moderation")
    assert [e["name"] for e in _events(ivs, arn, session_id, a["participantId"])][:2] == ["LEFT", "PUBLISH_STOPPED"]
    assert _events(ivs, arn, session_id, b["participantId"])[0]["name"] == "SUBSCRIBE_STOPPED"
    with pytest.raises(Refused) as error:
        rt.join(a["token"])
    assert error.value.code == "TOKEN_REVOKED"
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.disconnect_participant(stageArn=arn[:-1] + ("Z" if arn[-1] != "Z" else "Y"),
                                   participantId=a["participantId"])


def test_token_exchange(rt):
    ivs = rt.client()
    arn, (a, upgrade, stranger) = _stage_with_tokens(
        rt, {"userId": "eve", "capabilities": ["PUBLISH", "SUBSCRIBE"], "attributes": {"tier": "1"}},
        {"userId": "eve", "capabilities": ["SUBSCRIBE"], "attributes": {"tier": "2"}},
        {"userId": "mallory"})
    session_id = rt.join(a["token"])["sessionId"]
    rt.act(a["participantId"], "publish")
    exchanged = rt.act(a["participantId"], "exchange-token", token=upgrade["token"])
    assert exchanged["capabilities"] == ["SUBSCRIBE"] and exchanged["publishing"] is False
    assert exchanged["participantId"] == a["participantId"]
    events = _events(ivs, arn, session_id, a["participantId"])
    assert [e["name"] for e in events[:2]] == ["TOKEN_EXCHANGED", "PUBLISH_STOPPED"]
    token_event = events[0]
    assert token_event["previousToken"]["capabilities"] == ["PUBLISH", "SUBSCRIBE"]
    assert token_event["previousToken"]["attributes"] == {"tier": "1"}
    assert token_event["newToken"] == {"capabilities": ["SUBSCRIBE"], "attributes": {"tier": "2"}, "userId": "eve",
                                       "expirationTime": upgrade["expirationTime"]}
    participant = ivs.get_participant(stageArn=arn, sessionId=session_id, participantId=a["participantId"])["participant"]
    assert participant["attributes"] == {"tier": "2"}
    with pytest.raises(Refused) as error:
        rt.act(a["participantId"], "exchange-token", token=stranger["token"])
    assert error.value.code == "USER_MISMATCH"
    other_stage = ivs.create_stage(participantTokenConfigurations=[{"userId": "eve"}])["participantTokens"][0]
    with pytest.raises(Refused) as error:
        rt.act(a["participantId"], "exchange-token", token=other_stage["token"])
    assert error.value.code == "STAGE_MISMATCH"


def test_participant_recording(rt):
    ivs = rt.client()
    storage = ivs.create_storage_configuration(s3={"bucketName": "my-recordings"})["storageConfiguration"]["arn"]
    arn, (a,) = _stage_with_tokens(rt, {}, autoParticipantRecordingConfiguration={
        "storageConfigurationArn": storage, "recordingReconnectWindowSeconds": 10})
    session_id = rt.join(a["token"])["sessionId"]

    def participant():
        return ivs.get_participant(stageArn=arn, sessionId=session_id, participantId=a["participantId"])["participant"]

    assert participant()["recordingState"] == "DISABLED"
    rt.act(a["participantId"], "publish")
    recording = participant()
    assert recording["recordingState"] == "STARTING" and recording["recordingS3BucketName"] == "my-recordings"
    stage_id = arn.rsplit("/", 1)[1]
    assert re.fullmatch(rf"{stage_id}/{session_id}/{a['participantId']}/\d+", recording["recordingS3Prefix"])
    rt.advance(1)
    assert participant()["recordingState"] == "ACTIVE"
    listed = ivs.list_participants(stageArn=arn, sessionId=session_id, filterByRecordingState="ACTIVE")["participants"]
    assert [p["participantId"] for p in listed] == [a["participantId"]]
    # Back within the reconnect window: the same recording goes on.
    rt.act(a["participantId"], "unpublish")
    assert participant()["recordingState"] == "STOPPING"
    rt.advance(5)
    rt.act(a["participantId"], "publish")
    assert participant()["recordingState"] == "ACTIVE"
    assert participant()["recordingS3Prefix"] == recording["recordingS3Prefix"]
    rt.act(a["participantId"], "unpublish")
    rt.advance(9)
    assert participant()["recordingState"] == "STOPPING"
    rt.advance(1)
    assert participant()["recordingState"] == "STOPPED"
    rt.advance(5)
    rt.act(a["participantId"], "publish")
    assert participant()["recordingS3Prefix"] != recording["recordingS3Prefix"]


def test_lists_paginate(rt):
    ivs = rt.client()
    arn, tokens = _stage_with_tokens(rt, *[{} for _ in range(7)])
    session_id = None
    for token in tokens:
        session_id = rt.join(token["token"])["sessionId"]
    listed = all_pages(ivs.list_participants, "participants", 3, stageArn=arn, sessionId=session_id)
    assert [p["participantId"] for p in listed] == [t["participantId"] for t in tokens]
    first = tokens[0]["participantId"]
    for _ in range(3):  # a second apart: events have no id, their times tell them apart
        rt.advance(1)
        rt.act(first, "publish")
        rt.advance(1)
        rt.act(first, "unpublish")
    events = all_pages(ivs.list_participant_events, "events", 2, stageArn=arn, sessionId=session_id, participantId=first)
    assert [e["name"] for e in events] == ["PUBLISH_STOPPED", "PUBLISH_STARTED"] * 3 + ["JOINED"]
    # Sessions: end this one and start four more.
    for token in tokens:
        rt.act(token["participantId"], "leave")
    sessions = [session_id]
    for _ in range(4):
        rt.advance(2)
        sessions.append(rt.join(tokens[0]["token"])["sessionId"])
        rt.act(tokens[0]["participantId"], "leave")
    listed = all_pages(ivs.list_stage_sessions, "stageSessions", 2, stageArn=arn)
    assert [s["sessionId"] for s in listed] == sessions[::-1]
    # A token of another listing is refused.
    token = ivs.list_stage_sessions(stageArn=arn, maxResults=1)["nextToken"]
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.list_participants(stageArn=arn, sessionId=session_id, nextToken=token)
