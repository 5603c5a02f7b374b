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
from ...core.lifecycle import transition
from ...core.operations import operation
from ...core.store import Resources
from .common import (LAUNCH_PROFILE, SESSION_BACKUP, SESSION_STREAM, STREAMING_IMAGE,
    STREAMING_SESSION, USABLE_STATES, bump, caller, delay, MISSING, errors,
    filtered_fetch, find_child, find_studio, TOKEN_REUSED, insert, key,
    new_id, require_state, schedule_removal, status, take_fault,
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

def _step(ctx: RequestContext, session_key: str, rev: int, due_at: float, from_state: str,
          fields: dict, action: str = "update", **extra) -> None:
    ctx.schedule_at(due_at, STREAMING_SESSION, session_key, action,
                expect={"_rev": rev, "state": from_state},
                set={**fields, "updatedAt": due_at}, **extra)


def _terminate(ctx: RequestContext, session_key: str, session: dict, at: float, from_state: str) -> None:
    """``from_state`` -> DELETE_IN_PROGRESS at ``at`` -> DELETED -> gone."""
    rev = session["_rev"]
    _step(ctx, session_key, rev, at, from_state,
          {"state": "DELETE_IN_PROGRESS", **status("STREAMING_SESSION_DELETE_IN_PROGRESS")})
    deleted_at = at + delay(ctx, "nimble.streaming_session.delete")
    _step(ctx, session_key, rev, deleted_at, "DELETE_IN_PROGRESS",
          {"state": "DELETED", **status("STREAMING_SESSION_DELETED")})
    schedule_removal(ctx, STREAMING_SESSION, session_key, session, deleted_at, "DELETED")


def _stop_steps(ctx: RequestContext, session_key: str, session: dict, stop_at: float) -> float:
    """STOP_IN_PROGRESS (at ``stop_at``) -> STOPPED, with a backup if the session takes them;
    returns when it is STOPPED. The termination timer of STOPPED sessions follows."""
    stopped_at = stop_at + delay(ctx, "nimble.streaming_session.stop")
    backup = None
    if session["backupMode"] == "AUTOMATIC" and session["maxBackupsToRetain"] > 0:
        backup_id = new_id(ctx)
        backup = {
            "backupId": backup_id, "arn": ctx.arn("nimble", f"streaming-session-backup/{backup_id}"),
            "sessionId": session["sessionId"], "launchProfileId": session["launchProfileId"],
            "ownedBy": session["ownedBy"], "tags": dict(session.get("tags") or {}),
            "state": "READY", **status("STREAMING_SESSION_READY", "The backup is ready"),
        }
    _step(ctx, session_key, session["_rev"], stopped_at, "STOP_IN_PROGRESS",
          {"state": "STOPPED", **status("STREAMING_SESSION_STOPPED")}, "nimble.session.stopped",
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
        _step(ctx, session_key, session["_rev"], end_at, "READY",
              {"state": "STOP_IN_PROGRESS", "stoppedAt": end_at, "stoppedBy": None, "stopAt": None,
               **status("STREAMING_SESSION_STOP_IN_PROGRESS",
                        "The streaming session reached its maximum length and is being stopped")})
        _stop_steps(ctx, session_key, session, end_at)
    else:
        session["terminateAt"] = end_at
        _terminate(ctx, session_key, session, end_at, "READY")


@transition("nimble.session.stopped")
def session_stopped(resources: Resources, kind: str, session_key: str, args: dict, due_at: float) -> None:
    """The session is STOPPED: keep a backup of it and forget the oldest beyond the limit."""
    session = resources.get(kind, session_key)
    if session is None or any(session.get(f) != v for f, v in args["expect"].items()):
        return
    session.update(args["set"])
    resources.update(kind, session_key, session)
    backup = args.get("backup")
    if not backup:
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
    ready_at = ctx.now + delay(ctx, "nimble.streaming_session.create")
    failure = take_fault(ctx, "CreateStreamingSession")
    if failure:
        _step(ctx, session_key, 1, ready_at, "CREATE_IN_PROGRESS", {"state": "CREATE_FAILED", **failure})
    else:
        _step(ctx, session_key, 1, ready_at, "CREATE_IN_PROGRESS",
              {"state": "READY", **status("STREAMING_SESSION_READY")})
        _active_period(ctx, session_key, session, ready_at)
    insert(ctx, STREAMING_SESSION, session_key, session, parent=studio_id)
    return {"session": session}


@operation("nimble", "GetStreamingSession")
def get_streaming_session(ctx: RequestContext, req: dict) -> dict:
    return {"session": find_session(ctx, req["studioId"], req["sessionId"])}


@operation("nimble", "ListStreamingSessions")
def list_streaming_sessions(ctx: RequestContext, req: dict) -> dict:
    """The studio's sessions, optionally only those ``createdBy`` or ``ownedBy`` a user and
    only the ``sessionIds`` given (a comma-separated list); filters combine."""
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    where = {field: req[field] for field in ("createdBy", "ownedBy") if req.get(field)}
    wanted = sorted({part.strip() for part in (req.get("sessionIds") or "").split(",") if part.strip()})
    page = ctx.page(
        filters={"studioId": studio_id, **where, "sessionIds": wanted or None},
        token=req.get("nextToken"), page_size=LIST_PAGE_SIZE,
        fetch=filtered_fetch(ctx, STREAMING_SESSION, parent=studio_id, where=where or None,
                             keep=lambda s: not wanted or s["sessionId"] in wanted),
    )
    return {"sessions": page.items, "nextToken": page.next_token}


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
            bump(stream)
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
    bump(session)
    _end_streams(ctx, session_key)
    failure = take_fault(ctx, "StopStreamingSession")
    if failure:
        _step(ctx, session_key, session["_rev"], ctx.now + delay(ctx, "nimble.streaming_session.stop"),
              "STOP_IN_PROGRESS", {"state": "STOP_FAILED", **failure})
    else:
        _stop_steps(ctx, session_key, session, ctx.now)
    ctx.resources.update(STREAMING_SESSION, session_key, session)
    return {"session": session}


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
    bump(session)
    ready_at = ctx.now + delay(ctx, "nimble.streaming_session.start")
    failure = take_fault(ctx, "StartStreamingSession")
    if failure:
        _step(ctx, session_key, session["_rev"], ready_at, "START_IN_PROGRESS", {"state": "START_FAILED", **failure})
    else:
        _step(ctx, session_key, session["_rev"], ready_at, "START_IN_PROGRESS",
              {"state": "READY", **status("STREAMING_SESSION_STARTED")})
        _active_period(ctx, session_key, session, ready_at)
    ctx.resources.update(STREAMING_SESSION, session_key, session)
    return {"session": session}


@operation("nimble", "DeleteStreamingSession")
@idempotent("clientToken", TOKEN_REUSED)
def delete_streaming_session(ctx: RequestContext, req: dict) -> dict:
    session_key, session = _session_for_change(ctx, req, DELETABLE_STATES, "delete")
    session.update(state="DELETE_IN_PROGRESS", stopAt=None, terminateAt=None, updatedAt=ctx.now,
                   updatedBy=caller(ctx), **status("STREAMING_SESSION_DELETE_IN_PROGRESS"))
    bump(session)
    _end_streams(ctx, session_key)
    done_at = ctx.now + delay(ctx, "nimble.streaming_session.delete")
    failure = take_fault(ctx, "DeleteStreamingSession")
    if failure:
        _step(ctx, session_key, session["_rev"], done_at, "DELETE_IN_PROGRESS", {"state": "DELETE_FAILED", **failure})
    else:
        _step(ctx, session_key, session["_rev"], done_at, "DELETE_IN_PROGRESS",
              {"state": "DELETED", **status("STREAMING_SESSION_DELETED")})
        schedule_removal(ctx, STREAMING_SESSION, session_key, session, done_at, "DELETED")
    ctx.resources.update(STREAMING_SESSION, session_key, session)
    return {"session": session}


@operation("nimble", "GetStreamingSessionBackup")
def get_streaming_session_backup(ctx: RequestContext, req: dict) -> dict:
    return {"streamingSessionBackup": find_child(ctx, SESSION_BACKUP, "streaming session backup",
                                                 req["studioId"], req["backupId"])}


@operation("nimble", "ListStreamingSessionBackups")
def list_streaming_session_backups(ctx: RequestContext, req: dict) -> dict:
    studio_id = req["studioId"]
    find_studio(ctx, studio_id)
    owner = req.get("ownedBy")
    page = ctx.page(
        filters={"studioId": studio_id, "ownedBy": owner}, token=req.get("nextToken"),
        page_size=LIST_PAGE_SIZE,
        fetch=filtered_fetch(ctx, SESSION_BACKUP, parent=studio_id,
                             where={"ownedBy": owner} if owner else None),
    )
    return {"streamingSessionBackups": page.items, "nextToken": page.next_token}
