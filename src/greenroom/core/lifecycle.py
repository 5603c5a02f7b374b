"""Scheduled state transitions: lifecycles that move with (real or manual) time.

A service schedules ``action`` on a resource ``delay`` seconds from now; the delay is named so
users can configure it (``Delays``). Due transitions are applied, in due order, inside the
transaction of any request before its handler reads state, and by the server in the background,
so a Get, a List filtered by status and a waiter always agree.

The one lifecycle API, for handlers and transitions alike (``ctx``, a ``Moment``, or a service's
subclass of it all have ``now``, ``delay(name)``, ``schedule(delay, kind, id, action, **args)``
and ``schedule_at(due_at, kind, id, action, **args)``):

- ``Step(state, to, delay=...)`` declares a transition: a resource still in ``state`` takes the
  fields ``to`` after the named delay (or at a time the caller gives).
- Every change of state calls ``revise(document)``, which bumps its revision (``_rev``, the one
  stale-timer guard); a step carries the revision it was scheduled in and does nothing once the
  resource moved on. Custom actions check the same with ``applies(document, args)``.
- Timers independent of the resource's state and of each other (an IVS participant's publish
  limit, subscribe limit, recording and leave; a composition's idle clock; a GameLift session's
  length) are lanes: ``Step(..., lane="publish")`` and ``revise(document, "publish")``; ``_rev``
  then holds a small map of lane -> revision. No resource has another guard field.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from .store import Resources, transitions, write

# action name -> function(resources, kind, resource_id, args, due_at)
_ACTIONS: dict[str, Callable] = {}


def transition(name: str):
    """Register a transition action (``@transition("gameliftstreams.session.activate")``)."""

    def register(function):
        if name in _ACTIONS and _ACTIONS[name] is not function:
            raise ValueError(f"transition {name} registered twice")
        _ACTIONS[name] = function
        return function

    return register


REVISION = "_rev"   # the stale-timer guard of every resource with a lifecycle
MAIN = ""           # the lane of a resource's state; other lanes are timers independent of it


def _lanes(document: dict) -> dict[str, int]:
    """A document's revisions by lane: ``_rev`` is a number while the resource has one lane (its
    state), a small map (``{"publish": 2, "leave": 1}``) once it has independent timers."""
    value = document.get(REVISION, 0)
    return dict(value) if isinstance(value, dict) else {MAIN: value}


def revision(document: dict, lane: str = MAIN) -> int:
    return _lanes(document).get(lane, 0)


def revise(document: dict, lane: str = MAIN) -> int:
    """A new revision of ``document`` (of one ``lane`` of it): steps scheduled for older ones
    (in that lane) no longer apply; other lanes' steps are untouched."""
    lanes = _lanes(document)
    lanes[lane] = lanes.get(lane, 0) + 1
    document[REVISION] = lanes[MAIN] if lanes.keys() == {MAIN} else \
        {name: number for name, number in lanes.items() if name != MAIN or number}
    return lanes[lane]


def expected_revision(document: dict, lane: str = MAIN) -> int | dict[str, int]:
    """What a step scheduled now expects of ``_rev``: the number, or ``{lane: number}``."""
    return revision(document) if lane == MAIN else {lane: revision(document, lane)}


def applies(document: dict | None, args: dict) -> bool:
    """Whether a step scheduled with ``args`` still applies to ``document``: it exists and has
    every field ``expect``-ed (its revision in the step's lane, its state) as it was."""
    if document is None:
        return False
    for name, value in args.get("expect", {}).items():
        if name == REVISION:
            wanted = value if isinstance(value, dict) else {MAIN: value}
            if any(revision(document, lane) != number for lane, number in wanted.items()):
                return False
        elif document.get(name) != value:
            return False
    return True


@transition("update")
def update_fields(resources: Resources, kind: str, resource_id: str, args: dict, due_at: float) -> dict | None:
    """The common transition: set fields, if the resource still exists and is in the expected
    state; returns the resource so changed (for actions that do more), else None."""
    data = resources.get(kind, resource_id)
    if not applies(data, args):
        return None
    data.update(args["set"])
    resources.update(kind, resource_id, data)
    return data


@dataclass
class Moment:
    """Resources at one moment, as a request's ``ctx`` has them: what a transition passes on
    (``Moment(resources, due_at)``: what it schedules is timed from its own due time, so a
    manual clock moved far ahead replays every step at its exact time)."""

    resources: Resources
    now: float

    def delay(self, name: str) -> float:
        return self.resources.delay(name)

    def schedule(self, delay: str, kind: str, resource_id: str, action: str = "update", **args: Any) -> float:
        return self.schedule_at(self.now + self.delay(delay), kind, resource_id, action, **args)

    def schedule_at(self, due_at: float, kind: str, resource_id: str, action: str = "update",
                    **args: Any) -> float:
        self.resources.schedule_at(due_at, kind, resource_id, action, **args)
        return due_at


@dataclass(frozen=True)
class Step:
    """A declared transition: a resource in ``state`` (its ``field``) takes ``to`` after the
    named ``delay`` -- or at the time the caller gives -- unless its revision changed since.
    ``action`` names a registered transition for steps that do more than set fields; it gets
    ``expect`` (check it with ``applies``) and the caller's arguments."""

    state: str | None
    to: Mapping[str, Any] = field(default_factory=dict)
    delay: str | None = None
    action: str = "update"
    field: str = "state"
    stamp: str | None = None   # set to the time the step applies, on documents that have it (``updatedAt``)
    lane: str = MAIN           # a timer independent of the resource's state has a lane of its own

    def schedule(self, moment, kind: str, resource_id: str, document: dict, *, at: float | None = None,
                 start: float | None = None, set: Mapping[str, Any] | None = None, **args: Any) -> float:
        """Schedule this step for ``document`` (at its current revision): at ``at``, or its delay
        after ``start`` (default: now). ``set`` adds fields to ``to`` or overrides them (a
        failure's status, say). Returns when it is due."""
        if at is None:
            at = (moment.now if start is None else start) + moment.delay(self.delay)
        due_at = at
        expect = {REVISION: expected_revision(document, self.lane)}
        if self.state is not None:
            expect[self.field] = self.state
        values = {**self.to, **(set or {})}
        if values and self.stamp is not None and self.stamp in document:
            values[self.stamp] = due_at
        if values or self.action == "update":
            args = {"set": values, **args}
        return moment.schedule_at(due_at, kind, resource_id, self.action, expect=expect, **args)


_INSERT_TRANSITION = transitions.insert().values(
    {name: sa.bindparam(name) for name in ("account", "region", "due_at", "action", "kind", "resource_id", "args")})
_ANY_DUE = sa.select(transitions.c.pk).where(transitions.c.due_at <= sa.bindparam("now")).limit(1)
# FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite, one writer, compiles it away): processes sharing a
# store used to both select the same due rows and apply each transition twice; now a row another
# transaction is applying is left to it.
_DUE = (sa.select(transitions).where(transitions.c.due_at <= sa.bindparam("now"))
        .order_by(transitions.c.due_at, transitions.c.pk).limit(500).with_for_update(skip_locked=True))
_DELETE_APPLIED = transitions.delete().where(transitions.c.pk == sa.bindparam("applied_pk"))
_NEXT_DUE = sa.select(sa.func.min(transitions.c.due_at))

MAX_DELAY_SECONDS = 100 * 365 * 86400.0  # [inferred] bound


class Delays:
    """Named delays in seconds; services declare defaults, users override them."""

    def __init__(self) -> None:
        self._defaults: dict[str, float] = {}
        self._overrides: dict[str, float] = {}

    def declare(self, name: str, default_seconds: float) -> None:
        self._defaults[name] = default_seconds

    def __getitem__(self, name: str) -> float:
        if name in self._overrides:
            return self._overrides[name]
        return self._defaults[name]

    def set(self, name: str, seconds: float) -> None:
        self.update({name: seconds})

    __setitem__ = set  # delays["name"] = 0

    def update(self, changes: dict[str, float]) -> None:
        """Change several delays: all of them, or none if one is refused."""
        checked = {name: self._checked(name, seconds) for name, seconds in changes.items()}
        self._overrides.update(checked)

    def _checked(self, name: str, seconds) -> float:
        # A misspelt name would otherwise be a silent no-op; NaN/inf would mean "never" and
        # make GET /_greenroom/delays answer invalid JSON.
        if name not in self._defaults:
            raise ValueError(f"Unknown delay {name}; known: {', '.join(sorted(self._defaults))}")
        seconds = float(seconds)
        if not math.isfinite(seconds):
            raise ValueError(f"delay {name} must be a finite number of seconds, not {seconds}")
        if seconds < 0:
            raise ValueError(f"delay {name} must not be negative")
        if seconds > MAX_DELAY_SECONDS:  # its end must stay a time the services can show
            raise ValueError(f"delay {name} must be at most {MAX_DELAY_SECONDS:.0f} seconds (100 years)")
        return seconds

    def reset(self) -> None:
        self._overrides.clear()

    def describe(self) -> dict[str, float]:
        return {name: self[name] for name in sorted(self._defaults.keys() | self._overrides.keys())}


class Scheduler:
    def __init__(self, shared_store: bool, delays: Delays, objects=None):
        self.delays = delays
        self.objects = objects   # core.objectstore.ObjectStore: what transitions write to S3 buckets
        # For a store only this process writes, remember the earliest due time so requests skip
        # the query while nothing is due; a shared store must always be asked.
        self._cache_next_due = not shared_store
        self._next_due: float | None = None
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._next_due = None

    def schedule(self, conn, account: str, region: str, due_at: float, action: str,
                 kind: str, resource_id: str, args: dict) -> None:
        if action not in _ACTIONS:
            raise ValueError(f"unknown transition action {action}")
        # One statement for every call (parameters apart): built and compiled once.
        write(conn, _INSERT_TRANSITION, {"account": account, "region": region, "due_at": due_at,
                                         "action": action, "kind": kind, "resource_id": resource_id,
                                         "args": args}, json_params=("args",))
        with self._lock:
            if self._next_due is not None and due_at < self._next_due:
                self._next_due = due_at

    def known_idle_until(self, now: float) -> bool:
        """True when this process knows no transition is due at ``now`` (no query needed)."""
        return self._cache_next_due and self._next_due is not None and now < self._next_due

    def anything_due(self, conn, now: float) -> bool:
        """Whether a transition is due at ``now`` (one indexed read: transitions_by_due)."""
        return conn.execute(_ANY_DUE, {"now": now}).first() is not None

    def apply_due(self, conn, now: float) -> int:
        """Apply every transition due at ``now`` (all accounts), oldest first; return how many."""
        if self.known_idle_until(now):
            return 0
        applied = 0
        while True:
            # Actions may schedule further transitions that are already due: loop until none is.
            # The statements are built once (building and caching them per row cost more than
            # applying the transition); a batch's rows go in one DELETE after its actions.
            rows = conn.execute(_DUE, {"now": now}).all()
            if not rows:
                break
            for row in rows:
                _ACTIONS[row.action](Resources(conn, row.account, row.region, self), row.kind,
                                     row.resource_id, row.args, row.due_at)
            conn.execute(_DELETE_APPLIED, [{"applied_pk": row.pk} for row in rows])
            applied += len(rows)
        if self._cache_next_due:
            next_due = conn.execute(_NEXT_DUE).scalar()
            with self._lock:
                self._next_due = float("inf") if next_due is None else next_due
        return applied
