"""What a streaming client does, without a browser: connect, disconnect, send input; and the
streamed application exiting. Routes no model describes, and the same actions in Python.

HTTP (server)::

    POST /_greenroom/gameliftstreams/sessions/{sessionArnOrId}/connect
    POST /_greenroom/gameliftstreams/sessions/{sessionArnOrId}/disconnect
    POST /_greenroom/gameliftstreams/sessions/{sessionArnOrId}/input
    POST /_greenroom/gameliftstreams/sessions/{sessionArnOrId}/exit

``sessionArnOrId`` is the session's ARN (percent-encoded: its ``/`` as ``%2F``) or its id. The
ARN names the account and Region; with a bare id they come from the request's SigV4 credential
scope when it is signed, else the defaults (``--account``, or 000000000000, and us-east-1). No
body is needed. The answer is ``{"Arn", "StreamGroupId", "Status", "StatusReason"?,
"LastUpdatedAt"}`` (epoch seconds); 404 for an unknown session, 409 when the session's status
does not allow the action, 404 for another action name.

Python (in-process mock: ``greenroom.mock()`` exposes ``.emulator``)::

    from greenroom.services.gameliftstreams import client_actions
    client_actions.connect(gr.emulator, session_arn)      # or a bare id, account=/region= optional

Effects:
- connect: ACTIVE or RECONNECTING -> CONNECTED (the session needs an answered offer: a session
  started with NO_CLIENT_CONNECTION needs CreateStreamSessionConnection first); the idle timer
  (session.idle_timeout delay, 60 minutes) starts.
- disconnect: CONNECTED -> PENDING_CLIENT_RECONNECTION; the client has ConnectionTimeoutSeconds
  to come back through CreateStreamSessionConnection, else TERMINATED reconnectionTimeout.
- input: a CONNECTED session's idle timer starts again.
- exit: the application ends: a placed, live session is TERMINATED applicationExit.
"""
from __future__ import annotations

from ...core.errors import ServiceError
from ...core.ids import parse_arn
from ...core.routes import HttpError, http_route
from ...emulator import DEFAULT_REGION, identify
from ...core.lifecycle import revise
from .common import SERVICE, SESSION
from .session_lifecycle import IDLE_TIMEOUT, RECONNECTION_TIMEOUT, end_session, set_status


def _locate(emulator, session: str, account: str | None,
            region: str | None) -> tuple[str, str, str | None, str]:
    """(account, region, stream group id or None, session id) of a session ARN or id."""
    if session.startswith("arn:"):
        parts = parse_arn(session)
        if parts is None or parts["service"] != SERVICE or parts["resource_type"] != "streamsession" \
                or "/" not in parts["resource_id"]:
            raise HttpError(400, f"{session} is not a GameLift Streams stream session ARN")
        group_id, _, session_id = parts["resource_id"].rpartition("/")
        return parts["account"], parts["region"], group_id, session_id
    return account or emulator.default_account, region or DEFAULT_REGION, None, session


def _act(emulator, label: str, session: str, account: str | None, region: str | None, change,
         action: str = "", allowed: tuple[str, ...] = ()) -> dict:
    """``change(ctx, session)`` on the session, if it is in one of the ``allowed`` statuses
    (when given; 409 naming ``action`` otherwise); the answer is the session's status after."""
    account, region, group_id, session_id = _locate(emulator, session, account, region)
    with emulator.context(SERVICE, label, account, region) as ctx:
        found = ctx.resources.get(SESSION, session_id)
        if found is None or group_id not in (None, found["StreamGroupId"]):
            raise HttpError(404, f"Stream session {session} was not found in account {account}, {region}")
        if allowed and found["Status"] not in allowed:
            raise _refuse(found, action, " or ".join(allowed))
        change(ctx, found)
        found = ctx.resources.get(SESSION, session_id)
        view = {"Arn": found["Arn"], "StreamGroupId": found["StreamGroupId"], "Status": found["Status"],
                "LastUpdatedAt": found["LastUpdatedAt"]}
        if found.get("StatusReason"):
            view["StatusReason"] = found["StatusReason"]
        return view


def _refuse(session: dict, action: str, allowed: str) -> HttpError:
    return HttpError(409, f"Stream session {session['_id']} is {session['Status']}; {action} needs {allowed}")


def _start_idle_timer(ctx, session: dict) -> None:
    IDLE_TIMEOUT.schedule(ctx, SESSION, session["_id"], session, status="TERMINATED", reason="idleTimeout")


def connect(emulator, session: str, *, account: str | None = None, region: str | None = None) -> dict:
    def change(ctx, found):
        if not found.get("SignalResponse"):
            raise HttpError(409, f"Stream session {found['_id']} has no answered offer to connect with; "
                                 "call CreateStreamSessionConnection first")
        set_status(found, "CONNECTED", ctx.now)
        found.setdefault("StreamingStartedAt", ctx.now)
        found["_was_connected"] = True
        _start_idle_timer(ctx, found)
        ctx.resources.update(SESSION, found["_id"], found)
    return _act(emulator, "ClientConnect", session, account, region, change, "connect", ("ACTIVE", "RECONNECTING"))


def disconnect(emulator, session: str, *, account: str | None = None, region: str | None = None) -> dict:
    def change(ctx, found):
        set_status(found, "PENDING_CLIENT_RECONNECTION", ctx.now)
        RECONNECTION_TIMEOUT.schedule(ctx, SESSION, found["_id"], found, status="TERMINATED",
                                      at=ctx.now + found["ConnectionTimeoutSeconds"], reason="reconnectionTimeout")
        ctx.resources.update(SESSION, found["_id"], found)
    return _act(emulator, "ClientDisconnect", session, account, region, change, "disconnect", ("CONNECTED",))


def send_input(emulator, session: str, *, account: str | None = None, region: str | None = None) -> dict:
    def change(ctx, found):
        revise(found)  # the running idle timer no longer applies
        _start_idle_timer(ctx, found)
        ctx.resources.update(SESSION, found["_id"], found)
    return _act(emulator, "ClientInput", session, account, region, change, "input", ("CONNECTED",))


def exit_application(emulator, session: str, *, account: str | None = None, region: str | None = None) -> dict:
    def change(ctx, found):
        if found.get("_holds") is not True or found["Status"] == "TERMINATING":
            raise _refuse(found, "exit", "a running application (a placed, live session)")
        end_session(ctx, found, "TERMINATED", "applicationExit")
    return _act(emulator, "ApplicationExit", session, account, region, change)


ACTIONS = {"connect": connect, "disconnect": disconnect, "input": send_input, "exit": exit_application}


@http_route("POST", "/_greenroom/gameliftstreams/sessions/{session}/{action}")
def session_action(emulator, request, session: str, action: str):
    act = ACTIONS.get(action)
    if act is None:
        raise HttpError(404, f"Unknown client action {action}; use one of {', '.join(ACTIONS)}")
    caller = identify(request, emulator.default_account)
    try:
        return act(emulator, session, account=caller.account, region=caller.region)
    except ServiceError as error:  # not expected: the actions raise HttpError
        raise HttpError(400, error.message) from None
