"""IVS Real-Time state on both stores (a SQLite file and PostgreSQL), across a restart."""
from __future__ import annotations

import requests

from ivs_realtime_support import make_client


def _post(server, path: str, body: dict) -> dict:
    response = requests.post(f"{server.base_url}/_greenroom/ivs-realtime/{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_sessions_participants_and_replicas_persist(launch, db_url):
    server = launch("--db-url", db_url, "--log-level", "warning")
    ivs = make_client("ivs-realtime", server.base_url)
    created = ivs.create_stage(participantTokenConfigurations=[{"userId": "a"}, {"userId": "b"}, {"userId": "c"}])
    arn = created["stage"]["arn"]
    target = ivs.create_stage()["stage"]["arn"]
    a, b, c = created["participantTokens"]
    session_id = _post(server, "join", {"token": a["token"]})["sessionId"]
    _post(server, "join", {"token": b["token"]})
    _post(server, f"participants/{a['participantId']}/publish", {})
    _post(server, f"participants/{b['participantId']}/subscribe", {"publisherParticipantId": a["participantId"]})
    ivs.start_participant_replication(sourceStageArn=arn, destinationStageArn=target, participantId=a["participantId"])
    server.stop()

    server = launch("--db-url", db_url, "--log-level", "warning")
    ivs = make_client("ivs-realtime", server.base_url)
    published = ivs.list_participants(stageArn=arn, sessionId=session_id, filterByPublished=True)["participants"]
    assert [p["participantId"] for p in published] == [a["participantId"]]
    assert published[0]["replicationType"] == "SOURCE"
    events = ivs.list_participant_events(stageArn=arn, sessionId=session_id, participantId=b["participantId"])["events"]
    assert [e["name"] for e in events] == ["SUBSCRIBE_STARTED", "JOINED"]
    assert ivs.list_participant_replicas(sourceStageArn=arn, participantId=a["participantId"])["replicas"][0][
        "replicationState"] == "ACTIVE"
    # The token signed before the restart still verifies; the participant actions still find everyone.
    assert _post(server, "join", {"token": c["token"]})["sessionId"] == session_id
    _post(server, f"participants/{a['participantId']}/leave", {})
    assert ivs.list_participant_replicas(sourceStageArn=arn, participantId=a["participantId"])["replicas"][0][
        "replicationState"] == "STOPPED"
