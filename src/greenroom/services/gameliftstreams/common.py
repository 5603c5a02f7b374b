"""What every GameLift Streams module shares: resource kinds, identifiers (id or ARN), lookups,
errors and tags. Handlers pass ``ctx``, transitions a ``core.lifecycle.Moment``, to what
schedules (the one lifecycle API)."""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.errors import Errors
from ...core.records import Record
from ...core.ids import parse_arn
from ...core.tagging import Tagging

SERVICE = "gameliftstreams"

APPLICATION = "gameliftstreams:application"
STREAM_GROUP = "gameliftstreams:streamgroup"
SESSION = "gameliftstreams:streamsession"

# What is stored of each kind: the API's members, and greenroom's own fields. Tags are kept in
# ``tags`` and shown only by ListTagsForResource.
APPLICATION_RECORD = Record(APPLICATION, tags_shown=False)
STREAM_GROUP_RECORD = Record(STREAM_GROUP, private=("_locations",), tags_shown=False)
SESSION_RECORD = Record(SESSION, tags_shown=False, private=(
    "_id", "_app_id", "_candidates", "_placed", "_rev", "_holds", "_answer", "_signal_error", "_log_output_uri",
    "_assume_role_failed", "_was_connected", "_export_status",
    "_peer", "_log", "_StatusHistory"))  # the live peer's key (streaming), the application's log
                                         # (session_files), the status changes (the console)

DEFAULT_PAGE_SIZE = 25


errors = Errors(SERVICE, "ValidationException", "ConflictException", "ResourceNotFoundException",
                "ServiceQuotaExceededException")
tagging = Tagging(SERVICE, invalid=errors.Validation)




# --------------------------------------------------------------------------- identifiers

_TYPE_LABELS = {"application": "application", "streamgroup": "stream group", "streamsession": "stream session",
                "streamurl": "stream URL"}


def resource_id(ctx: RequestContext, identifier: str, resource_type: str) -> str | None:
    """The id an Identifier names (it may be the id itself or the resource's ARN); None when it
    is the ARN of a resource in another account or region (which cannot exist here)."""
    if not identifier.startswith("arn:"):
        return identifier
    parts = parse_arn(identifier)
    if parts is None or parts["service"] != SERVICE or parts["resource_type"] != resource_type \
            or not parts["resource_id"]:
        raise errors.Validation(f"{identifier} is not the ARN of a GameLift Streams {_TYPE_LABELS[resource_type]}.")
    if parts["account"] != ctx.account or parts["region"] != ctx.region:
        return None
    return parts["resource_id"]


def _find(ctx: RequestContext, kind: str, resource_type: str, identifier: str) -> dict:
    found_id = resource_id(ctx, identifier, resource_type)
    found = ctx.resources.get(kind, found_id) if found_id else None
    if found is None:
        raise errors.ResourceNotFound(f"{_TYPE_LABELS[resource_type].capitalize()} {identifier} was not found.")
    return found


def find_application(ctx: RequestContext, identifier: str) -> dict:
    return _find(ctx, APPLICATION, "application", identifier)


def find_stream_group(ctx: RequestContext, identifier: str) -> dict:
    return _find(ctx, STREAM_GROUP, "streamgroup", identifier)


def find_in_group(ctx: RequestContext, group: dict, identifier: str, kind: str, resource_type: str,
                  group_member: str, label: str) -> dict:
    """A resource of this stream group (a session, a stream URL) by its id or its ARN
    (.../<resource_type>/<group id>/<id>); ResourceNotFound names ``label`` otherwise."""
    path = resource_id(ctx, identifier, resource_type)
    document = None
    if path is not None:
        group_part, _, own_id = path.rpartition("/")
        if not group_part or group_part == group["Id"]:
            document = ctx.resources.get(kind, own_id)
    if document is None or document[group_member] != group["Id"]:
        raise errors.ResourceNotFound(f"{label} {identifier} was not found in stream group {group['Id']}.")
    return document


def find_session(ctx: RequestContext, group: dict, identifier: str) -> dict:
    """A stream session of this stream group, by its id or its ARN (.../streamsession/sg/id)."""
    return find_in_group(ctx, group, identifier, SESSION, "streamsession", "StreamGroupId", "Stream session")
