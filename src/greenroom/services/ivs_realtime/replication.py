"""Participant replication: StartParticipantReplication, StopParticipantReplication,
ListParticipantReplicas.

A publishing participant of a source stage is replicated into a destination stage of the same
account and region ([inferred] other accounts/regions are not found): the destination gets a
REPLICA participant with the same id, the token's attributes with the request's merged over
them, that joins (JOINED) and publishes (PUBLISH_STARTED) while its source publishes; the source
becomes SOURCE and records REPLICATION_STARTED. The replica's publishing follows the source's.
When the source leaves, its replicas end after their ``reconnectWindowSeconds`` unless it
rejoins first (0: at once; the source's session lasts at least that long); ending records REPLICATION_STOPPED on the source and LEFT on the
replica. Replica records stay listed (STOPPED) until their source stage is deleted.

Rules greenroom had to infer: a participant that is not publishing is a ValidationException
("<participantId> is not publishing"); a participant not connected to the source stage is
ResourceNotFoundException; replicating a replica, or to the source stage itself, is a
ValidationException; a second active replication to the same destination, or a destination
where that participant id is already connected, is a ConflictException; a destination with its
publishers quota reached is ServiceQuotaExceededException.
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.lifecycle import Step, applies, transition
from ...core.operations import operation
from .common import (DEFAULT_PAGE_SIZE, REPLICA, REPLICA_RECORD, SERVICE, STAGE, arn_id, check_attributes,
    cors_members, env, Env, errors, events, find_stage, security_headers, transition_env)
from . import tables
from .participation import (
    CONNECTED, LEAVE, active_session, disconnect, get_participant, hold_session, is_replica, joined,
    new_participant, open_session, record, save, start_publishing, stop_publishing,
)
from .quotas import quota

# [inferred] The real service answers these two operations with CORS and security headers.
RESPONSE_HEADERS = security_headers(cacheControl="no-store")

# A replica whose source left ends after its reconnect window, unless the source rejoined (a new
# revision of the source's "leave" lane) or is connected.
EXPIRE = Step(None, lane=LEAVE, action="ivs-realtime.replica.expire")


def _parent(source_stage_id: str, participant_id: str) -> str:
    return f"{source_stage_id}/{participant_id}"


def replica_key(replica: dict) -> str:
    return f"{replica['sourceSessionId']}/{replica['participantId']}/{replica['_']['destinationStageId']}"


def _active_replicas(env: Env, source_stage_id: str, participant: dict) -> list[tuple[int, dict]]:
    return env.resources.list(REPLICA, parent=_parent(source_stage_id, participant["participantId"]),
                              where={"replicationState": "ACTIVE",
                                     "sourceSessionId": participant["_"]["sessionId"]})


@operation(SERVICE, "StartParticipantReplication")
def start_participant_replication(ctx: RequestContext, req: dict) -> dict:
    source_id, source_stage = find_stage(ctx, req["sourceStageArn"])
    destination_id, destination_stage = find_stage(ctx, req["destinationStageArn"])
    participant_id = req["participantId"]
    if source_id == destination_id:
        raise errors.Validation("sourceStageArn and destinationStageArn must be different stages")
    check_attributes(req.get("attributes"))
    e = env(ctx)
    session = active_session(e, source_stage)
    source = get_participant(e, session["sessionId"], participant_id) if session else None
    if source is None or source["state"] != CONNECTED:
        raise errors.ResourceNotFound(f"Participant {participant_id} is not connected to stage {source_stage['arn']}")
    if is_replica(source):
        raise errors.Validation(f"Participant {participant_id} is itself a replica and cannot be replicated")
    if not source["_"]["publishing"]:
        raise errors.Validation(f"{participant_id} is not publishing")
    if any(r["destinationStageArn"] == destination_stage["arn"] for _, r in _active_replicas(e, source_id, source)):
        raise errors.Conflict(f"Participant {participant_id} is already replicated to stage {destination_stage['arn']}")
    destination_session = open_session(e, destination_id, destination_stage)
    destination_session_id = destination_session["sessionId"]
    replica = get_participant(e, destination_session_id, participant_id)
    if replica is not None and replica["state"] == CONNECTED:
        raise errors.Conflict(f"A participant {participant_id} is already connected to stage {destination_stage['arn']}")
    limit = quota(e.resources, "publishers_per_stage")
    if tables.count_participants(e.conn, e.account, e.region, destination_session_id, publishing=True) >= limit:
        raise errors.ServiceQuotaExceeded(f"Stage {destination_stage['arn']} already has {limit} publishers")

    # The replica joins the destination and publishes what the source publishes.
    attributes = {**source["attributes"], **(req.get("attributes") or {})}
    replication = {"replicationType": "REPLICA", "replicationState": "ACTIVE",
                   "sourceStageArn": source_stage["arn"], "sourceSessionId": session["sessionId"]}
    new = replica is None
    if new:
        replica = new_participant(destination_id, destination_session_id, participant_id,
                                  user_id=source["userId"], attributes=attributes, capabilities=["PUBLISH"],
                                  protocol=source["protocol"], extra=replication)
    else:
        replica.update(attributes=attributes, userId=source["userId"], **replication)
    joined(e, destination_id, replica, new=new)
    start_publishing(e, destination_stage, replica)

    source.update(replicationType="SOURCE", replicationState="ACTIVE", sourceStageArn="", sourceSessionId="")
    save(e, source)
    record(e, source, "REPLICATION_STARTED", destinationStageArn=destination_stage["arn"],
           destinationSessionId=destination_session_id)

    replica_id = f"{session['sessionId']}/{participant_id}/{destination_id}"
    document = {
        "sourceStageArn": source_stage["arn"], "participantId": participant_id,
        "sourceSessionId": session["sessionId"], "destinationStageArn": destination_stage["arn"],
        "destinationSessionId": destination_session_id, "replicationState": "ACTIVE",
        "_": {"sourceStageId": source_id, "destinationStageId": destination_id,
              "reconnectWindowSeconds": req.get("reconnectWindowSeconds", 0)},
    }
    if ctx.resources.get(REPLICA, replica_id) is None:
        ctx.resources.insert(REPLICA, replica_id, document, parent=_parent(source_id, participant_id))
    else:
        ctx.resources.update(REPLICA, replica_id, document)
    return {**RESPONSE_HEADERS, **cors_members()}


@operation(SERVICE, "StopParticipantReplication")
def stop_participant_replication(ctx: RequestContext, req: dict) -> dict:
    source_id, _ = find_stage(ctx, req["sourceStageArn"])
    find_stage(ctx, req["destinationStageArn"])
    participant_id = req["participantId"]
    for _, replica in ctx.resources.list(
            REPLICA, parent=_parent(source_id, participant_id),
            where={"replicationState": "ACTIVE", "destinationStageArn": req["destinationStageArn"]}):
        stop_replica(env(ctx), replica)
        return {**RESPONSE_HEADERS, **cors_members()}
    raise errors.ResourceNotFound(f"Participant {participant_id} of stage {req['sourceStageArn']} is not replicated "
                                  f"to stage {req['destinationStageArn']}")


@operation(SERVICE, "ListParticipantReplicas", read_only=True)
def list_participant_replicas(ctx: RequestContext, req: dict) -> dict:
    """Replicas of a participant, active and stopped, in the order they were started. An
    unknown stage lists none (the operation has no ResourceNotFoundException)."""
    source_id = arn_id(ctx, req["sourceStageArn"], "stage") or ""
    parent = _parent(source_id, req["participantId"])
    return ctx.list_answer(REPLICA, req, default_size=DEFAULT_PAGE_SIZE, view=REPLICA_RECORD.view,
                           parent=parent,
                           filters={"stage": req["sourceStageArn"], "participant": req["participantId"]})


# ------------------------------------------------------------------------- lifecycle

def stop_replica(env: Env, replica: dict, source: dict | None = None) -> None:
    """End a replication: the replica leaves its stage, the source records REPLICATION_STOPPED."""
    replica["replicationState"] = "STOPPED"
    env.resources.update(REPLICA, replica_key(replica), replica)
    participant_id = replica["participantId"]
    destination = get_participant(env, replica["destinationSessionId"], participant_id)
    if destination is not None:
        if destination["state"] == CONNECTED:
            disconnect(env, replica["_"]["destinationStageId"], destination)
        destination["replicationState"] = "STOPPED"
        save(env, destination)
    source = source or get_participant(env, replica["sourceSessionId"], participant_id)
    if source is not None:
        record(env, source, "REPLICATION_STOPPED", destinationStageArn=replica["destinationStageArn"],
               destinationSessionId=replica["destinationSessionId"])
        if not _active_replicas(env, replica["_"]["sourceStageId"], source):
            source["replicationState"] = "STOPPED"
        save(env, source)


def _connected_replicas(env: Env, source: dict):
    """(replica record, destination participant) of a source's replicas still connected."""
    if source.get("replicationType") != "SOURCE":
        return
    for _, replica in _active_replicas(env, source["_"]["stageId"], source):
        destination = get_participant(env, replica["destinationSessionId"], source["participantId"])
        if destination is not None and destination["state"] == CONNECTED:
            yield replica, destination


@events.subscribe("publishing.started")
def source_started_publishing(env: Env, stage: dict | None, source: dict) -> None:
    """A source started publishing: so do its connected replicas."""
    for replica, destination in _connected_replicas(env, source):
        if not destination["_"]["publishing"]:
            start_publishing(env, env.resources.get(STAGE, replica["_"]["destinationStageId"]), destination)


@events.subscribe("publishing.stopped")
def source_stopped_publishing(env: Env, stage: dict | None, source: dict) -> None:
    """A source stopped publishing: so do its connected replicas."""
    for _, destination in _connected_replicas(env, source):
        stop_publishing(env, destination)


@events.subscribe("participant.left")
def source_left(env: Env, stage_id: str, source: dict) -> None:
    """The source left: each replica ends after its reconnect window (at once for 0)."""
    if source.get("replicationType") != "SOURCE":
        return
    for _, replica in _active_replicas(env, stage_id, source):
        window = replica["_"]["reconnectWindowSeconds"]
        if window <= 0:
            stop_replica(env, replica, source)
        else:
            # The step carries the source's "leave" revision: rejoining revises it.
            EXPIRE.schedule(env, REPLICA, replica_key(replica), source, at=env.now + window)
            hold_session(env, source["_"]["sessionId"], env.now + window)


@transition(EXPIRE.action)
def _expire_replica(resources, kind, replica_id, args, due_at) -> None:
    e = transition_env(resources, due_at, args)
    replica = resources.get(REPLICA, replica_id)
    if replica is None or replica["replicationState"] != "ACTIVE":
        return
    source = get_participant(e, replica["sourceSessionId"], replica["participantId"])
    if source is not None and (source["state"] == CONNECTED or not applies(source, args)):
        return  # the source came back within the window
    stop_replica(e, replica, source)


def stop_replicas_of_stage(env: Env, stage_arn: str) -> None:
    """A deleted stage's replications end, as source and as destination."""
    for where in ({"sourceStageArn": stage_arn}, {"destinationStageArn": stage_arn}):
        for _, replica in env.resources.list(REPLICA, where={**where, "replicationState": "ACTIVE"}):
            stop_replica(env, replica)
