"""Stage sessions, participants and their events: GetStageSession, ListStageSessions,
GetParticipant, ListParticipants, ListParticipantEvents, DisconnectParticipant.

Sessions are listed newest first ([inferred]), participants in the order they first appeared
in the session, events newest first. The list operations have no ResourceNotFoundException: an
unknown stage or session (or a session of another stage) lists nothing.

DisconnectParticipant disconnects a connected participant (LEFT) and revokes it: that
participant id -- the token's ``jti`` -- cannot join the stage again. A participant that is not
connected but is known to the stage (a token issued for it, or a participant of one of its
sessions) is only revoked ([inferred]); an unknown one is ResourceNotFoundException. For an
RTMP(S) ingest publisher the ingest configuration's ``stageArn`` becomes "". Disconnecting a
replica stops that replication ([inferred]).

RevokeConnectionToken revokes a token in every stage of the account and region (see its handler).
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.operations import operation
from . import tables
from .common import (DEFAULT_PAGE_SIZE, INGEST_CONFIGURATION, REPLICA, SERVICE, SESSION, SESSION_RECORD,
    STAGE, TOKEN, arn_id, env, errors, find_stage)
from .participation import CONNECTED, active_session, disconnect, is_replica, summary, view
from .replication import stop_replica
from .tokens import revoke, revoke_token

PARTICIPANT_FILTERS = {
    "filterByUserId": "user_id",
    "filterByPublished": "published",
    "filterByState": "state",
    "filterByRecordingState": "recording_state",
}


def _session_of_stage(ctx: RequestContext, stage_id: str | None, session_id: str) -> dict | None:
    session = ctx.resources.get(SESSION, session_id) if stage_id else None
    return session if session is not None and session["_"]["stageId"] == stage_id else None


@operation(SERVICE, "GetStageSession", read_only=True)
def get_stage_session(ctx: RequestContext, req: dict) -> dict:
    stage_id, _ = find_stage(ctx, req["stageArn"])
    session = _session_of_stage(ctx, stage_id, req["sessionId"])
    if session is None:
        raise errors.ResourceNotFound(f"Stage {req['stageArn']} has no session {req['sessionId']}")
    return {"stageSession": SESSION_RECORD.view(session)}


@operation(SERVICE, "ListStageSessions", read_only=True)
def list_stage_sessions(ctx: RequestContext, req: dict) -> dict:
    stage_id = arn_id(ctx, req["stageArn"], "stage") or ""
    return ctx.list_answer(SESSION, req, default_size=DEFAULT_PAGE_SIZE, view=SESSION_RECORD.brief,
                           parent=stage_id, newest_first=True, filters={"stage": req["stageArn"]})


@operation(SERVICE, "GetParticipant", read_only=True)
def get_participant(ctx: RequestContext, req: dict) -> dict:
    stage_id, _ = find_stage(ctx, req["stageArn"])
    session = _session_of_stage(ctx, stage_id, req["sessionId"])
    participant = tables.get_participant(ctx.conn, ctx.account, ctx.region, req["sessionId"],
                                         req["participantId"]) if session else None
    if participant is None:
        raise errors.ResourceNotFound(f"Session {req['sessionId']} of stage {req['stageArn']} has no participant "
                                      f"{req['participantId']}")
    return {"participant": view(participant)}


@operation(SERVICE, "ListParticipants", read_only=True)
def list_participants(ctx: RequestContext, req: dict) -> dict:
    given = {name: req[name] for name in PARTICIPANT_FILTERS if req.get(name) is not None}
    if len(given) > 1:
        raise errors.Validation("Only one of filterByUserId, filterByPublished, filterByState and "
                                f"filterByRecordingState may be given; got {', '.join(sorted(given))}")
    columns = {PARTICIPANT_FILTERS[name]: value for name, value in given.items()}
    stage_id = arn_id(ctx, req["stageArn"], "stage")
    session = _session_of_stage(ctx, stage_id, req["sessionId"])

    def fetch(after, limit):
        if session is None:
            return []
        return [(pk, summary(participant)) for pk, participant in tables.session_participants(
            ctx.conn, ctx.account, ctx.region, req["sessionId"], after=after, limit=limit, **columns)]

    page = ctx.page(filters={"stage": req["stageArn"], "session": req["sessionId"], **given},
                    token=req.get("nextToken"), page_size=req.get("maxResults", DEFAULT_PAGE_SIZE),
                    fetch=fetch)
    return {"participants": page.items, "nextToken": page.next_token}


@operation(SERVICE, "ListParticipantEvents", read_only=True)
def list_participant_events(ctx: RequestContext, req: dict) -> dict:
    stage_id = arn_id(ctx, req["stageArn"], "stage")
    session = _session_of_stage(ctx, stage_id, req["sessionId"])

    def fetch(before, limit):
        if session is None:
            return []
        return tables.participant_events(ctx.conn, ctx.account, ctx.region, req["sessionId"],
                                         req["participantId"], before=before, limit=limit)

    page = ctx.page(filters={"stage": req["stageArn"], "session": req["sessionId"],
                             "participant": req["participantId"]},
                    token=req.get("nextToken"), page_size=req.get("maxResults", DEFAULT_PAGE_SIZE),
                    fetch=fetch)
    return {"events": page.items, "nextToken": page.next_token}


@operation(SERVICE, "DisconnectParticipant")
def disconnect_participant(ctx: RequestContext, req: dict) -> dict:
    stage_id, stage = find_stage(ctx, req["stageArn"])
    participant_id = req["participantId"]
    e = env(ctx)
    session = active_session(e, stage)
    participant = (tables.get_participant(ctx.conn, ctx.account, ctx.region, session["sessionId"], participant_id)
                   if session else None)
    if participant is not None and participant["state"] == CONNECTED and is_replica(participant):
        for _, replica in ctx.resources.list(REPLICA, where={
                "destinationSessionId": session["sessionId"], "participantId": participant_id,
                "replicationState": "ACTIVE"}):
            stop_replica(e, replica)
        return {}
    if participant is not None and participant["state"] == CONNECTED:
        _disconnect_connected(ctx, stage_id, participant)
    elif participant is None and not _known_to_stage(ctx, stage_id, stage, participant_id):
        raise errors.ResourceNotFound(f"Stage {stage['arn']} has no participant {participant_id}")
    revoke(ctx.resources, stage_id, participant_id, ctx.now)
    return {}


def _disconnect_connected(ctx: RequestContext, stage_id: str, participant: dict) -> None:
    disconnect(env(ctx), stage_id, participant)
    ingest_arn = participant.get("ingestConfigurationArn")
    ingest_id = arn_id(ctx, ingest_arn, "ingest-configuration") if ingest_arn else None
    ingest = ctx.resources.get(INGEST_CONFIGURATION, ingest_id) if ingest_id else None
    if ingest is not None:
        ingest["stageArn"] = ""
        ctx.resources.update(INGEST_CONFIGURATION, ingest_id, ingest)


@operation(SERVICE, "RevokeConnectionToken")
def revoke_connection_token(ctx: RequestContext, req: dict) -> dict:
    """The token id is the token's ``jti``, i.e. the participant id it joins as [inferred]. The
    token cannot join any stage of the account and region again, and a participant connected
    with it, in any stage, is disconnected (LEFT) as by DisconnectParticipant. The model has no
    ResourceNotFoundException: an id no token had is revoked all the same [inferred]."""
    token_id = req["tokenId"]
    for _, stage in ctx.resources.list(STAGE):
        stage_id = stage["arn"].rsplit("/", 1)[1]
        session = active_session(env(ctx), stage)
        participant = (tables.get_participant(ctx.conn, ctx.account, ctx.region, session["sessionId"], token_id)
                       if session else None)
        if participant is not None and participant["state"] == CONNECTED and not is_replica(participant):
            _disconnect_connected(ctx, stage_id, participant)
    revoke_token(ctx.resources, token_id, ctx.now)
    return {}



def _known_to_stage(ctx: RequestContext, stage_id: str, stage: dict, participant_id: str) -> bool:
    token = ctx.resources.get(TOKEN, participant_id)
    return ((token is not None and token["stageArn"] == stage["arn"])
            or tables.ever_in_stage(ctx.conn, ctx.account, ctx.region, stage_id, participant_id))
