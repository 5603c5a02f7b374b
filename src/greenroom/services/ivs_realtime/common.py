"""What the IVS Real-Time modules share: resource kinds, ARNs, errors, tags and attribute
rules, the default page sizes, and ``Env`` (state + time + scheduling, for requests and for
scheduled transitions alike)."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit
from dataclasses import dataclass
from typing import Any


from ...core.context import RequestContext
from ...core.errors import Errors
from ...core.events import Events
from ...core.records import Record
from ...core.ids import parse_arn
from ...core.lifecycle import Moment
from ...core.store import Resources
from ...core.tagging import Tagging
from ...protocol import cors, quirks

SERVICE = "ivs-realtime"
ARN_SERVICE = "ivs"

STAGE = "ivs-realtime:stage"
SESSION = "ivs-realtime:session"
TOKEN = "ivs-realtime:token"
REVOCATION = "ivs-realtime:revocation"
PUBLIC_KEY = "ivs-realtime:public-key"
REPLICA = "ivs-realtime:replica"
COMPOSITION = "ivs-realtime:composition"
STORAGE_CONFIGURATION = "ivs-realtime:storage-configuration"
ENCODER_CONFIGURATION = "ivs-realtime:encoder-configuration"
INGEST_CONFIGURATION = "ivs-realtime:ingest-configuration"
QUOTA_OVERRIDES = "ivs-realtime:quota-overrides"
PARTICIPANT = "ivs-realtime:participant"  # transitions only: participants have a table of their own

# What is stored of each kind: greenroom's own fields are in one dict, "_" (a participant's
# a session's and a composition's timers keep their revisions in "_rev", core.lifecycle's one guard); tags are shown.
STAGE_RECORD = Record(STAGE, private=("_",), summary=("arn", "name", "activeSessionId", "tags"))
SESSION_RECORD = Record(SESSION, private=("_", "_rev"), summary=("sessionId", "startTime", "endTime"))
PUBLIC_KEY_RECORD = Record(PUBLIC_KEY, private=("_",), summary=("arn", "name", "tags"))
REPLICA_RECORD = Record(REPLICA, private=("_",))
COMPOSITION_RECORD = Record(COMPOSITION, private=("_", "_rev"))
STORAGE_CONFIGURATION_RECORD = Record(STORAGE_CONFIGURATION)
ENCODER_CONFIGURATION_RECORD = Record(ENCODER_CONFIGURATION, summary=("arn", "name", "tags"))
INGEST_CONFIGURATION_RECORD = Record(INGEST_CONFIGURATION, private=("_",), summary=(
    "name", "arn", "ingestProtocol", "stageArn", "participantId", "state", "userId", "redundantIngest"))
PARTICIPANT_RECORD = Record(PARTICIPANT, private=("_", "_rev"), summary=(   # ListParticipants shows these
    "participantId", "userId", "state", "firstJoinTime", "published", "recordingState", "replicationType",
    "replicationState", "sourceStageArn", "sourceSessionId", "redundantIngest", "ingestConfigurationArn"))

# ARN resource type -> kind, for the resources that carry tags.
TAGGABLE_KINDS = {
    "stage": STAGE,
    "composition": COMPOSITION,
    "storage-configuration": STORAGE_CONFIGURATION,
    "encoder-configuration": ENCODER_CONFIGURATION,
    "public-key": PUBLIC_KEY,
    "ingest-configuration": INGEST_CONFIGURATION,
}


def _claims_route(uri_params: dict[str, str]) -> bool | None:
    """Classic IVS shares the signing name and the /tags/{resourceArn} routes: the ARN's
    resource type tells whose request it is (no ARN: undecided)."""
    for value in uri_params.values():
        found = parse_arn(value)
        if found is not None:
            return found["resource_type"] in TAGGABLE_KINDS
    return None


quirks.claim_routes(SERVICE, _claims_route)

DEFAULT_PAGE_SIZE = 50             # most list operations
DEFAULT_LARGE_PAGE_SIZE = 100      # ListCompositions, ListEncoderConfigurations
RESOURCE_ID_LENGTH = 12
ATTRIBUTES_MAX_BYTES = 1024        # participant attributes: 1 KB in total (keys and values)


# ------------------------------------------------------------------------- errors

errors = Errors(SERVICE, "ValidationException", "ResourceNotFoundException", "ConflictException",
                "ServiceQuotaExceededException", "AccessDeniedException")
tagging = Tagging(SERVICE, invalid=errors.Validation)

# What participation tells the modules downstream of it (recording, replication, compositions,
# media), each after the change is saved:
#   participant.joined (env, stage_id, participant)   connected (a client, an encoder, a replica)
#   stage.occupied / stage.emptied (env, stage_id)    someone joined / the last one left
#   publishing.started / publishing.stopped (env, stage, participant)   stage: None once deleted
#   subscribe.changed (env, subscriber, publisher_id, subscribed: bool)
#   participant.left (env, stage_id, participant)
events = Events("participant.joined", "stage.occupied", "stage.emptied", "publishing.started",
                "publishing.stopped", "subscribe.changed", "participant.left")
MISSING = "Request references a resource which does not exist: {}"


def security_headers(**members: str) -> dict:
    """The security headers some answers carry [inferred from the real service's], with ``members``."""
    return {"strictTransportSecurity": "max-age=47304000; includeSubDomains", "xContentTypeOptions": "nosniff",
            "xFrameOptions": "DENY", **members}


def cors_members() -> dict:
    """The CORS headers of the answers whose model declares them as output members, with the
    server's values (protocol.cors), sent whether or not the request has an Origin: the server
    adds them only when it has one. [inferred] AWS sends what the model declares."""
    return {"accessControlAllowOrigin": "*", "accessControlExposeHeaders": cors.exposed_headers()}


# ------------------------------------------------------------------------- ARNs

def new_id(ctx: RequestContext) -> str:
    return ctx.ids.alphanumeric(RESOURCE_ID_LENGTH)


def resource_arn(ctx: RequestContext, resource_type: str, resource_id: str) -> str:
    return ctx.arn(ARN_SERVICE, f"{resource_type}/{resource_id}")


def new_resource(ctx: RequestContext, resource_type: str, req: dict, **members: Any) -> tuple[str, dict]:
    """A new resource's id and document: its ARN, the request's ``name`` and checked ``tags``,
    and ``members``."""
    resource_id = new_id(ctx)
    return resource_id, {"arn": resource_arn(ctx, resource_type, resource_id), "name": req.get("name", ""),
                         "tags": tagging.check(req.get("tags")), **members}


def arn_id(ctx_or_env, arn: str, resource_type: str) -> str | None:
    """The resource id of an ARN of this type in the caller's account and region; None otherwise
    (another account's or region's resource is not found from here)."""
    parts = parse_arn(arn or "")
    if (parts is None or parts["service"] != ARN_SERVICE or parts["resource_type"] != resource_type
            or parts["account"] != ctx_or_env.account or parts["region"] != ctx_or_env.region):
        return None
    return parts["resource_id"] or None


def find(ctx_or_env, kind: str, resource_type: str, arn: str) -> tuple[str, dict]:
    """(id, document) of the resource an ARN names, or ResourceNotFoundException."""
    resource_id = arn_id(ctx_or_env, arn, resource_type)
    data = ctx_or_env.resources.get(kind, resource_id) if resource_id else None
    if data is None:
        raise errors.ResourceNotFound(MISSING.format(arn))
    return resource_id, data


def find_stage(ctx_or_env, arn: str) -> tuple[str, dict]:
    return find(ctx_or_env, STAGE, "stage", arn)


# ------------------------------------------------------------------------- rules beyond the model

def check_attributes(attributes: dict | None, member: str = "attributes") -> None:
    size = sum(len(key.encode()) + len(value.encode()) for key, value in (attributes or {}).items())
    if size > ATTRIBUTES_MAX_BYTES:
        raise errors.Validation(
            f"{member} must be at most {ATTRIBUTES_MAX_BYTES} bytes in total (keys and values); got {size}")


def iso(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)




# ------------------------------------------------------------------------- endpoints

ROUTE_PREFIX = "/_greenroom/ivs-realtime"


def stage_endpoints(ctx: RequestContext, whip_id: str) -> dict:
    """A stage's endpoints, pointing at greenroom itself in the real endpoints' shapes:
    events ``wss://host/...`` (``ws`` over plain HTTP), whip ``https://host/.../whip/{12 hex}``,
    rtmp ``rtmp://host/app/``, rtmps ``rtmps://host/app/`` (host = the caller's public URL,
    core.public_url). The events WebSocket (``stage_socket``) and WHIP (``whip``) are served
    there; RTMP(S) is not (``client_actions.ingest`` plays an encoder's part)."""
    host = urlsplit(ctx.public_url()).netloc
    return {
        "events": ctx.public_url(f"{ROUTE_PREFIX}/events", websocket=True),
        "whip": ctx.public_url(f"{ROUTE_PREFIX}/whip/{whip_id}"),
        "rtmp": f"rtmp://{host}/app/",
        "rtmps": f"rtmps://{host}/app/",
    }


# ------------------------------------------------------------------------- Env

@dataclass
class Env(Moment):
    """State, time and scheduling in one account and region (core.lifecycle.Moment): built from
    a request's context, or inside a scheduled transition (timed from its due time)."""

    ids: Any = None                       # id generator; None inside a transition
    base_url: str = ""

    @property
    def conn(self):
        return self.resources.conn

    @property
    def account(self) -> str:
        return self.resources.account

    @property
    def region(self) -> str:
        return self.resources.region


def env(ctx: RequestContext) -> Env:
    return Env(ctx.resources, ctx.now, ctx.ids, ctx.base_url)


def transition_env(resources: Resources, due_at: float, args: dict) -> Env:
    return Env(resources, due_at)
