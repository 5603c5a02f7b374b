"""Participant replication: a publishing participant replicated into other stages."""
from __future__ import annotations

import pytest

from ivs_realtime_support import message


def _setup(rt, destinations: int = 1, **token):
    ivs = rt.client()
    created = ivs.create_stage(name="source", participantTokenConfigurations=[
        {"userId": "star", "attributes": {"role": "host", "lang": "en"}, **token}, {}])
    source = created["stage"]["arn"]
    star, viewer = created["participantTokens"]
    targets = [ivs.create_stage(name=f"dest{i}")["stage"]["arn"] for i in range(destinations)]
    joined = rt.join(star["token"])
    return ivs, source, targets, star, viewer, joined["sessionId"]


def _participant(ivs, stage, session, participant_id):
    return ivs.get_participant(stageArn=stage, sessionId=session, participantId=participant_id)["participant"]


def _events(ivs, stage, session, participant_id):
    return ivs.list_participant_events(stageArn=stage, sessionId=session, participantId=participant_id)["events"]


def test_replicate_a_publisher(rt):
    ivs, source, (target,), star, _, session = _setup(rt)
    pid = star["participantId"]
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    assert message(error) == f"{pid} is not publishing"
    rt.act(pid, "publish")
    response = ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target,
                                                 participantId=pid, attributes={"lang": "fr", "dub": "yes"})
    assert response["accessControlAllowOrigin"] == "*" and response["xContentTypeOptions"] == "nosniff"

    destination_session = ivs.get_stage(arn=target)["stage"]["activeSessionId"]
    replica = _participant(ivs, target, destination_session, pid)
    assert replica["replicationType"] == "REPLICA" and replica["replicationState"] == "ACTIVE"
    assert replica["sourceStageArn"] == source and replica["sourceSessionId"] == session
    assert replica["attributes"] == {"role": "host", "lang": "fr", "dub": "yes"}  # the request wins
    assert replica["userId"] == "star" and replica["state"] == "CONNECTED" and replica["published"] is True
    assert [(e["name"], e["replica"]) for e in _events(ivs, target, destination_session, pid)] == \
        [("PUBLISH_STARTED", True), ("JOINED", True)]

    original = _participant(ivs, source, session, pid)
    assert original["replicationType"] == "SOURCE" and original["replicationState"] == "ACTIVE"
    assert original["sourceStageArn"] == "" and original["sourceSessionId"] == ""
    started = _events(ivs, source, session, pid)[0]
    assert started["name"] == "REPLICATION_STARTED" and started["replica"] is False
    assert started["destinationStageArn"] == target and started["destinationSessionId"] == destination_session

    replicas = ivs.list_participant_replicas(sourceStageArn=source, participantId=pid)["replicas"]
    assert replicas == [{"sourceStageArn": source, "participantId": pid, "sourceSessionId": session,
                         "destinationStageArn": target, "destinationSessionId": destination_session,
                         "replicationState": "ACTIVE"}]
    summary = ivs.list_participants(stageArn=target, sessionId=destination_session)["participants"][0]
    assert summary["replicationType"] == "REPLICA" and summary["sourceStageArn"] == source
    with pytest.raises(ivs.exceptions.ConflictException):
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)


def test_subscribing_to_a_replica(rt):
    ivs, source, (target,), star, _, session = _setup(rt)
    pid = star["participantId"]
    rt.act(pid, "publish")
    ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    fan = ivs.create_participant_token(stageArn=target)["participantToken"]
    destination_session = rt.join(fan["token"])["sessionId"]
    rt.act(fan["participantId"], "subscribe", publisherParticipantId=pid)
    event = _events(ivs, target, destination_session, fan["participantId"])[0]
    assert (event["name"], event["remoteParticipantId"], event["replica"]) == ("SUBSCRIBE_STARTED", pid, True)
    # The replica publishes while its source does.
    rt.act(pid, "unpublish")
    assert _events(ivs, target, destination_session, fan["participantId"])[0]["name"] == "SUBSCRIBE_STOPPED"
    assert _events(ivs, target, destination_session, pid)[0]["name"] == "PUBLISH_STOPPED"
    rt.act(pid, "publish")
    assert _events(ivs, target, destination_session, pid)[0]["name"] == "PUBLISH_STARTED"


def test_stop_replication(rt):
    ivs, source, (target,), star, _, session = _setup(rt)
    pid = star["participantId"]
    rt.act(pid, "publish")
    ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    destination_session = ivs.get_stage(arn=target)["stage"]["activeSessionId"]
    ivs.stop_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    replica = _participant(ivs, target, destination_session, pid)
    assert replica["state"] == "DISCONNECTED" and replica["replicationState"] == "STOPPED"
    assert [e["name"] for e in _events(ivs, target, destination_session, pid)][:2] == ["LEFT", "PUBLISH_STOPPED"]
    stopped = _events(ivs, source, session, pid)[0]
    assert stopped["name"] == "REPLICATION_STOPPED" and stopped["destinationStageArn"] == target
    assert stopped["destinationSessionId"] == destination_session
    assert _participant(ivs, source, session, pid)["replicationState"] == "STOPPED"
    assert ivs.list_participant_replicas(sourceStageArn=source, participantId=pid)["replicas"][0][
        "replicationState"] == "STOPPED"
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.stop_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    rt.advance(2)  # the destination emptied: its session ends
    assert "activeSessionId" not in ivs.get_stage(arn=target)["stage"]
    # And it can start again.
    ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    assert ivs.list_participant_replicas(sourceStageArn=source, participantId=pid)["replicas"][-1][
        "replicationState"] == "ACTIVE"


def test_replicas_end_after_the_reconnect_window(rt):
    ivs, source, (target, instant), star, _, session = _setup(rt, destinations=2)
    pid = star["participantId"]
    rt.act(pid, "publish")
    ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid,
                                      reconnectWindowSeconds=30)
    ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=instant, participantId=pid)

    def states():
        return {r["destinationStageArn"]: r["replicationState"]
                for r in ivs.list_participant_replicas(sourceStageArn=source, participantId=pid)["replicas"]}

    rt.act(pid, "leave")
    assert states() == {target: "ACTIVE", instant: "STOPPED"}  # reconnectWindowSeconds 0: at once
    rt.advance(20)
    rt.join(star["token"])  # back within the window
    rt.advance(20)
    assert states()[target] == "ACTIVE"
    rt.act(pid, "leave")
    rt.advance(29)
    assert states()[target] == "ACTIVE"
    rt.advance(1)
    assert states()[target] == "STOPPED"
    assert [e["name"] for e in _events(ivs, source, session, pid)][0] == "REPLICATION_STOPPED"


def test_replication_errors(rt):
    ivs, source, (target,), star, viewer, _ = _setup(rt)
    pid = star["participantId"]
    missing = "arn:aws:ivs:us-east-1:000000000000:stage/AAAAAAAAAAAA"
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.start_participant_replication(sourceStageArn=missing, destinationStageArn=target, participantId=pid)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=missing, participantId=pid)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):  # never joined
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target,
                                          participantId=viewer["participantId"])
    rt.act(pid, "publish")
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=source, participantId=pid)
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid,
                                          reconnectWindowSeconds=301)
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid,
                                          attributes={"k": "v" * 1100})
    rt.set_quotas(publishers_per_stage=0)
    with pytest.raises(ivs.exceptions.ServiceQuotaExceededException):
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    rt.set_quotas(publishers_per_stage=None)
    ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    other = ivs.create_stage()["stage"]["arn"]
    destination_session = ivs.get_stage(arn=target)["stage"]["activeSessionId"]
    with pytest.raises(ivs.exceptions.ValidationException):  # a replica is no source
        ivs.start_participant_replication(sourceStageArn=target, destinationStageArn=other, participantId=pid)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.stop_participant_replication(sourceStageArn=source, destinationStageArn=other, participantId=pid)
    assert ivs.list_participant_replicas(sourceStageArn=missing, participantId=pid)["replicas"] == []
    # Disconnecting the replica ends that replication; deleting the source ends the rest.
    ivs.disconnect_participant(stageArn=target, participantId=pid)
    assert _participant(ivs, target, destination_session, pid)["state"] == "DISCONNECTED"
    assert ivs.list_participant_replicas(sourceStageArn=source, participantId=pid)["replicas"][0][
        "replicationState"] == "STOPPED"


def test_deleting_the_source_stage_ends_its_replicas(rt):
    ivs, source, (target,), star, _, _ = _setup(rt)
    pid = star["participantId"]
    rt.act(pid, "publish")
    ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    destination_session = ivs.get_stage(arn=target)["stage"]["activeSessionId"]
    ivs.delete_stage(arn=source)
    assert _participant(ivs, target, destination_session, pid)["state"] == "DISCONNECTED"


def test_list_participant_replicas_paginator(rt):
    ivs, source, targets, star, _, session = _setup(rt, destinations=5)
    pid = star["participantId"]
    rt.act(pid, "publish")
    for target in targets:
        ivs.start_participant_replication(sourceStageArn=source, destinationStageArn=target, participantId=pid)
    paginator = ivs.get_paginator("list_participant_replicas")
    pages = list(paginator.paginate(sourceStageArn=source, participantId=pid, PaginationConfig={"PageSize": 2}))
    assert [len(page["replicas"]) for page in pages] == [2, 2, 1]
    assert [r["destinationStageArn"] for page in pages for r in page["replicas"]] == targets
    # MaxItems stops early and hands out a token to resume from.
    first = paginator.paginate(sourceStageArn=source, participantId=pid,
                               PaginationConfig={"PageSize": 2, "MaxItems": 3}).build_full_result()
    assert [r["destinationStageArn"] for r in first["replicas"]] == targets[:3]
    rest = paginator.paginate(sourceStageArn=source, participantId=pid,
                              PaginationConfig={"PageSize": 2, "StartingToken": first["NextToken"]}).build_full_result()
    assert [r["destinationStageArn"] for r in rest["replicas"]] == targets[3:]
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.list_participant_replicas(sourceStageArn=source, participantId=pid, maxResults=51)
