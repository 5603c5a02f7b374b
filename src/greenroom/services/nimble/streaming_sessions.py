"""Streaming sessions and their backups: CreateStreamingSession, GetStreamingSession,
ListStreamingSessions, StartStreamingSession, StopStreamingSession, DeleteStreamingSession,
GetStreamingSessionBackup, ListStreamingSessionBackups.

States: CREATE_IN_PROGRESS -> READY | CREATE_FAILED; StopStreamingSession: READY ->
STOP_IN_PROGRESS -> STOPPED | STOP_FAILED; StartStreamingSession: STOPPED ->
START_IN_PROGRESS -> READY | START_FAILED; DeleteStreamingSession: DELETE_IN_PROGRESS ->
DELETED | DELETE_FAILED. A session counts against its owner's quota until it is DELETED;
DELETED sessions disappear after the retention delay.

Timers, from the launch profile's stream configuration (copied into the session when it is
created, so later launch profile updates do not change it [inferred]):
- a session may be READY for maxSessionLengthInMinutes (counted from when it becomes READY
  [inferred]); then it is stopped if it can be (``stopAt``), terminated otherwise
  (``terminateAt``). It can be stopped when maxStoppedSessionLengthInMinutes is above 0, or
  when it is persistent with automaticTerminationMode DEACTIVATED (see
  ``launch_profiles.can_stop``); otherwise StopStreamingSession is a ValidationException;
- with automaticTerminationMode ACTIVATED, a session STOPPED for
  maxStoppedSessionLengthInMinutes is terminated (``terminateAt``).

Backups: with sessionBackup mode AUTOMATIC, every time a session becomes STOPPED a backup is
taken (state READY [inferred]); beyond maxBackupsToRetain the oldest backups of the session
are deleted (with 0, none is kept). StartStreamingSession can restore one of the session's own backups (``backupId``,
``startedFromBackupId``). Backups outlive their session [inferred].

Creation rules: a usable launch profile of the studio; ``streamingImageId`` and
``ec2InstanceType`` default to the launch profile's first and must be among the ones it
allows; the image must be READY and every EULA it lists accepted by the studio
(ValidationException naming the missing ones); ``ownedBy`` defaults to the caller. Launch
profile membership of the owner is not enforced ([unverified] in the reference).
``startedAt``/``startedBy`` record StartStreamingSession calls (a new session has none) and
``stoppedAt``/``stoppedBy`` the last stop (no ``stoppedBy`` when the service stopped it)
[inferred].
"""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.idempotency import idempotent
from ...core.lifecycle import Step, revise, transition, update_fields
from ...core.operations import operation
from ...core.store import Resources
from .common import (LAUNCH_PROFILE, MISSING, SESSION_BACKUP, SESSION_BACKUP_RECORD, SESSION_STREAM,
    STREAMING_IMAGE, STREAMING_SESSION, STREAMING_SESSION_RECORD, TOKEN_REUSED, USABLE_STATES, caller, errors,
    failed, find_child, find_studio, in_studio, insert, key, new_id, require_state, settle, status, take_fault,
    usable_studio)
from .eulas import accepted_eula_ids
from .launch_profiles import can_stop

LIST_PAGE_SIZE = 10  # ListStreamingSessions / ListStreamingSessionBackups have no maxResults [inferred]
# Sessions that are not DELETED, per owner and studio [inferred: the service had a quota of
# streaming sessions per user; greenroom's limit is generous].
MAX_SESSIONS_PER_OWNER = 25
IMAGE_LAUNCHABLE_STATES = frozenset({"READY", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "DELETE_FAILED"})
DELETABLE_STATES = frozenset({"READY", "STOPPED", "CREATE_FAILED", "START_FAILED", "STOP_FAILED",
                              "DELETE_FAILED"})


def find_session(ctx: RequestContext, studio_id: str, session_id: str) -> dict:
    return find_child(ctx, STREAMING_SESSION, "streaming session", studio_id, session_id)


# ------------------------------------------------------------------------------ timelines

# The session's lifecycle (core.lifecycle.Step: the state it leaves, what it becomes, after which
# delay). Steps without a delay are timed by the session's own limits.
CREATED = Step("CREATE_IN_PROGRESS", {"state": "READY", **status("STREAMING_SESSION_READY")},
               delay="nimble.streaming_session.create", stamp="updatedAt")
STARTED = Step("START_IN_PROGRESS", {"state": "READY", **status("STREAMING_SESSION_STARTED")},
               delay="nimble.streaming_session.start", stamp="updatedAt")
STOPPED = Step("STOP_IN_PROGRESS", {"state": "STOPPED", **status("STREAMING_SESSION_STOPPED")},
               delay="nimble.streaming_session.stop", action="nimble.session.stopped", stamp="updatedAt")
DELETED = Step("DELETE_IN_PROGRESS", {"state": "DELETED", **status("STREAMING_SESSION_DELETED")},
               delay="nimble.streaming_session.delete", stamp="updatedAt")
LENGTH_REACHED = Step("READY", {"state": "STOP_IN_PROGRESS", "stoppedBy": None, "stopAt": None, **status(
    "STREAMING_SESSION_STOP_IN_PROGRESS", "The streaming session reached its maximum length and is being stopped")},
    stamp="updatedAt")
TERMINATED = {state: Step(state, {"state": "DELETE_IN_PROGRESS", **status("STREAMING_SESSION_DELETE_IN_PROGRESS")},
                          stamp="updatedAt") for state in ("READY", "STOPPED")}


def _terminate(ctx: RequestContext, session_key: str, session: dict, at: float, from_state: str) -> None:
    """``from_state`` -> DELETE_IN_PROGRESS at ``at`` -> DELETED -> gone."""
    TERMINATED[from_state].schedule(ctx, STREAMING_SESSION, session_key, session, at=at)
    settle(ctx, DELETED, STREAMING_SESSION, session_key, session, at=at + ctx.delay(DELETED.delay))


def _stop_steps(ctx: RequestContext, session_key: str, session: dict, stop_at: float) -> float:
    """STOP_IN_PROGRESS (at ``stop_at``) -> STOPPED, with a backup if the session takes them;
    returns when it is STOPPED. The termination timer of STOPPED sessions follows."""
    stopped_at = stop_at + ctx.delay(STOPPED.delay)
    backup = None
    if session["backupMode"] == "AUTOMATIC" and session["maxBackupsToRetain"] > 0:
        backup_id = new_id(ctx)
        backup = {
            "backupId": backup_id, "arn": ctx.arn("nimble", f"streaming-session-backup/{backup_id}"),
            "sessionId": session["sessionId"], "launchProfileId": session["launchProfileId"],
            "ownedBy": session["ownedBy"], "tags": dict(session.get("tags") or {}),
            "state": "READY", **status("STREAMING_SESSION_READY", "The backup is ready"),
        }
    STOPPED.schedule(ctx, STREAMING_SESSION, session_key, session, at=stopped_at,
                     backup=backup, keep=session["maxBackupsToRetain"])
    config = session["_config"]
    if config.get("automaticTerminationMode") == "ACTIVATED" and config["maxStoppedSessionLengthInMinutes"] > 0:
        session["terminateAt"] = stopped_at + config["maxStoppedSessionLengthInMinutes"] * 60
        _terminate(ctx, session_key, session, session["terminateAt"], "STOPPED")
    return stopped_at


def _active_period(ctx: RequestContext, session_key: str, session: dict, ready_at: float) -> None:
    """Once READY at ``ready_at``: stopped or terminated after the maximum session length."""
    config = session["_config"]
    end_at = ready_at + config["maxSessionLengthInMinutes"] * 60
    session["stopAt"] = session["terminateAt"] = None
    if config["canStop"]:
        session["stopAt"] = end_at
        LENGTH_REACHED.schedule(ctx, STREAMING_SESSION, session_key, session, at=end_at, set={"stoppedAt": end_at})
        _stop_steps(ctx, session_key, session, end_at)
    else:
        session["terminateAt"] = end_at
        _terminate(ctx, session_key, session, end_at, "READY")


@transition("nimble.session.stopped")
def session_stopped(resources: Resources, kind: str, session_key: str, args: dict, due_at: float) -> None:
    """The session is STOPPED: keep a backup of it and forget the oldest beyond the limit."""
    session = update_fields(resources, kind, session_key, args, due_at)
    backup = args.get("backup")
    if session is None or not backup:
        return
    studio_id = session_key.split("/", 1)[0]
    backup_key = f"{studio_id}/{backup['backupId']}"
    resources.insert(SESSION_BACKUP, backup_key, {**backup, "createdAt": due_at, "_key": backup_key},
                     parent=studio_id)
    backups = resources.list(SESSION_BACKUP, parent=studio_id, where={"sessionId": session["sessionId"]})
    for _, old in backups[:max(0, len(backups) - args["keep"])]:
        resources.delete(SESSION_BACKUP, old["_key"])


# ------------------------------------------------------------------------------ operations

@operation("nimble", "CreateStreamingSession")
@idempotent("clientToken", TOKEN_REUSED)
def create_streaming_session(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    usable_studio(ctx, studio_id)
    profile_id = req["launchProfileId"]
    profile = find_child(ctx, LAUNCH_PROFILE, "launch profile", studio_id, profile_id)
    require_state(profile, "launch profile", profile_id, USABLE_STATES, "launch sessions from")
    configuration = profile["streamConfiguration"]

    image_id = req.get("streamingImageId") or configuration["streamingImageIds"][0]
    if image_id not in configuration["streamingImageIds"]:
        raise errors.Validation(f"Launch profile {profile_id} does not allow streaming image {image_id}; "
                                f"it allows {', '.join(configuration['streamingImageIds'])}.",
                                code="STREAMING_IMAGE_NOT_ALLOWED")
    image = ctx.resources.get(STREAMING_IMAGE, key(studio_id, image_id))
    if image is None or image["state"] in ("DELETED", "DELETE_IN_PROGRESS"):
        raise errors.ResourceNotFound(MISSING.format("streaming image", image_id), resourceId=image_id)
    if image["state"] not in IMAGE_LAUNCHABLE_STATES:
        raise errors.Validation(f"Streaming image {image_id} is {image['state']}; sessions need a READY image.",
                                code="STREAMING_IMAGE_NOT_READY", resourceId=image_id)
    instance_type = req.get("ec2InstanceType") or configuration["ec2InstanceTypes"][0]
    if instance_type not in configuration["ec2InstanceTypes"]:
        raise errors.Validation(f"Launch profile {profile_id} does not allow instance type {instance_type}; "
                                f"it allows {', '.join(configuration['ec2InstanceTypes'])}.",
                                code="INSTANCE_TYPE_NOT_ALLOWED")
    missing = [eula for eula in image.get("eulaIds") or [] if eula not in accepted_eula_ids(ctx, studio_id)]
    if missing:
        raise errors.Validation(f"Studio {studio_id} must accept the EULAs of streaming image {image_id} "
                                f"first (AcceptEulas): {', '.join(missing)}.", code="EULA_NOT_ACCEPTED")
    owner = req.get("ownedBy") or caller(ctx)
    active = sum(1 for _, s in ctx.resources.list(STREAMING_SESSION, parent=studio_id, where={"ownedBy": owner})
                 if s["state"] != "DELETED")
    if active >= MAX_SESSIONS_PER_OWNER:
        raise errors.ServiceQuotaExceeded(f"{owner} already has {active} streaming sessions in studio {studio_id}, "
                                          f"the most allowed ({MAX_SESSIONS_PER_OWNER}); delete some first.",
                                          ownedBy=owner)

    persistent = configuration["sessionPersistenceMode"] == "ACTIVATED"
    session_id = new_id(ctx)
    session = {
        "sessionId": session_id,
        "arn": ctx.arn("nimble", f"streaming-session/{session_id}"),
        "launchProfileId": profile_id,
        "streamingImageId": image_id,
        "ec2InstanceType": instance_type,
        "ownedBy": owner,
        "createdBy": caller(ctx), "createdAt": ctx.now,
        "updatedBy": caller(ctx), "updatedAt": ctx.now,
        "tags": req.get("tags") or {},
        "sessionPersistenceMode": configuration["sessionPersistenceMode"],
        "backupMode": configuration["sessionBackup"]["mode"],
        "maxBackupsToRetain": configuration["sessionBackup"]["maxBackupsToRetain"],
        "state": "CREATE_IN_PROGRESS", **status("STREAMING_SESSION_CREATE_IN_PROGRESS"),
        "_config": {
            "maxSessionLengthInMinutes": configuration["maxSessionLengthInMinutes"],
            "maxStoppedSessionLengthInMinutes": configuration["maxStoppedSessionLengthInMinutes"],
            "automaticTerminationMode": configuration.get("automaticTerminationMode"),
            "canStop": can_stop(configuration),
        },
        "_rev": 1,
    }
    if persistent:
        session["automaticTerminationMode"] = configuration["automaticTerminationMode"]
        session["volumeConfiguration"] = dict(configuration["volumeConfiguration"])
    session_key = key(studio_id, session_id)
    failure = take_fault(ctx, "CreateStreamingSession")
    ready_at = CREATED.schedule(ctx, STREAMING_SESSION, session_key, session, set=failed(failure, "CREATE_FAILED"))
    if not failure:
        _active_period(ctx, session_key, session, ready_at)
    insert(ctx, STREAMING_SESSION, session_key, session, parent=studio_id)
    return {"session": STREAMING_SESSION_RECORD.view(session)}


STREAMING_SESSION_RECORD.get_operation("nimble", "GetStreamingSession", "session",
                                       lambda ctx, req: find_session(ctx, req["studioId"], req["sessionId"]))


@operation("nimble", "ListStreamingSessions", read_only=True)
def list_streaming_sessions(ctx: RequestContext, req: dict) -> dict:
    """The studio's sessions, optionally only those ``createdBy`` or ``ownedBy`` a user and
    only the ``sessionIds`` given (a comma-separated list); filters combine."""
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    where = {field: req[field] for field in ("createdBy", "ownedBy") if req.get(field)}
    wanted = sorted({part.strip() for part in (req.get("sessionIds") or "").split(",") if part.strip()})
    return ctx.list_answer(STREAMING_SESSION, req, view=STREAMING_SESSION_RECORD.view,
                           page_size=LIST_PAGE_SIZE, parent=studio_id, where=where or None,
                           keep=lambda s: not wanted or s["sessionId"] in wanted,
                           filters={"studioId": studio_id, **where, "sessionIds": wanted or None})


def _session_for_change(ctx: RequestContext, req: dict, allowed, action: str) -> tuple[str, dict]:
    studio_id, session_id = req["studioId"], req["sessionId"]
    session = find_session(ctx, studio_id, session_id)
    require_state(session, "streaming session", session_id, allowed, action)
    return key(studio_id, session_id), session


def _end_streams(ctx: RequestContext, session_key: str) -> None:
    """A session that stops or goes away takes its streams with it [inferred]."""
    for _, stream in ctx.resources.list(SESSION_STREAM, parent=session_key):
        if stream["state"] in ("READY", "CREATE_IN_PROGRESS"):
            stream.update(state="DELETED", **status("STREAM_DELETED"))
            revise(stream)
            ctx.resources.update(SESSION_STREAM, stream["_key"], stream)


@operation("nimble", "StopStreamingSession")
@idempotent("clientToken", TOKEN_REUSED)
def stop_streaming_session(ctx: RequestContext, req: dict) -> dict:
    session_key, session = _session_for_change(ctx, req, {"READY"}, "stop")
    persistent = session["sessionPersistenceMode"] == "ACTIVATED"
    if not session["_config"]["canStop"]:
        raise errors.Validation(
            f"Streaming session {session['sessionId']} cannot be stopped: its launch profile's "
            "maxStoppedSessionLengthInMinutes is 0 (stopping needs it above 0, or a persistent session "
            "with automaticTerminationMode DEACTIVATED). Delete the session instead.",
            code="STOP_NOT_ALLOWED", resourceId=session["sessionId"])
    retention = req.get("volumeRetentionMode")
    if retention and not persistent:
        raise errors.Validation("volumeRetentionMode is only allowed for sessions whose sessionPersistenceMode "
                                "is ACTIVATED.", code="INVALID_PARAMETER")
    session.update(state="STOP_IN_PROGRESS", stoppedAt=ctx.now, stoppedBy=caller(ctx), stopAt=None,
                   terminateAt=None, updatedAt=ctx.now, updatedBy=caller(ctx),
                   **status("STREAMING_SESSION_STOP_IN_PROGRESS"))
    if persistent:
        session["volumeRetentionMode"] = retention or "RETAIN"
    revise(session)
    _end_streams(ctx, session_key)
    failure = take_fault(ctx, "StopStreamingSession")
    if failure:
        STOPPED.schedule(ctx, STREAMING_SESSION, session_key, session, set=failed(failure, "STOP_FAILED"))
    else:
        _stop_steps(ctx, session_key, session, ctx.now)
    ctx.resources.update(STREAMING_SESSION, session_key, session)
    return {"session": STREAMING_SESSION_RECORD.view(session)}


@operation("nimble", "StartStreamingSession")
@idempotent("clientToken", TOKEN_REUSED)
def start_streaming_session(ctx: RequestContext, req: dict) -> dict:
    session_key, session = _session_for_change(ctx, req, {"STOPPED"}, "start")
    studio_id = req["studioId"]
    backup_id = req.get("backupId")
    if backup_id:
        backup = ctx.resources.get(SESSION_BACKUP, key(studio_id, backup_id))
        if backup is None:
            raise errors.ResourceNotFound(MISSING.format("streaming session backup", backup_id), resourceId=backup_id)
        if backup["sessionId"] != session["sessionId"]:
            raise errors.Validation(f"Backup {backup_id} belongs to streaming session {backup['sessionId']}, "
                                    f"not {session['sessionId']}.", code="INVALID_BACKUP", resourceId=backup_id)
    session.update(state="START_IN_PROGRESS", startedAt=ctx.now, startedBy=caller(ctx),
                   startedFromBackupId=backup_id, terminateAt=None, stopAt=None,
                   updatedAt=ctx.now, updatedBy=caller(ctx), **status("STREAMING_SESSION_START_IN_PROGRESS"))
    revise(session)
    failure = take_fault(ctx, "StartStreamingSession")
    ready_at = STARTED.schedule(ctx, STREAMING_SESSION, session_key, session, set=failed(failure, "START_FAILED"))
    if not failure:
        _active_period(ctx, session_key, session, ready_at)
    ctx.resources.update(STREAMING_SESSION, session_key, session)
    return {"session": STREAMING_SESSION_RECORD.view(session)}


@operation("nimble", "DeleteStreamingSession")
@idempotent("clientToken", TOKEN_REUSED)
def delete_streaming_session(ctx: RequestContext, req: dict) -> dict:
    session_key, session = _session_for_change(ctx, req, DELETABLE_STATES, "delete")
    session.update(state="DELETE_IN_PROGRESS", stopAt=None, terminateAt=None, updatedAt=ctx.now,
                   updatedBy=caller(ctx), **status("STREAMING_SESSION_DELETE_IN_PROGRESS"))
    revise(session)
    _end_streams(ctx, session_key)
    settle(ctx, DELETED, STREAMING_SESSION, session_key, session,
           outcome=failed(take_fault(ctx, "DeleteStreamingSession"), "DELETE_FAILED"))
    ctx.resources.update(STREAMING_SESSION, session_key, session)
    return {"session": STREAMING_SESSION_RECORD.view(session)}


SESSION_BACKUP_RECORD.get_operation("nimble", "GetStreamingSessionBackup", "streamingSessionBackup",
                                    lambda ctx, req: find_child(ctx, SESSION_BACKUP, "streaming session backup", req["studioId"], req["backupId"]))


SESSION_BACKUP_RECORD.list_operation("nimble", "ListStreamingSessionBackups", in_studio("ownedBy"),
                                     page_size=LIST_PAGE_SIZE)
