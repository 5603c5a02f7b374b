"""Stream sessions: Start (201), Get, List (by stream group, by account), Terminate,
CreateStreamSessionConnection, ExportStreamSessionFiles. The lifecycle is in session_lifecycle.

StartStreamSession checks, beyond the model [inferred messages]:
- the stream group is ACTIVE; the application exists, is READY and associated with the group;
- every requested location is a location of the group (empty: the primary location);
- SignalRequest is NO_CLIENT_CONNECTION or a WebRTC SDP offer (see ``signaling``).
RoleArn and DisplayConfiguration are kept and shown; see ``role_assumable`` for when a role
cannot be assumed. The session is placed in the first requested location that is ACTIVE, has the application
replicated and capacity left; with none, it waits in ACTIVATING for capacity until the
placement timeout. SignalResponse is shown once the session is ACTIVE (backends poll
GetStreamSession for it, as the Web SDK samples do). A repeated ClientToken with the same
parameters answers the session it started.

TerminateStreamSession on an ACTIVATING session is a ValidationException; on a session that
already ended (TERMINATING, TERMINATED, ERROR) it changes nothing [inferred].
CreateStreamSessionConnection needs ACTIVE or PENDING_CLIENT_RECONNECTION and a new offer (not
the one the session has), answered at once; a PENDING_CLIENT_RECONNECTION session goes
RECONNECTING. ExportStreamSessionFiles needs a session in progress; the files are "uploaded"
after the session ends.
"""
from __future__ import annotations

import datetime as dt
import re

from ...core.context import RequestContext
from ...core.idempotency import current, idempotent
from ...core.operations import operation
from . import session_files, signaling, streaming
from .common import (DEFAULT_PAGE_SIZE, SERVICE, SESSION, SESSION_RECORD, errors, find_application,
    find_session, find_stream_group)
from .session_lifecycle import PLACEMENT_TIMEOUT, RECONNECT, TERMINATE, set_status, try_place

DEFAULT_CONNECTION_TIMEOUT_SECONDS = 120
DEFAULT_SESSION_LENGTH_SECONDS = 43200
IN_PROGRESS = ("ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION", "RECONNECTING")
_S3_BUCKET = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?")


def role_assumable(ctx: RequestContext, role_arn: str) -> bool:
    """greenroom has no IAM: a role of the caller's own account is assumed; one of another
    account fails (assumeRoleFailed when the session would start) [inferred]."""
    return role_arn.split(":")[4] == ctx.account


def describe(session: dict) -> dict:
    return SESSION_RECORD.view(session)


def account_summary(session: dict) -> dict:
    """ListStreamSessionsByAccount shows only the status of exported files."""
    item = SESSION_RECORD.view(session)
    if "ExportFilesMetadata" in item:
        item["ExportFilesMetadata"] = {"Status": item["ExportFilesMetadata"]["Status"]}
    return item


@operation(SERVICE, "StartStreamSession")
@idempotent("ClientToken", errors.Conflict,
            replay=current(SESSION, lambda first: first["Arn"].rsplit("/", 1)[1],
                           lambda ctx, session: describe(session)))
def start_stream_session(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    if group["Status"] != "ACTIVE":
        raise errors.Validation(f"Stream group {group['Id']} is {group['Status']}; it must be ACTIVE to "
                                "start stream sessions.")
    app = find_application(ctx, req["ApplicationIdentifier"])
    if app["Arn"] not in group["AssociatedApplications"]:
        raise errors.Validation(f"Application {app['Id']} is not associated with stream group {group['Id']}.")
    if app["Status"] != "READY":
        raise errors.Validation(f"Application {app['Id']} is {app['Status']}; it must be READY.")
    group_locations = [location["LocationName"] for location in group["_locations"]
                       if location["Status"] != "REMOVING"]
    candidates = []
    for name in req.get("Locations") or [group["_locations"][0]["LocationName"]]:
        if name not in group_locations:
            raise errors.Validation(f"Location {name} is not a location of stream group {group['Id']}.")
        if name not in candidates:
            candidates.append(name)
    signal_request = req["SignalRequest"]
    session_id = ctx.ids.alphanumeric(13)
    session = {
        "Arn": ctx.arn(SERVICE, f"streamsession/{group['Id']}/{session_id}"),
        "StreamGroupId": group["Id"],
        "Status": "ACTIVATING",
        "_StatusHistory": [{"Status": "ACTIVATING", "StatusReason": None, "At": ctx.now}],
        "Protocol": req["Protocol"],
        "SignalRequest": signal_request,
        "ConnectionTimeoutSeconds": req.get("ConnectionTimeoutSeconds", DEFAULT_CONNECTION_TIMEOUT_SECONDS),
        "SessionLengthSeconds": req.get("SessionLengthSeconds", DEFAULT_SESSION_LENGTH_SECONDS),
        "CreatedAt": ctx.now,
        "LastUpdatedAt": ctx.now,
        "ApplicationArn": app["Arn"],
        "_id": session_id,
        "_app_id": app["Id"],
        "_candidates": candidates,
        "_placed": False,
        "_rev": 0,
        "_holds": False,
        "_answer": None,
        "_signal_error": None,
        "_peer": None,
        "_log_output_uri": app.get("ApplicationLogOutputUri") if app["ApplicationLogPaths"] else None,
    }
    for optional in ("Description", "UserId", "AdditionalLaunchArgs", "AdditionalEnvironmentVariables",
                     "PerformanceStatsConfiguration", "RoleArn", "DisplayConfiguration"):
        if optional in req:
            session[optional] = req[optional]
    if signal_request != signaling.NO_CLIENT_CONNECTION:
        try:
            session["_peer"], session["_answer"] = streaming.answer(
                ctx, session, streaming.title_lines(app, group, session), signal_request)
        except signaling.MalformedOffer as error:
            raise errors.Validation(str(error)) from None
        except signaling.UnanswerableOffer as error:
            session["_signal_error"] = str(error)
    if "RoleArn" in req and not role_assumable(ctx, req["RoleArn"]):
        session["_assume_role_failed"] = True
    if not try_place(ctx, group, session):
        PLACEMENT_TIMEOUT.schedule(ctx, SESSION, session_id, session, status="ERROR", reason="placementTimeout")
    ctx.resources.insert(SESSION, session_id, session, parent=group["Id"])
    return describe(session)


@operation(SERVICE, "GetStreamSession", read_only=True)
def get_stream_session(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    return describe(find_session(ctx, group, req["StreamSessionIdentifier"]))


def _filters(req: dict) -> dict:
    where = {}
    if req.get("Status"):
        where["Status"] = req["Status"]
    if req.get("ExportFilesStatus"):
        where["_export_status"] = req["ExportFilesStatus"]
    return where


@operation(SERVICE, "ListStreamSessions", read_only=True)
def list_stream_sessions(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    where = _filters(req)
    return ctx.list_answer(SESSION, req, default_size=DEFAULT_PAGE_SIZE, view=describe, parent=group["Id"],
                           where=where, filters={"group": group["Id"], **where})


@operation(SERVICE, "ListStreamSessionsByAccount", read_only=True)
def list_stream_sessions_by_account(ctx: RequestContext, req: dict) -> dict:
    where = _filters(req)
    return ctx.list_answer(SESSION, req, default_size=DEFAULT_PAGE_SIZE, view=account_summary, where=where,
                           filters=where)


@operation(SERVICE, "TerminateStreamSession")
def terminate_stream_session(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    session = find_session(ctx, group, req["StreamSessionIdentifier"])
    if session["Status"] == "ACTIVATING":
        raise errors.Validation(f"Stream session {session['_id']} is ACTIVATING and cannot be terminated yet.")
    if session["Status"] in ("TERMINATING", "TERMINATED", "ERROR"):
        return {}
    set_status(session, "TERMINATING", ctx.now)
    ctx.resources.update(SESSION, session["_id"], session)
    TERMINATE.schedule(ctx, SESSION, session["_id"], session)
    return {}


@operation(SERVICE, "CreateStreamSessionConnection")
@idempotent("ClientToken", errors.Conflict)
def create_stream_session_connection(ctx: RequestContext, req: dict) -> dict:
    group = find_stream_group(ctx, req["Identifier"])
    if group["Status"] != "ACTIVE":
        raise errors.Validation(f"Stream group {group['Id']} is {group['Status']}; it must be ACTIVE.")
    session = find_session(ctx, group, req["StreamSessionIdentifier"])
    if session["Status"] not in ("ACTIVE", "PENDING_CLIENT_RECONNECTION"):
        raise errors.Validation(f"Stream session {session['_id']} is {session['Status']}; a connection can be "
                                "made to an ACTIVE or PENDING_CLIENT_RECONNECTION session.")
    signal_request = req["SignalRequest"]
    if signal_request == signaling.NO_CLIENT_CONNECTION:
        raise errors.Validation("CreateStreamSessionConnection needs a WebRTC offer in SignalRequest.")
    if signal_request == session["SignalRequest"]:
        raise errors.Validation("SignalRequest must be a newly generated offer, not the one the session "
                                "already has.")
    try:
        peer, answer = streaming.answer(ctx, session, streaming.title_lines(
            find_application(ctx, session["_app_id"]), group, session), signal_request)
    except (signaling.MalformedOffer, signaling.UnanswerableOffer) as error:
        raise errors.Validation(str(error)) from None
    # The session's new peer; the one before sees it is replaced and closes.
    session.update(SignalRequest=signal_request, SignalResponse=answer, _answer=answer, _peer=peer)
    session_files.log(session, ctx.now, "a client connects with a new offer")
    if session["Status"] == "PENDING_CLIENT_RECONNECTION":
        set_status(session, "RECONNECTING", ctx.now)
        RECONNECT.schedule(ctx, SESSION, session["_id"], session)
    else:
        session["LastUpdatedAt"] = ctx.now
    ctx.resources.update(SESSION, session["_id"], session)
    return {"SignalResponse": answer}


@operation(SERVICE, "ExportStreamSessionFiles")
def export_stream_session_files(ctx: RequestContext, req: dict) -> dict:
    """A folder URI (ending in /) gets the generated file name
    YYYYMMDD-HHMMSS-<application id>-<stream group id>-<session id>.zip, timed when the export
    is requested [inferred]; a second export replaces the first [inferred]."""
    group = find_stream_group(ctx, req["Identifier"])
    session = find_session(ctx, group, req["StreamSessionIdentifier"])
    if session["Status"] not in IN_PROGRESS:
        raise errors.Validation(f"Stream session {session['_id']} is {session['Status']}; files can be exported "
                                f"from a session that is {', '.join(IN_PROGRESS)}.")
    output_uri = req["OutputUri"]
    if not _S3_BUCKET.fullmatch(output_uri):
        raise errors.Validation("OutputUri must be an Amazon S3 URI with a valid bucket name, ending in / or .zip.")
    if output_uri.endswith("/"):
        stamp = dt.datetime.fromtimestamp(ctx.now, dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        output_uri += f"{stamp}-{session['_app_id']}-{group['Id']}-{session['_id']}.zip"
    session["ExportFilesMetadata"] = {"Status": "PENDING", "OutputUri": output_uri}
    session_files.log(session, ctx.now, f"files to export to {output_uri} when the session ends")
    session["_export_status"] = "PENDING"
    session["LastUpdatedAt"] = ctx.now
    ctx.resources.update(SESSION, session["_id"], session)
    return {}

