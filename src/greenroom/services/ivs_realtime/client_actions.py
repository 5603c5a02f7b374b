"""Stand-ins for the IVS client SDKs and RTMP encoders (the no-browser path; real clients connect
over the events WebSocket and WHIP, ``stage_socket`` and ``whip``, which drive these same
functions): what a client does to a stage, as HTTP routes no model describes and as Python functions for
the in-process emulator (``greenroom.mock().emulator``).

HTTP (JSON bodies; errors are ``{"code": ..., "message": ...}`` with the status below):

    POST /_greenroom/ivs-realtime/join
         {"token": "<participant token>", "protocol": "WHIP",        # or "UNKNOWN"
          "stageArn": "<optional: the stage the client connects to>",
          "client": {"osName": ..., "sdkVersion": ..., ...}}          # optional Participant members
      -> 200 {"participantId", "sessionId", "stageArn", "userId", "attributes", "capabilities",
              "protocol", "state": "CONNECTED", ...}
    POST /_greenroom/ivs-realtime/participants/{participantId}/publish | unpublish | leave
    POST /_greenroom/ivs-realtime/participants/{participantId}/subscribe | unsubscribe
         {"publisherParticipantId": "..."}
    POST /_greenroom/ivs-realtime/participants/{participantId}/exchange-token {"token": "..."}
    POST /_greenroom/ivs-realtime/ingest {"streamKey": "rt_...", "protocol": "RTMPS"}   # encoder
    (participant routes take an optional "stageArn" when a participant id is connected to
     several stages, e.g. the same self-signed jti.)

Python: ``join(emulator, token, protocol="WHIP")``, ``publish(emulator, participant_id)``,
``unpublish``, ``subscribe(emulator, participant_id, publisher_participant_id)``,
``unsubscribe``, ``leave``, ``exchange_token(emulator, participant_id, token)``,
``ingest(emulator, stream_key, protocol="RTMPS")``; a refusal raises ``ClientActionError``
(``.status``, ``.code``, ``.message``, ``.details``).

A join is checked as the service checks it. Refusals before the participant reaches the stage
record nothing ([inferred]: the real service rejects them when connecting):

    400 INVALID_TOKEN        not a JWT, bad claims (see ``tokens``), another algorithm than ES384
    400 INVALID_REQUEST      a protocol other than WHIP/UNKNOWN (or RTMP/RTMPS, below)
    401 INVALID_SIGNATURE    signed by another key than its ``kid`` names
    401 UNKNOWN_KEY          ``kid`` names no key (a deleted public key, another account's)
    401 TOKEN_EXPIRED        ``exp`` passed (greenroom's clock)
    404 STAGE_NOT_FOUND      the token's stage does not exist (any more)
    403 STAGE_MISMATCH       the token is for another stage than ``stageArn``
    403 TOKEN_REVOKED        DisconnectParticipant revoked this participant
    409 ALREADY_CONNECTED    this participant is connected already

Refusals of a participant that reached the stage are JOIN_ERROR events of that participant
(recorded DISCONNECTED in the stage's session, which the attempt starts if needed) and answer
with ``participantId``/``sessionId``: 403 INSUFFICIENT_CAPABILITIES (a token allowing neither
publish nor subscribe), 400 INVALID_PROTOCOL (a token used over RTMP/RTMPS), 429
QUOTA_EXCEEDED (as many participants as publishers_per_stage + subscribers_per_stage).

Participant actions produce the service's events: PUBLISH_ERROR INSUFFICIENT_CAPABILITIES
(403) or QUOTA_EXCEEDED (429); SUBSCRIBE_ERROR INSUFFICIENT_CAPABILITIES (403),
PUBLISHER_NOT_FOUND (404), INVALID_INPUT (400, subscribing to oneself) or QUOTA_EXCEEDED (429);
and greenroom's own refusals without events: 404 PARTICIPANT_NOT_CONNECTED, 409
ALREADY_PUBLISHING / NOT_PUBLISHING / ALREADY_SUBSCRIBED / NOT_SUBSCRIBED / AMBIGUOUS_PARTICIPANT.

``exchange-token`` swaps a connected participant's token for another of the same stage and
``user_id`` ([inferred] rule): capabilities and attributes change, TOKEN_EXCHANGED records both.

``ingest`` plays an RTMP(S) encoder using an ingest configuration's stream key: the
configuration's participant joins (protocol RTMP/RTMPS) and publishes, and the configuration
becomes ACTIVE; ``leave`` ends it. 403 INVALID_STREAM_KEY (unknown key, no event), 409 NO_STAGE
(the configuration has no stage), JOIN_ERROR INVALID_PROTOCOL (RTMP to an RTMPS-only
configuration) and JOIN_ERROR REUSE_OF_STREAM_KEY (409, the key is publishing already).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ...core.ids import parse_arn
from ...core.routes import HttpError, http_route
from ...protocol.http import HttpResponse
from ...protocol.restjson import dump_json
from . import participation, tables
from .common import INGEST_CONFIGURATION, SERVICE, STAGE, env
from .participation import CONNECTED, Refusal
from .quotas import quota
from .tokens import TokenRefused, is_revoked, read_unverified, verify

TOKEN_PROTOCOLS = ("WHIP", "UNKNOWN")
INGEST_PROTOCOLS = ("RTMP", "RTMPS")
_STREAM_KEY = re.compile(r"rt_(\d{12})_([a-z0-9-]+)_([A-Za-z0-9-]+)_(.+)")


class ClientActionError(Exception):
    def __init__(self, status: int, code: str, message: str, **details):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, **self.details}


def _in_context(emulator, account: str, region: str, label: str, work: Callable):
    """Run ``work(ctx)`` in one transaction, run again on a concurrent change (``Store.run``:
    the WHIP and events-socket paths call here outside any request); a refusal is raised after
    its events are committed."""

    def attempt():
        with emulator.context(SERVICE, label, account, region) as ctx:
            try:
                return work(ctx), None
            except (Refusal, TokenRefused) as error:
                return None, error

    result, refusal = emulator.store.run(attempt)
    if refusal is not None:
        raise ClientActionError(refusal.status, refusal.code, refusal.message, **getattr(refusal, "details", {}))
    return result


def _joined(participant: dict, stage: dict) -> dict:
    private = participant["_"]
    return {
        "participantId": participant["participantId"],
        "sessionId": private["sessionId"],
        "stageArn": stage["arn"],
        "userId": participant["userId"],
        "attributes": participant["attributes"],
        "capabilities": private["capabilities"],
        "protocol": participant["protocol"],
        "state": participant["state"],
        "publishing": private["publishing"],
        "subscriptions": list(private["subscriptions"]),
    }


# ------------------------------------------------------------------------- join

def join(emulator, token: str, protocol: str = "WHIP", *, stage_arn: str | None = None,
         client: dict | None = None) -> dict:
    """Join the token's stage as a client SDK would (see the module docstring for refusals)."""
    try:
        header, _, parts = read_unverified(token)
    except TokenRefused as error:
        raise ClientActionError(error.status, error.code, error.message) from None

    def work(ctx):
        claims = verify(ctx, token, header, parts)
        stage = ctx.resources.get(STAGE, claims.stage_id)
        if stage is None:
            raise TokenRefused(404, "STAGE_NOT_FOUND", f"Stage {claims.stage_arn} does not exist")
        if stage_arn and stage_arn != stage["arn"]:
            raise TokenRefused(403, "STAGE_MISMATCH", f"The token is for stage {stage['arn']}, not {stage_arn}")
        if is_revoked(ctx.resources, claims.stage_id, claims.participant_id):
            raise TokenRefused(403, "TOKEN_REVOKED",
                               f"Participant {claims.participant_id} was disconnected from this stage and revoked")
        if protocol not in TOKEN_PROTOCOLS + INGEST_PROTOCOLS:
            raise TokenRefused(400, "INVALID_REQUEST", f"protocol must be one of {', '.join(TOKEN_PROTOCOLS)}")
        e = env(ctx)
        existing = None
        session = participation.active_session(e, stage)
        if session is not None:
            existing = participation.get_participant(e, session["sessionId"], claims.participant_id)
        if existing is not None and existing["state"] == CONNECTED:
            raise Refusal(409, "ALREADY_CONNECTED", f"Participant {claims.participant_id} is already connected")
        session = participation.open_session(e, claims.stage_id, stage)
        identity = {
            "participantId": claims.participant_id, "userId": claims.user_id,
            "attributes": claims.attributes, "capabilities": claims.capabilities,
            "protocol": protocol, "client": client, "tokenExpiresAt": claims.expires_at,
        }
        if protocol in INGEST_PROTOCOLS:
            raise participation.refuse_join(e, claims.stage_id, session, identity, 400, "INVALID_PROTOCOL",
                                            "Participant tokens join over WHIP; RTMP(S) encoders publish "
                                            "with an ingest configuration's stream key")
        if not claims.capabilities:
            raise participation.refuse_join(e, claims.stage_id, session, identity, 403,
                                            "INSUFFICIENT_CAPABILITIES",
                                            "The token allows neither publishing nor subscribing")
        _check_room(e, claims.stage_id, session, identity)
        participant = participation.admit(e, claims.stage_id, stage, session, identity)
        return _joined(participant, stage)

    return _in_context(emulator, parts["account"], parts["region"], "Join", work)


def _check_room(e, stage_id: str, session: dict, identity: dict) -> None:
    limit = quota(e.resources, "publishers_per_stage") + quota(e.resources, "subscribers_per_stage")
    if participation.connected_count(e, session["sessionId"]) >= limit:
        raise participation.refuse_join(e, stage_id, session, identity, 429, "QUOTA_EXCEEDED",
                                        f"The stage already has {limit} participants")


# ------------------------------------------------------------------------- participant actions

@dataclass(frozen=True)
class _Connection:
    account: str
    region: str
    stage_id: str
    session_id: str


def _locate(emulator, participant_id: str, stage_arn: str | None) -> _Connection:
    emulator.apply_due_transitions()
    with emulator.store.transaction() as conn:
        rows = tables.connected_anywhere(conn, participant_id)
    if stage_arn:
        wanted = parse_arn(stage_arn) or {}
        rows = [row for row in rows if (row["account"], row["region"], row["stage_id"])
                == (wanted.get("account"), wanted.get("region"), wanted.get("resource_id"))]
    if not rows:
        raise ClientActionError(404, "PARTICIPANT_NOT_CONNECTED", f"No participant {participant_id} is connected")
    if len(rows) > 1:
        raise ClientActionError(409, "AMBIGUOUS_PARTICIPANT",
                                f"Participant {participant_id} is connected to {len(rows)} stages; pass stageArn")
    return _Connection(**rows[0])


def _act(emulator, participant_id: str, stage_arn: str | None, label: str, action: Callable) -> dict:
    where = _locate(emulator, participant_id, stage_arn)

    def work(ctx):
        e = env(ctx)
        participant = participation.get_participant(e, where.session_id, participant_id)
        if participant is None or participant["state"] != CONNECTED:
            raise Refusal(404, "PARTICIPANT_NOT_CONNECTED", f"No participant {participant_id} is connected")
        stage = ctx.resources.get(STAGE, where.stage_id)
        action(e, stage, participant)
        return _joined(participation.get_participant(e, where.session_id, participant_id), stage)

    return _in_context(emulator, where.account, where.region, label, work)


def publish(emulator, participant_id: str, *, stage_arn: str | None = None) -> dict:
    def action(e, stage, participant):
        participation.publish(e, stage, participant)
        if participant.get("ingestConfigurationArn"):
            participation.refresh_ingest_state(e, participant["ingestConfigurationArn"])
    return _act(emulator, participant_id, stage_arn, "Publish", action)


def unpublish(emulator, participant_id: str, *, stage_arn: str | None = None) -> dict:
    def action(e, stage, participant):
        if not participant["_"]["publishing"]:
            raise Refusal(409, "NOT_PUBLISHING", f"Participant {participant_id} is not publishing")
        participation.stop_publishing(e, participant)
        if participant.get("ingestConfigurationArn"):
            participation.refresh_ingest_state(e, participant["ingestConfigurationArn"])
    return _act(emulator, participant_id, stage_arn, "Unpublish", action)


def subscribe(emulator, participant_id: str, publisher_participant_id: str, *,
              stage_arn: str | None = None) -> dict:
    return _act(emulator, participant_id, stage_arn, "Subscribe",
                lambda e, stage, participant: participation.subscribe(e, participant, publisher_participant_id))


def unsubscribe(emulator, participant_id: str, publisher_participant_id: str, *,
                stage_arn: str | None = None) -> dict:
    return _act(emulator, participant_id, stage_arn, "Unsubscribe",
                lambda e, stage, participant: participation.unsubscribe(e, participant, publisher_participant_id))


def leave(emulator, participant_id: str, *, stage_arn: str | None = None) -> dict:
    return _act(emulator, participant_id, stage_arn, "Leave",
                lambda e, stage, participant: participation.disconnect(e, participant["_"]["stageId"], participant))


def exchange_token(emulator, participant_id: str, token: str, *, stage_arn: str | None = None) -> dict:
    """Replace a connected participant's token (same stage and user_id): TOKEN_EXCHANGED."""
    try:
        header, _, parts = read_unverified(token)
    except TokenRefused as error:
        raise ClientActionError(error.status, error.code, error.message) from None
    where = _locate(emulator, participant_id, stage_arn)
    if (parts["account"], parts["region"], parts["resource_id"]) != (where.account, where.region, where.stage_id):
        raise ClientActionError(403, "STAGE_MISMATCH", f"The new token is for another stage than participant {participant_id}'s")

    def work(ctx):
        claims = verify(ctx, token, header, parts)
        e = env(ctx)
        participant = participation.get_participant(e, where.session_id, participant_id)
        if participant is None or participant["state"] != CONNECTED:
            raise Refusal(404, "PARTICIPANT_NOT_CONNECTED", f"No participant {participant_id} is connected")
        if is_revoked(ctx.resources, where.stage_id, claims.participant_id):
            raise TokenRefused(403, "TOKEN_REVOKED", f"Participant {claims.participant_id} was revoked")
        if claims.user_id != participant["userId"]:
            raise Refusal(403, "USER_MISMATCH", "The new token must carry the participant's user_id "
                                                f"({participant['userId']!r}), not {claims.user_id!r}")
        private = participant["_"]
        previous = {"capabilities": list(private["capabilities"]), "attributes": participant["attributes"],
                    "userId": participant["userId"],
                    "expirationTime": private.get("tokenExpiresAt")}
        if "PUBLISH" not in claims.capabilities:
            participation.stop_publishing(e, participant)
        if "SUBSCRIBE" not in claims.capabilities:
            participation.stop_subscriptions(e, participant)
        private["capabilities"] = list(claims.capabilities)
        private["tokenExpiresAt"] = claims.expires_at
        participant["attributes"] = dict(claims.attributes)
        participation.save(e, participant)
        participation.record(e, participant, "TOKEN_EXCHANGED",
                             previousToken={k: v for k, v in previous.items() if v is not None},
                             newToken=claims.exchanged_view())
        return _joined(participant, ctx.resources.get(STAGE, where.stage_id))

    return _in_context(emulator, where.account, where.region, "ExchangeToken", work)


# ------------------------------------------------------------------------- RTMP(S) ingest

def ingest(emulator, stream_key: str, protocol: str = "RTMPS", *, client: dict | None = None) -> dict:
    """An encoder connects with an ingest configuration's stream key and publishes."""
    found = _STREAM_KEY.fullmatch(stream_key or "") if isinstance(stream_key, str) else None
    if found is None:
        raise ClientActionError(403, "INVALID_STREAM_KEY", "That is not an IVS real-time stream key")
    account, region, configuration_id, _ = found.groups()

    def work(ctx):
        configuration = ctx.resources.get(INGEST_CONFIGURATION, configuration_id)
        credentials = [] if configuration is None else (
            [{"participantId": configuration["participantId"], "streamKey": configuration["streamKey"]}]
            + (configuration.get("redundantIngestCredentials") or []))
        credential = next((c for c in credentials if c["streamKey"] == stream_key), None)
        if credential is None:
            raise Refusal(403, "INVALID_STREAM_KEY", "No ingest configuration has this stream key")
        if protocol not in INGEST_PROTOCOLS:
            raise Refusal(400, "INVALID_REQUEST", f"protocol must be one of {', '.join(INGEST_PROTOCOLS)}")
        stage_arn = configuration["stageArn"]
        if not stage_arn:
            raise Refusal(409, "NO_STAGE", f"Ingest configuration {configuration['arn']} is not attached to a stage")
        stage_id = stage_arn.rsplit("/", 1)[1]
        stage = ctx.resources.get(STAGE, stage_id)
        if stage is None:
            raise Refusal(404, "STAGE_NOT_FOUND", f"Stage {stage_arn} does not exist")
        participant_id = credential["participantId"]
        if is_revoked(ctx.resources, stage_id, participant_id):
            raise Refusal(403, "TOKEN_REVOKED", f"Participant {participant_id} was disconnected from this stage and revoked")
        e = env(ctx)
        session = participation.open_session(e, stage_id, stage)
        identity = {
            "participantId": participant_id, "userId": configuration["userId"],
            "attributes": configuration["attributes"], "capabilities": ["PUBLISH"], "protocol": protocol,
            "client": client,
            "extra": {"ingestConfigurationArn": configuration["arn"],
                      "redundantIngest": configuration["redundantIngest"]},
        }
        existing = participation.get_participant(e, session["sessionId"], participant_id)
        if existing is not None and existing["state"] == CONNECTED:
            raise participation.refuse_join(e, stage_id, session, identity, 409, "REUSE_OF_STREAM_KEY",
                                            "This stream key is already publishing")
        if protocol == "RTMP" and configuration["ingestProtocol"] != "RTMP":
            raise participation.refuse_join(e, stage_id, session, identity, 400, "INVALID_PROTOCOL",
                                            "This ingest configuration accepts RTMPS only")
        _check_room(e, stage_id, session, identity)
        participant = participation.admit(e, stage_id, stage, session, identity)
        try:
            participation.publish(e, stage, participant)
        except Refusal:
            participation.disconnect(e, stage_id, participant)  # an encoder that cannot publish is dropped
            raise
        configuration = ctx.resources.get(INGEST_CONFIGURATION, configuration_id)
        configuration["_"]["publishers"].append(f"{session['sessionId']}/{participant_id}")
        ctx.resources.update(INGEST_CONFIGURATION, configuration_id, configuration)
        participation.refresh_ingest_state(e, configuration["arn"])
        return _joined(participation.get_participant(e, session["sessionId"], participant_id), stage)

    return _in_context(emulator, account, region, "Ingest", work)


# ------------------------------------------------------------------------- routes

def _respond(call: Callable[[], dict]):
    try:
        return call()
    except ClientActionError as error:
        return HttpResponse(error.status, {"Content-Type": "application/json"}, dump_json(error.body()))


def _text(document: dict, name: str, required: bool = True) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise HttpError(400, f"{name} must be a string")
    return value


@http_route("POST", "/_greenroom/ivs-realtime/join")
def join_route(emulator, request):
    document = request.json_object()
    client = document.get("client")
    if client is not None and not isinstance(client, dict):
        raise HttpError(400, "client must be an object")
    return _respond(lambda: join(emulator, _text(document, "token"), _text(document, "protocol", False) or "WHIP",
                                 stage_arn=_text(document, "stageArn", False), client=client))


@http_route("POST", "/_greenroom/ivs-realtime/participants/{participantId}/{action}")
def participant_route(emulator, request, participantId: str, action: str):
    document = request.json_object()
    stage_arn = _text(document, "stageArn", False)
    if action in ("publish", "unpublish", "leave"):
        function = {"publish": publish, "unpublish": unpublish, "leave": leave}[action]
        return _respond(lambda: function(emulator, participantId, stage_arn=stage_arn))
    if action in ("subscribe", "unsubscribe"):
        function = subscribe if action == "subscribe" else unsubscribe
        publisher = _text(document, "publisherParticipantId")
        return _respond(lambda: function(emulator, participantId, publisher, stage_arn=stage_arn))
    if action == "exchange-token":
        new_token = _text(document, "token")
        return _respond(lambda: exchange_token(emulator, participantId, new_token, stage_arn=stage_arn))
    raise HttpError(404, f"Unknown participant action {action!r}: publish, unpublish, subscribe, "
                         "unsubscribe, leave or exchange-token")


@http_route("POST", "/_greenroom/ivs-realtime/ingest")
def ingest_route(emulator, request):
    document = request.json_object()
    return _respond(lambda: ingest(emulator, _text(document, "streamKey"),
                                   _text(document, "protocol", False) or "RTMPS"))
