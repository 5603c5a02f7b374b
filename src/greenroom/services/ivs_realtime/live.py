"""Live participants: the clients connected to this greenroom process over the events WebSocket
(``stage_socket``) and WHIP (``whip``), with their media (``greenroom.media.sfu``).

The store stays the truth about participants (the same participation model the admin
join/publish/subscribe routes drive): joining, publishing, subscribing and leaving go through
``client_actions``, so every real connection records JOINED, PUBLISH_STARTED, SUBSCRIBE_STARTED,
LEFT and the *_ERROR events, and GetParticipant/ListParticipants show it. What lives only in
this process is what cannot be stored: the sockets and the WebRTC peers.

Changes reach live connections through notifications (core.notify) on the stage's topic
(``stage_topic``), published whenever participation tells of a change, in this process or any
other sharing the store; each live connection also re-reads its state every
``RECHECK_SECONDS`` (revocations, expiry, a deleted stage). What a connection learns that way:
its participant is no longer connected (DisconnectParticipant, RevokeConnectionToken: it is
told PARTICIPANT_DISCONNECTED and its peers are closed), its stage is gone (STAGE_DELETED), its
token expired (TOKEN_EXPIRED, [inferred]: the SDK refreshes tokens with EXCHANGE_TOKEN before).

A replica participant (participant replication) carries its source participant's media: who
subscribes to it in the destination stage receives the source's publication (``media_of``).

Media is relayed inside one process: a subscriber reaches a publisher whose peer is in the
same greenroom process ([inferred] a limit of greenroom's, answered like a missing stream, 2004).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable

from ...core import notify
from . import client_actions, participation, tables
from .common import SERVICE, STAGE, events
from .participation import CONNECTED
from .tokens import is_revoked

if TYPE_CHECKING:  # aiortc loads with the first peer (media.rtc)
    from ...media.sfu import Publication, Subscription

log = logging.getLogger("greenroom.ivs_realtime")

RECHECK_SECONDS = 2.0


def stage_topic(account: str, region: str, stage_id: str) -> str:
    return f"ivs-realtime.stage:{account}:{region}:{stage_id}"


def _notify_stage(env, stage_id: str, *_) -> None:
    notify.publish(env.conn, stage_topic(env.account, env.region, stage_id))


# Whatever participation changes, the stage's live connections hear of it.
for _name in ("participant.joined", "participant.left", "stage.occupied", "stage.emptied"):
    events.subscribe(_name)(_notify_stage)


@events.subscribe("publishing.started")
@events.subscribe("publishing.stopped")
def _publishing_changed(env, stage, participant: dict) -> None:
    _notify_stage(env, participant["_"]["stageId"])


@events.subscribe("subscribe.changed")
def _subscriptions_changed(env, participant: dict, *_) -> None:
    _notify_stage(env, participant["_"]["stageId"])  # a publisher's subscriber count


@dataclass(eq=False)
class LiveParticipant:
    """A participant connected to this process (events socket and/or WHIP peers)."""

    emulator: object
    account: str
    region: str
    stage_id: str
    stage_arn: str
    session_id: str
    participant_id: str
    token: str
    expires_at: float
    has_socket: bool = False
    publication: Publication | None = None
    publication_resource: str | None = None
    subscriptions: dict[str, tuple[str, Subscription]] = field(default_factory=dict)  # resource -> (remote, peer)
    media_state: dict = field(default_factory=lambda: {"audioMuted": False, "videoStopped": False})
    ended: bool = False
    kicked: str | None = None               # why the server ended the connection, if it did
    changed: asyncio.Event = field(default_factory=asyncio.Event)   # wakes ``watch``
    watcher: asyncio.Future | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account, self.region, self.stage_id, self.participant_id)

    @property
    def topic(self) -> str:
        return stage_topic(self.account, self.region, self.stage_id)


# (account, region, stage id, participant id) -> its live connection in this process.
LIVE: dict[tuple[str, str, str, str], LiveParticipant] = {}
# WHIP resource id -> its participant (the Location a client DELETEs).
RESOURCES: dict[str, LiveParticipant] = {}


def find(account: str, region: str, stage_id: str, participant_id: str) -> LiveParticipant | None:
    return LIVE.get((account, region, stage_id, participant_id))


def publication_of(account: str, region: str, stage_id: str, participant_id: str) -> Publication | None:
    live = find(account, region, stage_id, participant_id)
    return live.publication if live is not None and live.publication and not live.publication.closed else None


def replica_source(emulator, account: str, region: str, session_id: str, participant_id: str) -> str | None:
    """The source stage id of a replica participant (its media is its source's), else None."""
    with emulator.context(SERVICE, "ReplicaSource", account, region) as ctx:
        participant = tables.get_participant(ctx.conn, account, region, session_id, participant_id)
    if participant is None or participant.get("replicationType") != "REPLICA":
        return None
    return (participant.get("sourceStageArn") or "").rsplit("/", 1)[-1] or None


async def media_of(live: LiveParticipant, participant_id: str) -> Publication | None:
    """What subscribing to ``participant_id`` in ``live``'s stage receives: its own publication,
    or, for a replica, its source participant's (participant replication carries media)."""
    found = publication_of(live.account, live.region, live.stage_id, participant_id)
    if found is not None:
        return found
    source_stage = await asyncio.to_thread(replica_source, live.emulator, live.account, live.region,
                                           live.session_id, participant_id)
    return publication_of(live.account, live.region, source_stage, participant_id) if source_stage else None


async def join(emulator, token: str, claims, *, client: dict | None = None, has_socket: bool) -> LiveParticipant:
    """Join as the token's participant (``client_actions.join``: checks, JOINED) and register
    the live connection. A participant connected here already is taken over: the older
    connection is told TOKEN_REUSED and ends first -- unless it is a WHIP-only connection and
    this is its events socket, which then joins it. Raises ``ClientActionError``."""
    key = (claims.account, claims.region, claims.stage_id, claims.participant_id)
    previous = LIVE.get(key)
    if previous is not None and has_socket and not previous.has_socket:
        # Its WHIP request came first: the events socket joins that same connection.
        previous.has_socket = True
        if previous.watcher is not None:
            previous.watcher.cancel()       # the socket's session follows the stage now
        return previous
    if previous is not None:
        await end(previous, kicked="TOKEN_REUSED")
    joined = await asyncio.to_thread(client_actions.join, emulator, token, "WHIP", client=client)
    live = LiveParticipant(emulator, claims.account, claims.region, claims.stage_id, joined["stageArn"],
                           joined["sessionId"], claims.participant_id, token, claims.expires_at,
                           has_socket=has_socket)
    LIVE[key] = live
    if not has_socket:  # nobody else watches a WHIP-only participant's state
        live.watcher = asyncio.ensure_future(watch(live))
    return live


async def watch(live: LiveParticipant, on_state: Callable[[Snapshot], Awaitable[None]] | None = None,
                until: asyncio.Future | None = None) -> str | None:
    """Follow the participant's stage until the connection ends (or ``until`` is done): each
    change is handed to ``on_state``; returns why the server ended it (and ends it), if it did."""
    notifier = live.emulator.store.notifier
    while not live.ended and not (until is not None and until.done()):
        version = notifier.version(live.topic)
        state = await asyncio.to_thread(snapshot, live)
        if state.gone:
            await end(live, kicked=state.gone)
            return state.gone
        if on_state is not None:
            await on_state(state)
        waits = [asyncio.ensure_future(notifier.wait(live.topic, RECHECK_SECONDS, since=version)),
                 asyncio.ensure_future(live.changed.wait())]
        await asyncio.wait(waits + ([until] if until is not None else []), return_when=asyncio.FIRST_COMPLETED)
        live.changed.clear()
        for waiting in waits:
            waiting.cancel()
    return live.kicked


async def end(live: LiveParticipant, *, kicked: str | None = None, leave: bool = True) -> None:
    """The connection ends: its peers close, and (``leave``) the participant leaves the stage
    unless the server ended it already. ``kicked``: why the server ended it (told to the socket)."""
    if live.ended:
        return
    live.ended, live.kicked = True, kicked
    live.changed.set()
    if LIVE.get(live.key) is live:
        del LIVE[live.key]
    peers = ([live.publication] if live.publication else []) + [peer for _, peer in live.subscriptions.values()]
    for resource in [r for r, owner in RESOURCES.items() if owner is live]:
        del RESOURCES[resource]
    live.publication, live.subscriptions = None, {}
    for peer in peers:
        peer.on_closed = lambda: None
        await peer.close()
    if leave:
        try:
            await asyncio.to_thread(client_actions.leave, live.emulator, live.participant_id, stage_arn=live.stage_arn)
        except client_actions.ClientActionError:
            pass  # disconnected already (DisconnectParticipant, a deleted stage)


# ------------------------------------------------------------------------- what a connection sees

@dataclass
class Snapshot:
    """What a live connection's client is told: the stage's participants, or why it is over."""

    gone: str | None = None                 # STAGE_DELETED, PARTICIPANT_DISCONNECTED, TOKEN_EXPIRED
    participants: list = field(default_factory=list)
    disconnected: list = field(default_factory=list)
    subscribers: int = 0                    # participants subscribed to this one


def snapshot(live: LiveParticipant) -> Snapshot:
    """Read the stage's state for ``live`` (on a worker thread: it queries the store)."""
    emulator = live.emulator
    with emulator.context(SERVICE, "StageState", live.account, live.region, read_only=True) as ctx:
        stage = ctx.resources.get(STAGE, live.stage_id)
        if stage is None or stage.get("arn") != live.stage_arn:
            return Snapshot(gone="STAGE_DELETED")
        me = tables.get_participant(ctx.conn, live.account, live.region, live.session_id, live.participant_id)
        if me is None or me["state"] != CONNECTED or is_revoked(ctx.resources, live.stage_id, live.participant_id):
            return Snapshot(gone="PARTICIPANT_DISCONNECTED")
        if live.expires_at <= ctx.now:
            return Snapshot(gone="TOKEN_EXPIRED")
        present, disconnected, subscribers = [], [], 0
        for _, participant in tables.session_participants(ctx.conn, live.account, live.region, live.session_id):
            entry = _entry(participant)
            if participant["state"] == CONNECTED:
                present.append(entry)
                if live.participant_id in participant["_"]["subscriptions"]:
                    subscribers += 1
            elif participant.get("firstJoinTime") is not None:
                # [inferred] KICKED for participants the server disconnected and revoked.
                kicked = is_revoked(ctx.resources, live.stage_id, participant["participantId"])
                disconnected.append({**entry, "status": "KICKED" if kicked else "LEFT"})
        return Snapshot(participants=present, disconnected=disconnected, subscribers=subscribers)


def _entry(participant: dict) -> dict:
    media = participant["_"].get("media") or {}
    return {
        "id": participant["participantId"],
        "userId": participant.get("userId", ""),
        "attributes": participant.get("attributes") or {},
        "isPublishing": bool(participant["_"]["publishing"]),
        "audioMuted": bool(media.get("audioMuted", False)),
        "videoStopped": bool(media.get("videoStopped", False)),
    }


def set_media_state(live: LiveParticipant, audio_muted: bool, video_stopped: bool) -> None:
    """SET_STATE: the participant's muted/stopped flags, stored so every client sees them (run
    again on a concurrent change, as requests are)."""
    live.emulator.store.run(lambda: _set_media_state(live, audio_muted, video_stopped))


def _set_media_state(live: LiveParticipant, audio_muted: bool, video_stopped: bool) -> None:
    emulator = live.emulator
    with emulator.context(SERVICE, "SetState", live.account, live.region) as ctx:
        participant = tables.get_participant(ctx.conn, live.account, live.region, live.session_id,
                                             live.participant_id)
        if participant is None or participant["state"] != CONNECTED:
            return
        participant["_"]["media"] = {"audioMuted": bool(audio_muted), "videoStopped": bool(video_stopped)}
        tables.update_participant(ctx.conn, live.account, live.region, participant)
        notify.publish(ctx.conn, live.topic)
