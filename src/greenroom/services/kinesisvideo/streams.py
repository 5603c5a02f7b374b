"""Streams: CreateStream (CREATING -> ACTIVE), DescribeStream, ListStreams, DeleteStream."""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.errors import ServiceError
from ...core.lifecycle import transition
from ...core.operations import operation

KIND = "kinesisvideo:stream"
DEFAULT_LIST_PAGE_SIZE = 10000  # the model's maximum for ListStreams; AWS's default too


def stream_not_found(ctx: RequestContext, name: str | None, arn: str | None) -> ServiceError:
    return ServiceError(
        "ResourceNotFoundException",
        f"The requested stream {name or arn} does not exist in account {ctx.account}.",
    )


def find_stream(ctx: RequestContext, name: str | None, arn: str | None) -> dict:
    """The stream named by StreamName or StreamARN (exactly one of them must be given)."""
    if bool(name) == bool(arn):
        raise ServiceError("InvalidArgumentException", "Specify either StreamName or StreamARN, not both.")
    if name:
        stream = ctx.resources.get(KIND, name)
    else:
        found = ctx.resources.list(KIND, where={"StreamARN": arn}, limit=1)
        stream = found[0][1] if found else None
    if stream is None:
        raise stream_not_found(ctx, name, arn)
    return stream


def describe(stream: dict) -> dict:
    return {key: value for key, value in stream.items() if key != "Tags"}


@operation("kinesisvideo", "CreateStream")
def create_stream(ctx: RequestContext, req: dict) -> dict:
    name = req["StreamName"]
    if ctx.resources.get(KIND, name) is not None:
        raise ServiceError("ResourceInUseException", f"The stream {name} already exists.")
    creation_ms = int(ctx.now * 1000)
    stream = {
        "StreamName": name,
        # Real ARNs end in the stream's creation time in milliseconds.
        "StreamARN": ctx.arn("kinesisvideo", f"stream/{name}/{creation_ms}"),
        "Status": "CREATING",
        "Version": ctx.ids.alphanumeric(20),
        "CreationTime": creation_ms / 1000,
        "DataRetentionInHours": req.get("DataRetentionInHours", 0),
        "Tags": req.get("Tags", {}),
    }
    for optional in ("DeviceName", "MediaType", "KmsKeyId"):
        if optional in req:
            stream[optional] = req[optional]
    ctx.resources.insert(KIND, name, stream)
    ctx.schedule("kinesisvideo.stream.create", KIND, name,
                 expect={"Status": "CREATING"}, set={"Status": "ACTIVE"})
    return {"StreamARN": stream["StreamARN"]}


@operation("kinesisvideo", "DescribeStream")
def describe_stream(ctx: RequestContext, req: dict) -> dict:
    return {"StreamInfo": describe(find_stream(ctx, req.get("StreamName"), req.get("StreamARN")))}


@operation("kinesisvideo", "ListStreams")
def list_streams(ctx: RequestContext, req: dict) -> dict:
    condition = req.get("StreamNameCondition") or {}
    prefix = condition.get("ComparisonValue") if condition.get("ComparisonOperator", "BEGINS_WITH") == "BEGINS_WITH" else None
    page = ctx.page(
        filters={"prefix": prefix},
        token=req.get("NextToken"),
        page_size=req.get("MaxResults", DEFAULT_LIST_PAGE_SIZE),
        fetch=lambda after, limit: [
            (pk, describe(stream))
            for pk, stream in ctx.resources.list(KIND, after=after, limit=limit,
                                                 starts_with={"StreamName": prefix} if prefix else None)
        ],
    )
    return {"StreamInfoList": page.items, "NextToken": page.next_token}


@operation("kinesisvideo", "DeleteStream")
def delete_stream(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, None, req["StreamARN"])
    if "CurrentVersion" in req and req["CurrentVersion"] != stream["Version"]:
        raise ServiceError(
            "VersionMismatchException",
            f"The version {req['CurrentVersion']} does not match the stream's current version {stream['Version']}.",
        )
    if stream["Status"] == "DELETING":
        raise ServiceError("ResourceInUseException", f"The stream {stream['StreamName']} is already being deleted.")
    stream["Status"] = "DELETING"
    ctx.resources.update(KIND, stream["StreamName"], stream)
    ctx.schedule("kinesisvideo.stream.delete", KIND, stream["StreamName"], action="kinesisvideo.stream.remove")
    return {}


@transition("kinesisvideo.stream.remove")
def remove_stream(resources, kind, resource_id, args, due_at) -> None:
    resources.delete(kind, resource_id)
