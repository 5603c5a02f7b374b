"""Participants in stage sessions: what joining, publishing, subscribing and leaving do to a
stage, its session and its participants' events. What follows from them elsewhere (recordings,
replicas, compositions) subscribes to the domain events this module publishes (``common.events``):
participant.joined, stage.occupied, publishing.started/stopped, subscribe.changed,
participant.left, stage.emptied.

- A session starts with the first join (successful or refused: a refused join is recorded as a
  JOIN_ERROR of a participant of that session). It ends ``ivs-realtime.session.end`` seconds
  after the last connected participant left (AWS: "a few minutes"), or when the reconnect window
  of a replicated participant that left runs out if that is later; a join before then keeps it.
  Its ``endTime`` is when it ended; the stage's ``activeSessionId`` is set only meanwhile.
- Events are recorded as the service records them: JOINED, LEFT, PUBLISH_STARTED/STOPPED,
  SUBSCRIBE_STARTED/STOPPED (``remoteParticipantId`` = the publisher), *_ERROR with their
  ``errorCode``, REPLICATION_STARTED/STOPPED (``destinationStageArn``/``destinationSessionId``),
  TOKEN_EXCHANGED (``previousToken``/``newToken``). ``replica`` is set on every event: whether
  the participant -- for subscribe events the remote participant -- is a replica.
- A publish or a subscription lasting longer than the ``publish_subscribe_hours`` quota ends
  with PUBLISH_ERROR / SUBSCRIBE_ERROR ``STREAM_DURATION_EXCEEDED``.
"""
from __future__ import annotations

from ...core.lifecycle import REVISION, Step, applies, revise, revision, transition
from ...core.store import documents, rewrite_rows, rewrite_transitions, upgrade
from . import tables
from .common import (INGEST_CONFIGURATION, PARTICIPANT, PARTICIPANT_RECORD, SESSION, STAGE, arn_id, Env,
    events, transition_env)
from .quotas import quota

CONNECTED, DISCONNECTED = "CONNECTED", "DISCONNECTED"

# A participant's timers are independent of each other, so each has its lane of the one guard
# (core.lifecycle: ``revise(participant, lane)``): publishing and subscribing each end after the
# publish_subscribe_hours quota; ``LEAVE`` is revised when it joins or leaves (replicas of it
# expire after their window unless it came back), ``recording`` by the recording steps.
TIME_LIMIT = "ivs-realtime.participant.time-limit"
# A session nobody is connected to ends after a delay, unless someone joins first (a revision).
END = Step(None, action="ivs-realtime.session.end")
PUBLISH_LIMIT = Step(CONNECTED, lane="publish", action=TIME_LIMIT)
SUBSCRIBE_LIMIT = Step(CONNECTED, lane="subscribe", action=TIME_LIMIT)
LEAVE = "leave"

CLIENT_MEMBERS = ("ispName", "osName", "osVersion", "browserName", "browserVersion", "sdkVersion")


class Refusal(Exception):
    """A client action the stage refuses (after recording any *_ERROR event it produces).

    ``status`` is the HTTP status of the stand-in routes; ``code`` an IVS event error code
    (INSUFFICIENT_CAPABILITIES, QUOTA_EXCEEDED, ...) or greenroom's own (ALREADY_PUBLISHING, ...).
    """

    def __init__(self, status: int, code: str, message: str, **details):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, **self.details}


# ------------------------------------------------------------------------- sessions

def active_session(env: Env, stage: dict) -> dict | None:
    session_id = stage.get("activeSessionId")
    return env.resources.get(SESSION, session_id) if session_id else None


def open_session(env: Env, stage_id: str, stage: dict) -> dict:
    """The stage's active session, started now if there is none; a pending end is cancelled."""
    session = active_session(env, stage)
    if session is not None:
        if session["_"].get("endDueAt") is not None:
            session["_"]["endDueAt"] = None
            revise(session)
            env.resources.update(SESSION, session["sessionId"], session)
        return session
    session_id = "st-" + env.ids.alphanumeric(13)
    session = {"sessionId": session_id, "startTime": env.now, "_": {"stageId": stage_id, "endDueAt": None}}
    env.resources.insert(SESSION, session_id, session, parent=stage_id)
    stage["activeSessionId"] = session_id
    env.resources.update(STAGE, stage_id, stage)
    return session


def connected_count(env: Env, session_id: str) -> int:
    return tables.count_participants(env.conn, env.account, env.region, session_id, state=CONNECTED)


def settle_session(env: Env, stage_id: str, session_id: str) -> None:
    """After someone left: with nobody connected, the session ends after the named delay, and
    the stage's compositions start counting their idle time."""
    if connected_count(env, session_id):
        return
    session = env.resources.get(SESSION, session_id)
    if session is None or session.get("endTime") is not None:
        return
    # A source's replicas wait for it through their reconnect window: so does its session.
    due = max(env.now + env.delay("ivs-realtime.session.end"), session["_"].get("holdUntil") or 0)
    session["_"]["endDueAt"] = due
    revise(session)
    env.resources.update(SESSION, session_id, session)
    END.schedule(env, SESSION, session_id, session, at=due)
    events.publish("stage.emptied", env, stage_id)


def hold_session(env: Env, session_id: str, until: float) -> None:
    """Keep a session from ending before ``until`` (a replicated source's reconnect window)."""
    session = env.resources.get(SESSION, session_id)
    if session is not None and (session["_"].get("holdUntil") or 0) < until:
        session["_"]["holdUntil"] = until
        env.resources.update(SESSION, session_id, session)


def close_session(env: Env, session: dict) -> None:
    session["endTime"] = env.now
    session["_"]["endDueAt"] = None
    env.resources.update(SESSION, session["sessionId"], session)
    stage_id = session["_"]["stageId"]
    stage = env.resources.get(STAGE, stage_id)
    if stage is not None and stage.get("activeSessionId") == session["sessionId"]:
        del stage["activeSessionId"]
        env.resources.update(STAGE, stage_id, stage)


@transition(END.action)
def _end_session(resources, kind, session_id, args, due_at) -> None:
    env = transition_env(resources, due_at, args)
    session = resources.get(SESSION, session_id)
    if not applies(session, args) or session.get("endTime") is not None or connected_count(env, session_id):
        return
    close_session(env, session)


# ------------------------------------------------------------------------- participants

def new_participant(stage_id: str, session_id: str, participant_id: str, *, user_id: str,
                    attributes: dict, capabilities, protocol: str, client: dict | None = None,
                    extra: dict | None = None) -> dict:
    participant = {
        "participantId": participant_id,
        "userId": user_id,
        "state": DISCONNECTED,
        "attributes": dict(attributes),
        "published": False,
        "recordingState": "DISABLED",
        "protocol": protocol,
        "replicationType": "NONE",
        **{name: value for name, value in (client or {}).items() if name in CLIENT_MEMBERS},
        **(extra or {}),
        "_": {
            "stageId": stage_id, "sessionId": session_id, "capabilities": list(capabilities),
            "publishing": False, "subscriptions": [],
        },
    }
    return participant


def get_participant(env: Env, session_id: str, participant_id: str) -> dict | None:
    return tables.get_participant(env.conn, env.account, env.region, session_id, participant_id)


def save(env: Env, participant: dict, *, new: bool = False) -> None:
    if new:
        tables.insert_participant(env.conn, env.account, env.region, participant)
    else:
        tables.update_participant(env.conn, env.account, env.region, participant)


def view(participant: dict) -> dict:
    return PARTICIPANT_RECORD.view(participant)


def summary(participant: dict) -> dict:
    return PARTICIPANT_RECORD.brief(participant)


def is_replica(participant: dict | None) -> bool:
    return bool(participant) and participant.get("replicationType") == "REPLICA"


def record(env: Env, participant: dict, name: str, *, replica: bool | None = None, **fields) -> None:
    event = {
        "name": name,
        "participantId": participant["participantId"],
        "eventTime": env.now,
        "replica": is_replica(participant) if replica is None else replica,
        **{key: value for key, value in fields.items() if value is not None},
    }
    private = participant["_"]
    tables.add_event(env.conn, env.account, env.region, private["stageId"], private["sessionId"],
                     participant["participantId"], event)


# ------------------------------------------------------------------------- joining and leaving

def _participant_of(env: Env, stage_id: str, session_id: str, identity: dict) -> tuple[dict, bool]:
    """The session's participant of this identity, and whether it is new (not saved yet)."""
    participant = get_participant(env, session_id, identity["participantId"])
    if participant is not None:
        return participant, False
    return new_participant(stage_id, session_id, identity["participantId"], user_id=identity["userId"],
                           attributes=identity["attributes"], capabilities=identity["capabilities"],
                           protocol=identity["protocol"], client=identity.get("client"),
                           extra=identity.get("extra")), True

def admit(env: Env, stage_id: str, stage: dict, session: dict, identity: dict) -> dict:
    """A participant joins the session (the caller checked the token and the quotas)."""
    participant, new = _participant_of(env, stage_id, session["sessionId"], identity)
    if not new:
        participant.update(userId=identity["userId"], attributes=dict(identity["attributes"]),
                           protocol=identity["protocol"])
        participant["_"]["capabilities"] = list(identity["capabilities"])
    participant["_"]["tokenExpiresAt"] = identity.get("tokenExpiresAt")
    # Rejoining cancels what the last leave scheduled (replicas expiring after their window).
    revise(participant, LEAVE)
    joined(env, stage_id, participant, new=new)
    return participant


def joined(env: Env, stage_id: str, participant: dict, *, new: bool) -> None:
    """A participant (a client, an encoder or a replica) is connected: JOINED, and the events."""
    participant["state"] = CONNECTED
    participant.setdefault("firstJoinTime", env.now)
    save(env, participant, new=new)
    record(env, participant, "JOINED")
    events.publish("participant.joined", env, stage_id, participant)
    events.publish("stage.occupied", env, stage_id)


def refuse_join(env: Env, stage_id: str, session: dict, identity: dict, status: int, code: str,
                message: str) -> Refusal:
    """A JOIN_ERROR: the participant (DISCONNECTED) and its event are recorded in the session."""
    session_id = session["sessionId"]
    participant, new = _participant_of(env, stage_id, session_id, identity)
    if new:
        save(env, participant, new=True)
    record(env, participant, "JOIN_ERROR", errorCode=code)
    settle_session(env, stage_id, session_id)
    return Refusal(status, code, message, participantId=participant["participantId"], sessionId=session_id)


def disconnect(env: Env, stage_id: str, participant: dict) -> None:
    """The participant leaves (or is disconnected): its publishing and subscriptions stop, LEFT is
    recorded, replicas of it wind down, and an emptied session heads for its end."""
    stop_publishing(env, participant)
    stop_subscriptions(env, participant)
    participant["state"] = DISCONNECTED
    revise(participant, LEAVE)
    save(env, participant)
    record(env, participant, "LEFT")
    if participant.get("ingestConfigurationArn"):
        refresh_ingest_state(env, participant["ingestConfigurationArn"])
    events.publish("participant.left", env, stage_id, participant)
    settle_session(env, stage_id, participant["_"]["sessionId"])


# ------------------------------------------------------------------------- publishing

def publish(env: Env, stage: dict, participant: dict) -> None:
    """A client starts publishing: capability and quota checks, then PUBLISH_STARTED."""
    if participant["_"]["publishing"]:
        raise Refusal(409, "ALREADY_PUBLISHING", f"Participant {participant['participantId']} is already publishing")
    if "PUBLISH" not in participant["_"]["capabilities"]:
        record(env, participant, "PUBLISH_ERROR", errorCode="INSUFFICIENT_CAPABILITIES")
        raise Refusal(403, "INSUFFICIENT_CAPABILITIES",
                      f"Participant {participant['participantId']}'s token does not allow publishing")
    session_id = participant["_"]["sessionId"]
    limit = quota(env.resources, "publishers_per_stage")
    if tables.count_participants(env.conn, env.account, env.region, session_id, publishing=True) >= limit:
        record(env, participant, "PUBLISH_ERROR", errorCode="QUOTA_EXCEEDED")
        raise Refusal(429, "QUOTA_EXCEEDED", f"The stage already has {limit} publishers (the publishers_per_stage quota)")
    start_publishing(env, stage, participant)


def start_publishing(env: Env, stage: dict, participant: dict) -> None:
    private = participant["_"]
    private["publishing"] = True
    revise(participant, PUBLISH_LIMIT.lane)
    participant["published"] = True
    save(env, participant)
    record(env, participant, "PUBLISH_STARTED")
    PUBLISH_LIMIT.schedule(env, PARTICIPANT, participant_key(participant), participant,
                           at=env.now + quota(env.resources, "publish_subscribe_hours") * 3600, what="publish")
    events.publish("publishing.started", env, stage, participant)


def stop_publishing(env: Env, participant: dict, *, error_code: str | None = None) -> None:
    """Publishing stops: PUBLISH_STOPPED (after PUBLISH_ERROR with ``error_code``) and its
    subscribers' subscriptions stop; then publishing.stopped (recording, replicas)."""
    private = participant["_"]
    if not private["publishing"]:
        return
    if error_code:
        record(env, participant, "PUBLISH_ERROR", errorCode=error_code)
    private["publishing"] = False
    revise(participant, PUBLISH_LIMIT.lane)
    save(env, participant)
    record(env, participant, "PUBLISH_STOPPED")
    for _, subscriber in tables.session_participants(env.conn, env.account, env.region,
                                                     private["sessionId"], subscribing=True):
        if participant["participantId"] in subscriber["_"]["subscriptions"]:
            _end_subscription(env, subscriber, participant)
    events.publish("publishing.stopped", env, env.resources.get(STAGE, private["stageId"]), participant)


# ------------------------------------------------------------------------- subscribing

def subscribe(env: Env, participant: dict, publisher_id: str) -> None:
    private = participant["_"]
    session_id = private["sessionId"]
    publisher = get_participant(env, session_id, publisher_id) if publisher_id else None
    remote = {"remoteParticipantId": publisher_id or None, "replica": is_replica(publisher)}
    if "SUBSCRIBE" not in private["capabilities"]:
        record(env, participant, "SUBSCRIBE_ERROR", errorCode="INSUFFICIENT_CAPABILITIES", **remote)
        raise Refusal(403, "INSUFFICIENT_CAPABILITIES",
                      f"Participant {participant['participantId']}'s token does not allow subscribing")
    if publisher_id == participant["participantId"]:
        record(env, participant, "SUBSCRIBE_ERROR", errorCode="INVALID_INPUT", **remote)
        raise Refusal(400, "INVALID_INPUT", "A participant cannot subscribe to itself")
    if publisher is None or publisher["state"] != CONNECTED or not publisher["_"]["publishing"]:
        record(env, participant, "SUBSCRIBE_ERROR", errorCode="PUBLISHER_NOT_FOUND", **remote)
        raise Refusal(404, "PUBLISHER_NOT_FOUND", f"No participant {publisher_id!r} is publishing in session {session_id}")
    if publisher_id in private["subscriptions"]:
        raise Refusal(409, "ALREADY_SUBSCRIBED", f"Participant {participant['participantId']} already subscribes to {publisher_id}")
    if not private["subscriptions"]:
        limit = quota(env.resources, "subscribers_per_stage")
        if tables.count_participants(env.conn, env.account, env.region, session_id, subscribing=True) >= limit:
            record(env, participant, "SUBSCRIBE_ERROR", errorCode="QUOTA_EXCEEDED", **remote)
            raise Refusal(429, "QUOTA_EXCEEDED", f"The stage already has {limit} subscribers (the subscribers_per_stage quota)")
        revise(participant, SUBSCRIBE_LIMIT.lane)
        SUBSCRIBE_LIMIT.schedule(env, PARTICIPANT, participant_key(participant), participant,
                                 at=env.now + quota(env.resources, "publish_subscribe_hours") * 3600,
                                 what="subscribe")
    private["subscriptions"].append(publisher_id)
    save(env, participant)
    record(env, participant, "SUBSCRIBE_STARTED", **remote)
    events.publish("subscribe.changed", env, participant, publisher_id, True)


def unsubscribe(env: Env, participant: dict, publisher_id: str) -> None:
    if publisher_id not in participant["_"]["subscriptions"]:
        raise Refusal(409, "NOT_SUBSCRIBED", f"Participant {participant['participantId']} does not subscribe to {publisher_id!r}")
    publisher = get_participant(env, participant["_"]["sessionId"], publisher_id)
    participant["_"]["subscriptions"].remove(publisher_id)
    save(env, participant)
    record(env, participant, "SUBSCRIBE_STOPPED", remoteParticipantId=publisher_id, replica=is_replica(publisher))
    events.publish("subscribe.changed", env, participant, publisher_id, False)


def stop_subscriptions(env: Env, participant: dict, *, error_code: str | None = None) -> None:
    ended = list(participant["_"]["subscriptions"])
    for publisher_id in ended:
        publisher = get_participant(env, participant["_"]["sessionId"], publisher_id)
        remote = {"remoteParticipantId": publisher_id, "replica": is_replica(publisher)}
        if error_code:
            record(env, participant, "SUBSCRIBE_ERROR", errorCode=error_code, **remote)
        record(env, participant, "SUBSCRIBE_STOPPED", **remote)
    participant["_"]["subscriptions"] = []
    save(env, participant)
    for publisher_id in ended:
        events.publish("subscribe.changed", env, participant, publisher_id, False)


def _end_subscription(env: Env, subscriber: dict, publisher: dict) -> None:
    subscriber["_"]["subscriptions"].remove(publisher["participantId"])
    save(env, subscriber)
    record(env, subscriber, "SUBSCRIBE_STOPPED", remoteParticipantId=publisher["participantId"],
           replica=is_replica(publisher))
    events.publish("subscribe.changed", env, subscriber, publisher["participantId"], False)


# ------------------------------------------------------------------------- duration limits

def participant_key(participant: dict) -> str:
    """The id of a participant's transitions (participants live in a table of their own)."""
    return f"{participant['_']['sessionId']}/{participant['participantId']}"


def participant_by_key(env: Env, key: str) -> dict | None:
    session_id, _, participant_id = key.partition("/")
    return get_participant(env, session_id, participant_id)


@transition(TIME_LIMIT)
def _time_limit(resources, kind, key, args, due_at) -> None:
    """A publish or subscription outlived the publish_subscribe_hours quota."""
    env = transition_env(resources, due_at, args)
    participant = participant_by_key(env, key)
    if not applies(participant, args):
        return
    private = participant["_"]
    if args["what"] == "publish" and private["publishing"]:
        stop_publishing(env, participant, error_code="STREAM_DURATION_EXCEEDED")
    elif args["what"] == "subscribe" and private["subscriptions"]:
        stop_subscriptions(env, participant, error_code="STREAM_DURATION_EXCEEDED")


# ------------------------------------------------------------------------- ingest

def refresh_ingest_state(env: Env, ingest_arn: str) -> None:
    """An ingest configuration is ACTIVE while one of its publishers (primary or redundant
    credential) is connected and publishing."""
    ingest_id = arn_id(env, ingest_arn, "ingest-configuration")
    ingest = env.resources.get(INGEST_CONFIGURATION, ingest_id) if ingest_id else None
    if ingest is None:
        return
    connected, publishing = [], False
    for key in ingest["_"].get("publishers", []):
        participant = participant_by_key(env, key)
        if participant and participant["state"] == CONNECTED:
            connected.append(key)
            publishing = publishing or participant["_"]["publishing"]
    ingest["_"]["publishers"] = connected
    ingest["state"] = "ACTIVE" if publishing else "INACTIVE"
    env.resources.update(INGEST_CONFIGURATION, ingest_id, ingest)


# ------------------------------------------------------------------------- stored before

# The four counters participants kept before their timers became lanes of the one guard.
_GENERATIONS = {"leaveGeneration": LEAVE, "publishGeneration": "publish", "subscribeGeneration": "subscribe",
                "recordingGeneration": "recording"}


@upgrade("ivs-realtime.one-guard")
def _one_guard(conn) -> None:
    """Once, when a store opens: participants stored with four ``*Generation`` counters in their
    ``"_"`` dict keep them as lanes of ``_rev``, and their pending timers expect those lanes; a
    pending session end guarded by its due time (``endDueAt``) expects the session's revision
    (one that is no longer the session's end can never apply)."""
    def participant(row) -> dict | None:
        data = dict(row.data)
        private = {name: value for name, value in data["_"].items() if name not in _GENERATIONS}
        if private == data["_"]:
            return None
        lanes = {lane: data["_"][name] for name, lane in _GENERATIONS.items() if data["_"].get(name)}
        return {**data, "_": private, **({REVISION: lanes} if lanes else {})}
    rewrite_rows(conn, tables.participants, participant)

    def time_limit(args: dict, pending) -> dict | None:
        if "generation" not in args:
            return None
        return {"what": args["what"], "expect": {REVISION: {args["what"]: args["generation"]}, "state": CONNECTED}}

    def recording(args: dict, pending) -> dict | None:
        if "generation" not in args:
            return None
        return {"expect": {REVISION: {"recording": args["generation"]}, "recordingState": args["expect"]},
                "set": {"recordingState": args["to"]}}

    def replica(args: dict, pending) -> dict | None:
        if "leaveGeneration" not in args:
            return None
        return {"expect": {REVISION: {LEAVE: args["leaveGeneration"]}}}

    rewrite_transitions(conn, TIME_LIMIT, time_limit)
    rewrite_transitions(conn, "ivs-realtime.recording.settle", recording)
    rewrite_transitions(conn, "ivs-realtime.replica.expire", replica)

    sessions = {session["sessionId"]: session for session in documents(conn, SESSION)}

    def session_end(args: dict, pending) -> dict | None:
        if "due" not in args:
            return None
        session = sessions.get(pending.resource_id)
        current = session is not None and session["_"].get("endDueAt") == args["due"]
        return {"expect": {REVISION: revision(session) if current else -1}}
    rewrite_transitions(conn, END.action, session_end)
