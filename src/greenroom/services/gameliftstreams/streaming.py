"""Live streams: the WebRTC peer that answers a session's signal request stays up for the
session's life and streams a generated application (``media.application``) to the client.

Where peers live: in the process that answered the offer, in memory (``live_streams``, one
registry per store), as KVS signaling keeps its live connections. Several greenroom processes
sharing a PostgreSQL store each stream the sessions they answered; the session's state is in the
store, so any process may end it (a timeout, TerminateStreamSession) and the answering process
sees that within a second and closes the peer. A reconnection (CreateStreamSessionConnection)
answered by another process streams from there, with the application's picture started anew.

Idempotent by offer: a request may run more than once (``Store.run`` starts it again after a
conflict), and an answer must not make a second peer. Peers are kept by the offer (its SDP, per
account and Region); answering an offer answered before returns the same peer and answer,
rebound to the session of the latest attempt (attempts follow each other, so the committed one
is last). Which session a peer serves is read from the store: the session names its peer in
``_peer``; a peer no committed session names within ``UNCLAIMED_SECONDS`` is closed.

Each peer has a watch task that reconciles the connection with the session, once a second and
whenever the connection changes (every step one store transaction, run with ``Store.run``):

| the connection              | the session                    | then                                   |
|-----------------------------|--------------------------------|----------------------------------------|
| connected (ICE + DTLS)      | ACTIVE or RECONNECTING         | CONNECTED (client_actions.client_connected) |
| input since the last step   | CONNECTED                      | the idle timer starts again (at most once a second) |
| failed or closed            | CONNECTED                      | PENDING_CLIENT_RECONNECTION; the peer is closed |
| failed or closed            | any other                      | the peer is closed (the session waits for its timeouts) |
| any                         | TERMINATING, TERMINATED, ERROR | the peer is closed (TerminateStreamSession, timeouts, application exit) |
| any                         | names another peer, or is gone | the peer is closed (a reconnection replaced it) |

Input: every message on any data channel the client opens is input: it is drawn on the
picture and restarts the idle timer. [inferred] The GameLift Streams Web SDK's own input
encoding is not public (the SDK is a download, not on npm), so greenroom accepts:

- a JSON object with a string ``type`` (a DOM event's name, as a web client would forward it),
  drawn as its type and its other members, e.g.
  ``{"type": "keydown", "key": "a", "code": "KeyA"}``,
  ``{"type": "mousemove", "x": 120, "y": 80}``, ``{"type": "mousedown", "button": 0}``,
  ``{"type": "gamepad", "buttons": [1, 0], "axes": [0.5, 0]}``;
- any other text, drawn as it is (the first 80 characters);
- binary messages, drawn as their length and first bytes in hexadecimal.

The picture: the application's description, the session id, the stream class with the
resolution and frame rate, a running clock, a moving bar and the last inputs. Resolution is
the session's DisplayConfiguration when given, else 1280x720; 30 frames a second. [inferred]
AWS gives 1080p at 60 fps as its stream classes' reference; greenroom's default is lower so that
a software encoder keeps several sessions on one machine (bench/bench_gamelift_stream.py).
Sound: a steady 400 Hz tone. Codecs: what the offer accepts, aiortc's encoders (VP8, H.264 for
video, Opus for sound).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from ...core.engines import PerEngine
from ...core.routes import HttpError
from ...media import rtc
from . import client_actions, signaling
from .common import SERVICE, SESSION
from .session_lifecycle import FINAL

log = logging.getLogger("greenroom")

ANSWER_TIMEOUT_SECONDS = 15.0
UNCLAIMED_SECONDS = 15.0     # a peer no committed session names by then is closed
WATCH_SECONDS = 1.0          # how often a peer reads its session
INPUT_RESTART_SECONDS = 1.0  # the idle timer restarts at most this often on continuous input
DEFAULT_RESOLUTION = (1280, 720)
FRAME_RATE = 30


@dataclass
class LiveStreams:
    """What one process streams for one store: peers by offer, application screens by session."""

    peers: dict = field(default_factory=dict)          # offer key -> SessionPeer
    screens: dict = field(default_factory=dict)        # (account, region, session id) -> Screen
    # The watch steps' store transactions, off the media loop (aiortc's encoders use its default executor).
    store_work: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="greenroom-gls-watch"))


live_streams = PerEngine(lambda engine: LiveStreams())


def _offer_key(account: str, region: str, sdp: str) -> str:
    return hashlib.sha256(f"{account}\n{region}\n{sdp}".encode()).hexdigest()[:32]


def title_lines(application: dict, group: dict, session: dict) -> list[str]:
    width, height = resolution(session)
    return [application.get("Description") or application["Id"],
            f"session {session['_id']}  ({application['Id']}, {group['Id']})",
            f"{group['StreamClass']}  {width}x{height} @ {FRAME_RATE} fps"]


def resolution(session: dict) -> tuple[int, int]:
    wanted = (session.get("DisplayConfiguration") or {}).get("Resolution")
    return (wanted["Width"], wanted["Height"]) if wanted else DEFAULT_RESOLUTION


def answer(ctx, session: dict, title: list[str], signal_request: str) -> tuple[str, str]:
    """(peer key, SignalResponse) for a session's offer: a live peer answers it (the same peer
    for an offer answered before). MalformedOffer / UnanswerableOffer as ``signaling`` says."""
    sdp = signaling.offer_sdp(signal_request)
    streams = live_streams(ctx.emulator.store.engine)
    key = _offer_key(ctx.account, ctx.region, sdp)
    peer = streams.peers.get(key)
    if peer is None or peer.closed:
        peer = SessionPeer(streams, ctx.emulator, ctx.account, ctx.region, key)
        streams.peers[key] = peer
        peer.bind(session["_id"], title, resolution(session))
        try:
            rtc.run_on_media_loop(peer.open(sdp), ANSWER_TIMEOUT_SECONDS)
        except rtc.OfferRefused as error:
            streams.peers.pop(key, None)
            raise signaling.UnanswerableOffer(str(error)) from None
        except BaseException:   # no answer in time, ...: no half-made peer stays behind
            streams.peers.pop(key, None)
            raise
    else:
        peer.bind(session["_id"], title, resolution(session))
    return key, json.dumps({"type": "answer", "sdp": peer.answer_sdp})


def describe_input(message) -> str:
    """How an input message is drawn (see the module's docstring for the accepted format)."""
    if isinstance(message, bytes):
        return f"{len(message)} bytes: {message[:16].hex(' ')}"
    try:
        document = json.loads(message)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        details = " ".join(f"{name}={json.dumps(value)}" for name, value in document.items() if name != "type")
        return f"{document['type']} {details}".strip()[:100]
    return f"text {message[:80]!r}"


class SessionPeer:
    """The live peer of one offer, the screen it shows and the task watching its session."""

    def __init__(self, streams: LiveStreams, emulator, account: str, region: str, key: str):
        self.streams, self.emulator = streams, emulator
        self.account, self.region, self.key = account, region, key
        self.session_id: str | None = None
        self.created = time.monotonic()
        self.claimed = False              # a committed session names this peer
        self.connected_once = False
        self.closed = False
        self.inputs_seen = 0              # counted on the media loop
        self.inputs_handled = 0           # written by the watch steps only
        self.last_input_restart = 0.0
        self.last_input = ""
        self.peer = None                  # media.peers.AnsweringPeer
        self.video = None                 # media.application.ScreenTrack
        self.wake: asyncio.Event | None = None

    @property
    def answer_sdp(self) -> str:
        return self.peer.answer_sdp

    def bind(self, session_id: str, title: list[str], size: tuple[int, int]) -> None:
        """Serve this session (called by each attempt of the request; the last one stays)."""
        self.session_id = session_id
        screen = self.streams.screens.get((self.account, self.region, session_id)) or \
            rtc.application_screen(title, size[0], size[1], FRAME_RATE)
        if self.video is None:
            self._screen = screen
        else:
            self.video.screen = screen

    async def open(self, sdp: str) -> None:
        self.wake = asyncio.Event()
        self.video, audio = rtc.application_tracks(self._screen)
        self.peer = rtc.answering_peer([self.video, audio], on_state=self._state_changed, on_message=self._input)
        await self.peer.open(sdp)
        asyncio.get_running_loop().create_task(self._watch())

    # ------------------------------------------------------------------ on the media loop
    def _state_changed(self, state: str) -> None:
        self.wake.set()

    def _input(self, message) -> None:
        self.last_input = describe_input(message)
        self.video.screen.show_input(self.last_input)
        self.inputs_seen += 1
        if time.monotonic() - self.last_input_restart >= INPUT_RESTART_SECONDS:
            self.wake.set()

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await asyncio.wait_for(self.wake.wait(), WATCH_SECONDS)
                except asyncio.TimeoutError:
                    pass
                self.wake.clear()
                state = self.peer.state
                keep = await loop.run_in_executor(self.streams.store_work, self._step, state, self.inputs_seen)
                if not keep:
                    return
        except sa.exc.SQLAlchemyError as error:   # the store went away (a stopped in-process mock)
            log.info("GameLift Streams peer of session %s closed: store unavailable (%s)",
                     self.session_id, type(error).__name__)
        except Exception:
            log.exception("GameLift Streams peer of session %s failed", self.session_id)
        finally:
            await self._close()

    async def _close(self) -> None:
        self.closed = True
        if self.streams.peers.get(self.key) is self:
            del self.streams.peers[self.key]
        await self.peer.close()
        if not any(peer.video is not None and peer.video.screen is self.video.screen
                   for peer in self.streams.peers.values()):
            self.video.screen.release()

    # ------------------------------------------------------------------ on a store thread
    def _step(self, state: str, inputs_seen: int) -> bool:
        """One reconciliation of the connection with the session; False: close the peer."""
        return self.emulator.store.run(lambda: self._reconcile(state, inputs_seen))

    def _reconcile(self, state: str, inputs_seen: int) -> bool:
        with self.emulator.context(SERVICE, "StreamingClient", self.account, self.region) as ctx:
            session_id = self.session_id
            session = ctx.resources.get(SESSION, session_id) if session_id else None
            if session is None or session.get("_peer") != self.key:
                return not self.claimed and time.monotonic() - self.created < UNCLAIMED_SECONDS
            self.claimed = True
            screen_key = (self.account, self.region, session_id)
            status = session["Status"]
            if status in FINAL or status == "TERMINATING":
                self.streams.screens.pop(screen_key, None)
                return False
            self.streams.screens.setdefault(screen_key, self.video.screen)
            try:
                if state == "connected" and status in ("ACTIVE", "RECONNECTING"):
                    client_actions.client_connected(ctx, session)
                    self.connected_once = True
                elif state in ("failed", "closed"):
                    if status == "CONNECTED":
                        client_actions.client_disconnected(ctx, session)
                    return False
                elif inputs_seen > self.inputs_handled and status == "CONNECTED":
                    count = inputs_seen - self.inputs_handled
                    client_actions.client_input(ctx, session, f"({count} message{'s' * (count > 1)}, "
                                                              f"the last: {self.last_input})")
                    self.inputs_handled = inputs_seen
                    self.last_input_restart = time.monotonic()
            except HttpError as refused:   # the status moved on meanwhile: look again next time
                log.debug("session %s: %s", session_id, refused.message)
            return True
