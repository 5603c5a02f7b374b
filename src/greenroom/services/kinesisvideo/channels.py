"""Signaling channels (WebRTC): Create (CREATING -> ACTIVE), Describe, List, Update
(UPDATING -> ACTIVE), Delete (DELETING -> gone), GetSignalingChannelEndpoint."""
from __future__ import annotations

from ...core.context import RequestContext
from ...core.lifecycle import Step, transition
from ...core.operations import operation
from .common import (CHANNEL, CHANNEL_RECORD, STREAM, check_version, errors, tagging,
    find_channel, name_prefix, new_version, require_active, save_channel)

DEFAULT_MESSAGE_TTL_SECONDS = 60
DEFAULT_LIST_PAGE_SIZE = 10000
MAX_CHANNELS_PER_ACCOUNT = 10000

# A channel's lifecycle (core.lifecycle.Step): CREATING and UPDATING become ACTIVE after their delay.
CREATED = Step("CREATING", {"ChannelStatus": "ACTIVE"}, delay="kinesisvideo.channel.create", field="ChannelStatus")
UPDATED = Step("UPDATING", {"ChannelStatus": "ACTIVE"}, delay="kinesisvideo.channel.update", field="ChannelStatus")


@operation("kinesisvideo", "CreateSignalingChannel")
def create_signaling_channel(ctx: RequestContext, req: dict) -> dict:
    name = req["ChannelName"]
    if ctx.resources.get(CHANNEL, name) is not None:
        raise errors.ResourceInUse(f"The signaling channel {name} already exists.")
    tags = {}
    for tag in req.get("Tags", []):
        tags[tag["Key"]] = tag["Value"]
    tagging.check(tags)
    ctx.resources.require_room(CHANNEL, MAX_CHANNELS_PER_ACCOUNT, lambda limit: errors.AccountChannelLimitExceeded(
        f"The account {ctx.account} already has {limit} signaling channels."))
    creation_ms = int(ctx.now * 1000)
    configuration = req.get("SingleMasterConfiguration") or {}
    channel = {
        "ChannelName": name,
        "ChannelARN": ctx.arn("kinesisvideo", f"channel/{name}/{creation_ms}"),
        "ChannelType": req.get("ChannelType", "SINGLE_MASTER"),
        "ChannelStatus": "CREATING",
        "CreationTime": creation_ms / 1000,
        "SingleMasterConfiguration": {
            "MessageTtlSeconds": configuration.get("MessageTtlSeconds", DEFAULT_MESSAGE_TTL_SECONDS)},
        "Version": new_version(ctx),
        "tags": tags,
        "MediaStorage": {"Status": "DISABLED"},
    }
    ctx.resources.insert(CHANNEL, name, channel)
    CREATED.schedule(ctx, CHANNEL, name, channel)
    return {"ChannelARN": channel["ChannelARN"]}


CHANNEL_RECORD.get_operation(
    "kinesisvideo", "DescribeSignalingChannel", "ChannelInfo",
    lambda ctx, req: find_channel(ctx, req.get("ChannelName"), req.get("ChannelARN")))


CHANNEL_RECORD.list_operation("kinesisvideo", "ListSignalingChannels",
                              name_prefix("ChannelNameCondition"), default_size=DEFAULT_LIST_PAGE_SIZE)


@operation("kinesisvideo", "UpdateSignalingChannel")
def update_signaling_channel(ctx: RequestContext, req: dict) -> dict:
    channel = find_channel(ctx, None, req["ChannelARN"])
    check_version(req["CurrentVersion"], channel["Version"], "signaling channel")
    require_active(channel, "ChannelStatus", "signaling channel", channel["ChannelName"])
    if "SingleMasterConfiguration" in req:
        if channel["ChannelType"] != "SINGLE_MASTER":
            raise errors.InvalidArgument("SingleMasterConfiguration applies only to SINGLE_MASTER channels.")
        ttl = (req["SingleMasterConfiguration"] or {}).get("MessageTtlSeconds")
        if ttl is not None:
            channel["SingleMasterConfiguration"] = {"MessageTtlSeconds": ttl}
    channel["ChannelStatus"] = "UPDATING"
    channel["Version"] = new_version(ctx)
    save_channel(ctx, channel)
    UPDATED.schedule(ctx, CHANNEL, channel["ChannelName"], channel)
    return {}


@operation("kinesisvideo", "DeleteSignalingChannel")
def delete_signaling_channel(ctx: RequestContext, req: dict) -> dict:
    channel = find_channel(ctx, None, req["ChannelARN"])
    check_version(req.get("CurrentVersion"), channel["Version"], "signaling channel")
    if channel["ChannelStatus"] == "DELETING":
        raise errors.ResourceInUse(f"The signaling channel {channel['ChannelName']} is already being deleted.")
    channel["ChannelStatus"] = "DELETING"
    save_channel(ctx, channel)
    ctx.schedule("kinesisvideo.channel.delete", CHANNEL, channel["ChannelName"],
                 action="kinesisvideo.channel.remove")
    return {}


@transition("kinesisvideo.channel.remove")
def remove_channel(resources, kind, resource_id, args, due_at) -> None:
    channel = resources.get(kind, resource_id)
    if channel is None:
        return
    resources.delete(kind, resource_id)
    # The stream it stored media in is free for another channel.
    stream_arn = channel["MediaStorage"].get("StreamARN")
    if stream_arn:
        for _, stream in resources.list(STREAM, where={"StreamARN": stream_arn}, limit=1):
            if stream.get("MappedChannelARN") == channel["ChannelARN"]:
                del stream["MappedChannelARN"]
                resources.update(STREAM, stream["StreamName"], stream)


@operation("kinesisvideo", "GetSignalingChannelEndpoint", read_only=True)
def get_signaling_channel_endpoint(ctx: RequestContext, req: dict) -> dict:
    """Endpoints point at greenroom itself (wss/ws for WSS, its base URL for HTTPS and WEBRTC).

    [inferred] WEBRTC (ingestion into a stream) needs the channel's media storage configuration
    ENABLED; a VIEWER asking for WEBRTC is refused, as only a master ingests."""
    channel = find_channel(ctx, None, req["ChannelARN"])
    require_active(channel, "ChannelStatus", "signaling channel", channel["ChannelName"])
    configuration = req.get("SingleMasterChannelEndpointConfiguration") or {}
    protocols = configuration.get("Protocols") or ["WSS", "HTTPS"]
    role = configuration.get("Role", "MASTER")
    if len(set(protocols)) != len(protocols):
        raise errors.InvalidArgument("Protocols must not repeat a protocol.")
    if "WEBRTC" in protocols:
        if channel["MediaStorage"]["Status"] != "ENABLED":
            raise errors.InvalidArgument("The WEBRTC protocol needs the channel's media storage configuration to be ENABLED.")
        if role != "MASTER":
            raise errors.InvalidArgument("Only the MASTER role can use the WEBRTC protocol.")
    endpoints = {"WSS": ctx.public_url(websocket=True), "HTTPS": ctx.public_url(), "WEBRTC": ctx.public_url()}
    return {"ResourceEndpointList": [
        {"Protocol": protocol, "ResourceEndpoint": endpoints[protocol]} for protocol in protocols
    ]}
