"""How a stream session moves by itself: placement, activation, timeouts, the end of a session.

| from                        | trigger                                  | to                                   |
|-----------------------------|------------------------------------------|--------------------------------------|
| (StartStreamSession)        | capacity free in a requested location    | ACTIVATING (placed)                  |
| (StartStreamSession)        | no capacity free                         | ACTIVATING (waiting for capacity)    |
| ACTIVATING, waiting         | capacity frees up in time                | ACTIVATING (placed)                  |
| ACTIVATING, waiting         | session.placement_timeout delay          | ERROR placementTimeout               |
| ACTIVATING, placed          | session.activate delay                   | ACTIVE (SignalResponse shown)        |
| ACTIVATING, placed          | ... and the offer could not be answered  | ERROR invalidSignalRequest           |
| ACTIVATING, placed          | ... and RoleArn cannot be assumed        | ERROR assumeRoleFailed               |
| ACTIVE                      | ConnectionTimeoutSeconds, no client      | TERMINATED connectionTimeout         |
| ACTIVE, RECONNECTING        | the client's ICE+DTLS connect (streaming)| CONNECTED                            |
| CONNECTED                   | the client's connection closes or fails  | PENDING_CLIENT_RECONNECTION          |
|                             | (streaming; client_actions.disconnect)   |                                      |
| PENDING_CLIENT_RECONNECTION | ConnectionTimeoutSeconds                 | TERMINATED reconnectionTimeout       |
| PENDING_CLIENT_RECONNECTION | CreateStreamSessionConnection            | RECONNECTING, then ACTIVE after the  |
|                             |                                          | session.reconnect delay              |
| ACTIVE after a reconnection | ConnectionTimeoutSeconds, no client      | TERMINATED reconnectionTimeout       |
| CONNECTED                   | session.idle_timeout without input       | TERMINATED idleTimeout               |
| any live state              | SessionLengthSeconds after ACTIVE        | TERMINATED maxSessionLengthTimeout   |
| any placed live state       | the application exits                    | TERMINATED applicationExit           |
| any but ACTIVATING          | TerminateStreamSession                   | TERMINATING, then TERMINATED         |
|                             |                                          | apiTerminated (session.terminate)    |

[inferred]: SessionLengthSeconds counts from the moment the session is ACTIVE (when it starts
streaming); the connection timeout restarts when a reconnection makes the session ACTIVE again,
and ends it as reconnectionTimeout once a client had connected.

Timestamps [inferred]: ApplicationStartedAt when the session becomes ACTIVE (the application
launches then), StreamingStartedAt when a client first connects, StreamingEndedAt when a
session that streamed ends.

The timed steps are declared below (``core.lifecycle.Step``): every change of status revises the
session (``revise``), and a step scheduled in an older revision does nothing (the client
connected, the session ended, ...).
"""
from __future__ import annotations

from ...core.lifecycle import Moment, Step, applies, revise, transition
from ...core.store import Resources, rewrite_documents, rewrite_transitions, upgrade
from . import capacity, session_files
from .common import APPLICATION, SESSION, STREAM_GROUP

# Statuses in which a placed session holds capacity.
HOLDING = ("ACTIVATING", "ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION", "RECONNECTING", "TERMINATING")
FINAL = ("TERMINATED", "ERROR")
# Stream group statuses in which waiting sessions may be placed.
PLACING_GROUP_STATUSES = ("ACTIVE", "UPDATING_LOCATIONS", "ACTIVE_WITH_ERRORS")

# The session's timed steps: the status it must still be in, when, what follows.
TIMEOUT = "gameliftstreams.session.timeout"    # ends the session: args status, reason
ACTIVATE = Step("ACTIVATING", delay="gameliftstreams.session.activate", field="Status",
                action="gameliftstreams.session.activate")
PLACEMENT_TIMEOUT = Step("ACTIVATING", delay="gameliftstreams.session.placement_timeout", field="Status",
                         action=TIMEOUT)
CONNECTION_TIMEOUT = Step("ACTIVE", field="Status", action=TIMEOUT)            # at ConnectionTimeoutSeconds
RECONNECTION_TIMEOUT = Step("PENDING_CLIENT_RECONNECTION", field="Status", action=TIMEOUT)   # idem
IDLE_TIMEOUT = Step("CONNECTED", delay="gameliftstreams.session.idle_timeout", field="Status", action=TIMEOUT)
TERMINATE = Step("TERMINATING", delay="gameliftstreams.session.terminate", field="Status",
                 action="gameliftstreams.session.terminated")
RECONNECT = Step("RECONNECTING", delay="gameliftstreams.session.reconnect", field="Status",
                 action="gameliftstreams.session.reconnected")
# SessionLengthSeconds runs from activation whatever the status does meanwhile: a lane of its own.
MAX_LENGTH = Step(None, field="Status", lane="length", action="gameliftstreams.session.max_length")


STATUS_HISTORY = 50  # the newest status changes a session keeps (the console shows them)


def set_status(session: dict, status: str, at: float, reason: str | None = None) -> None:
    history = session.get("_StatusHistory", [])
    if not history or (history[-1]["Status"], history[-1]["StatusReason"]) != (status, reason or None):
        session["_StatusHistory"] = [*history, {"Status": status, "StatusReason": reason or None, "At": at}][-STATUS_HISTORY:]
    session["Status"] = status
    if reason:
        session["StatusReason"] = reason
    else:
        session.pop("StatusReason", None)
    session["LastUpdatedAt"] = at
    revise(session)
    session["_holds"] = bool(session.get("_placed")) and status in HOLDING


def replicated(resources: Resources, app_id: str, location: str) -> bool:
    app = resources.get(APPLICATION, app_id)
    return app is not None and any(
        status["Location"] == location and status["Status"] == "COMPLETED"
        for status in app.get("ReplicationStatuses", [])
    )


def try_place(scope: Moment, group: dict, session: dict) -> bool:
    """Place the session in the first of its locations (priority order) that is ACTIVE, has
    the application replicated and has capacity left; schedule its activation."""
    locations = {location["LocationName"]: location for location in group["_locations"]}
    for name in session["_candidates"]:
        location = locations.get(name)
        if location is None or not replicated(scope.resources, session["_app_id"], name):
            continue
        if not capacity.has_room(scope.resources, group["Id"], location):
            continue
        session["Location"] = name
        session["_placed"] = True
        set_status(session, "ACTIVATING", scope.now)  # a new revision: the placement timer is void
        ACTIVATE.schedule(scope, SESSION, session["_id"], session)
        return True
    return False


def place_waiting(scope: Moment, group_id: str) -> None:
    """Give freed or added capacity to sessions waiting for it, oldest first."""
    group = scope.resources.get(STREAM_GROUP, group_id)
    if group is None or group["Status"] not in PLACING_GROUP_STATUSES:
        return
    for _, session in scope.resources.list(SESSION, parent=group_id, where={"Status": "ACTIVATING"}):
        if not session["_placed"] and try_place(scope, group, session):
            scope.resources.update(SESSION, session["_id"], session)


def end_session(scope: Moment, session: dict, status: str, reason: str) -> None:
    """TERMINATED or ERROR: capacity is released (and offered to waiting sessions), exported
    files are uploaded after the session.export delay, logs are said to be uploaded."""
    released = session.get("_holds") is True
    if session.get("_placed") and session.get("ApplicationStartedAt") is not None:
        session_files.log(session, scope.now, f"application stopped: {reason}")
    set_status(session, status, scope.now, reason)
    if "StreamingStartedAt" in session and "StreamingEndedAt" not in session:
        session["StreamingEndedAt"] = scope.now
    if session.get("_export_status") == "PENDING":
        scope.schedule("gameliftstreams.session.export", SESSION, session["_id"], "gameliftstreams.session.export_done")
    if session.get("_log_output_uri") and session.get("_placed"):
        # [inferred] layout: <ApplicationLogOutputUri>/<stream group id>/<session id>/
        session["LogFileLocationUri"] = (f"{session['_log_output_uri'].rstrip('/')}/"
                                         f"{session['StreamGroupId']}/{session['_id']}/")
    scope.resources.update(SESSION, session["_id"], session)
    if released:
        place_waiting(scope, session["StreamGroupId"])


def start_connection_timer(scope: Moment, session: dict) -> None:
    """The client has ConnectionTimeoutSeconds from now to connect to an ACTIVE session."""
    reason = "reconnectionTimeout" if session.get("_was_connected") else "connectionTimeout"
    CONNECTION_TIMEOUT.schedule(scope, SESSION, session["_id"], session,
                                at=scope.now + session["ConnectionTimeoutSeconds"],
                                status="TERMINATED", reason=reason)


def _current_session(resources: Resources, session_id: str, args: dict) -> dict | None:
    session = resources.get(SESSION, session_id)
    return session if applies(session, args) else None


@transition("gameliftstreams.session.activate")
def activate(resources, kind, session_id, args, due_at) -> None:
    session = _current_session(resources, session_id, args)
    if session is None:
        return
    scope = Moment(resources, due_at)
    if session.get("_signal_error"):
        end_session(scope, session, "ERROR", "invalidSignalRequest")
        return
    if session.get("_assume_role_failed"):
        end_session(scope, session, "ERROR", "assumeRoleFailed")
        return
    set_status(session, "ACTIVE", due_at)
    session["ApplicationStartedAt"] = due_at  # the application launches as the session activates [inferred]
    session_files.log(session, due_at, session_files.launch_line(resources.get(APPLICATION, session["_app_id"]),
                                                                 session))
    if session.get("_answer"):
        session["SignalResponse"] = session["_answer"]
    start_connection_timer(scope, session)
    MAX_LENGTH.schedule(scope, SESSION, session_id, session, at=due_at + session["SessionLengthSeconds"])
    resources.update(SESSION, session_id, session)


@transition(TIMEOUT)
def time_out(resources, kind, session_id, args, due_at) -> None:
    """A timer set for one status in one revision: connection, reconnection, idle, placement."""
    session = _current_session(resources, session_id, args)
    if session is not None:
        end_session(Moment(resources, due_at), session, args["status"], args["reason"])


@transition(MAX_LENGTH.action)
def reach_max_length(resources, kind, session_id, args, due_at) -> None:
    session = _current_session(resources, session_id, args)
    if session is None or session["Status"] in FINAL + ("TERMINATING",):
        return
    end_session(Moment(resources, due_at), session, "TERMINATED", "maxSessionLengthTimeout")


@transition("gameliftstreams.session.terminated")
def finish_termination(resources, kind, session_id, args, due_at) -> None:
    session = _current_session(resources, session_id, args)
    if session is not None:
        end_session(Moment(resources, due_at), session, "TERMINATED", "apiTerminated")


@transition("gameliftstreams.session.reconnected")
def finish_reconnection(resources, kind, session_id, args, due_at) -> None:
    session = _current_session(resources, session_id, args)
    if session is None:
        return
    set_status(session, "ACTIVE", due_at)
    start_connection_timer(Moment(resources, due_at), session)
    resources.update(SESSION, session_id, session)


@transition("gameliftstreams.session.export_done")
def finish_export(resources, kind, session_id, args, due_at) -> None:
    """The exported files are uploaded once the session has ended (``session_files``): SUCCEEDED,
    or FAILED when the S3 stand-in refuses the write."""
    session = resources.get(SESSION, session_id)
    if session is None or session.get("_export_status") != "PENDING":
        return
    status, reason = session_files.upload(resources.objects, session, due_at)
    session["_export_status"] = status
    session["ExportFilesMetadata"] = {**session["ExportFilesMetadata"], "Status": status}
    if reason:
        session["ExportFilesMetadata"]["StatusReason"] = reason
    resources.update(SESSION, session_id, session)


# ------------------------------------------------------------------------- stored before

@upgrade("gameliftstreams.stored-before")
def _stored_before(conn) -> None:
    """Once, when a store opens: sessions stored with ``_gen`` and ``_holds`` "1"/"0", and
    their pending timers carrying ``gen``, read as revisions (``_rev``) and booleans;
    applications and stream groups keep their tags in ``tags`` (they were in ``_tags``)."""
    for kind in (APPLICATION, STREAM_GROUP):
        rewrite_documents(conn, kind, lambda document: {
            **{k: v for k, v in document.items() if k != "_tags"}, "tags": document["_tags"]}
            if "_tags" in document else None)

    def session(document: dict) -> dict | None:
        if "_gen" not in document and isinstance(document.get("_holds"), bool):
            return None
        document["_rev"] = document.pop("_gen", document.get("_rev", 0))
        document["_holds"] = document.get("_holds") in ("1", True)
        document.pop("_delays", None)
        return document

    rewrite_documents(conn, SESSION, session)
    statuses = {TIMEOUT: None, ACTIVATE.action: "ACTIVATING", TERMINATE.action: "TERMINATING",
                RECONNECT.action: "RECONNECTING"}
    for action, status in statuses.items():
        def timer(args: dict, pending, status=status) -> dict | None:
            if "gen" not in args:
                return None
            expect = {"_rev": args.pop("gen"), "Status": args.pop("expect", None) or status}
            return {**args, "expect": expect}
        rewrite_transitions(conn, action, timer)


@upgrade("gameliftstreams.declared-steps")
def _declared_steps(conn) -> None:
    """Once, when a store opens: the pending steps of applications (processing, ready) and
    stream groups (activation, locations settling) were scheduled without arguments and checked the status in
    their action; they now carry what they expect, as declared steps do. A session's length
    timer was guarded by ``_started_at``; it is now the session's "length" lane."""
    steps = {"gameliftstreams.application.process": ("INITIALIZED", {"Status": "PROCESSING"}),
             "gameliftstreams.application.ready": ("PROCESSING", None),
             "gameliftstreams.streamgroup.activated": ("ACTIVATING", None),
             "gameliftstreams.streamgroup.locations_settled": ("UPDATING_LOCATIONS", None)}
    for action, (status, to) in steps.items():
        def step(args: dict, pending, status=status, to=to) -> dict | None:
            if "expect" in args:
                return None
            return {**args, "expect": {"Status": status},
                    **({"set": {**to, "LastUpdatedAt": pending.due_at}} if to else {})}
        rewrite_transitions(conn, action, step)
    rewrite_transitions(conn, MAX_LENGTH.action, lambda args, pending: {"expect": {"_rev": {"length": 0}}}
                        if "started_at" in args else None)
    rewrite_documents(conn, SESSION, lambda session: {k: v for k, v in session.items() if k != "_started_at"}
                      if "_started_at" in session else None)
