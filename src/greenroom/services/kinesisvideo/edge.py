"""Edge configurations (the edge agent that records and uploads on a hub device).

[inferred] greenroom plays the edge agent: an update moves SYNCING -> IN_SYNC after the delay
``kinesisvideo.edge.sync``, a deletion DELETING -> gone after ``kinesisvideo.edge.delete``.
No recorder or uploader status is ever reported (there is no device), so EdgeAgentStatus is
absent."""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.lifecycle import transition
from ...core.operations import operation
from .common import EDGE, errors, find_stream

DEFAULT_LIST_PAGE_SIZE = 10
FIELDS = ("StreamName", "StreamARN", "CreationTime", "LastUpdatedTime", "SyncStatus",
          "FailedStatusDetails", "EdgeConfig")


def _describe(document: dict) -> dict:
    return {field: document[field] for field in FIELDS if field in document}


def _find(ctx: RequestContext, req: dict) -> tuple[dict, dict]:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    document = ctx.resources.get(EDGE, stream["StreamARN"])
    if document is None:
        raise errors.StreamEdgeConfigurationNotFound(f"The stream {stream['StreamName']} has no edge configuration.")
    return stream, document


@operation("kinesisvideo", "StartEdgeConfigurationUpdate")
def start_edge_configuration_update(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    if stream["DataRetentionInHours"] == 0:
        raise errors.NoDataRetention(f"The stream {stream['StreamName']} has no data retention; the edge agent uploads into it.")
    document = ctx.resources.get(EDGE, stream["StreamARN"])
    if document is not None and document["SyncStatus"] in ("SYNCING", "DELETING"):
        raise errors.ResourceInUse(f"The edge configuration of {stream['StreamName']} is {document['SyncStatus']}.")
    edge_config = req["EdgeConfig"]
    updated = {
        "StreamName": stream["StreamName"],
        "StreamARN": stream["StreamARN"],
        "CreationTime": document["CreationTime"] if document else ctx.now,
        "LastUpdatedTime": ctx.now,
        "SyncStatus": "SYNCING",
        "EdgeConfig": edge_config,
        "HubDeviceArn": edge_config["HubDeviceArn"],
    }
    if document is None:
        ctx.resources.insert(EDGE, stream["StreamARN"], updated)
    else:
        ctx.resources.update(EDGE, stream["StreamARN"], updated)
    ctx.schedule("kinesisvideo.edge.sync", EDGE, stream["StreamARN"],
                 expect={"SyncStatus": "SYNCING"}, set={"SyncStatus": "IN_SYNC"})
    return _describe(updated)


@operation("kinesisvideo", "DescribeEdgeConfiguration", read_only=True)
def describe_edge_configuration(ctx: RequestContext, req: dict) -> dict:
    return _describe(_find(ctx, req)[1])


@operation("kinesisvideo", "DeleteEdgeConfiguration")
def delete_edge_configuration(ctx: RequestContext, req: dict) -> dict:
    stream, document = _find(ctx, req)
    if document["SyncStatus"] != "DELETING":
        document["SyncStatus"] = "DELETING"
        document["LastUpdatedTime"] = ctx.now
        ctx.resources.update(EDGE, stream["StreamARN"], document)
        ctx.schedule("kinesisvideo.edge.delete", EDGE, stream["StreamARN"], action="kinesisvideo.edge.remove")
    return {}


@transition("kinesisvideo.edge.remove")
def remove_edge_configuration(resources, kind, resource_id, args, due_at) -> None:
    document = resources.get(kind, resource_id)
    if document is not None and document["SyncStatus"] == "DELETING":
        resources.delete(kind, resource_id)


@operation("kinesisvideo", "ListEdgeAgentConfigurations", read_only=True)
def list_edge_agent_configurations(ctx: RequestContext, req: dict) -> dict:
    hub = req["HubDeviceArn"]
    return ctx.list_answer(EDGE, req, default_size=DEFAULT_LIST_PAGE_SIZE, view=_describe,
                           where={"HubDeviceArn": hub}, filters={"hub": hub})
