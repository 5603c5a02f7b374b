"""Lifecycles (greenroom.core.lifecycle, greenroom.core.clock) through real clients: scheduled
transitions under a manual clock, configurable named delays, DeleteStream's DELETING -> gone,
the server applying due transitions on its own, the admin clock API and reset."""
from __future__ import annotations

import math
import threading
import time

import greenroom
import pytest
import requests
import sqlalchemy as sa
from botocore.exceptions import ClientError

from core_support import EPOCH, error_of, names, store_args, store_engine
from greenroom.core import lifecycle
from greenroom.core.store import resources, transitions

CREATE = "kinesisvideo.stream.create"
DELETE = "kinesisvideo.stream.delete"
DEFAULTS = {CREATE: 1.0, DELETE: 1.0}  # other delays (other lifecycles) are not these tests' business


def ours(delays: dict) -> dict:
    return {name: delays[name] for name in (CREATE, DELETE)}


def described(kv, name: str) -> str:
    return kv.describe_stream(StreamName=name)["StreamInfo"]["Status"]


def listed(kv) -> dict[str, str]:
    return {stream["StreamName"]: stream["Status"] for stream in kv.list_streams()["StreamInfoList"]}


def missing(kv, name: str) -> bool:
    with pytest.raises(ClientError) as excinfo:
        kv.describe_stream(StreamName=name)
    return error_of(excinfo)[0] == "ResourceNotFoundException"


# ------------------------------------------------------------------------- manual clock

def test_creating_until_the_delay_passes_then_active_in_describe_and_list_at_once(anywhere):
    assert ours(anywhere.delays()) == DEFAULTS
    kv = anywhere.client("kinesisvideo")
    kv.create_stream(StreamName="a")          # due at EPOCH + 1
    anywhere.advance(0.5)
    kv.create_stream(StreamName="b")          # due at EPOCH + 1.5
    assert described(kv, "a") == "CREATING"
    assert listed(kv) == {"a": "CREATING", "b": "CREATING"}

    anywhere.advance(0.375)                   # EPOCH + 0.875 (steps are exact binary fractions)
    assert listed(kv) == {"a": "CREATING", "b": "CREATING"}
    assert described(kv, "a") == "CREATING"

    anywhere.advance(0.125)                   # EPOCH + 1: a's delay has passed, exactly
    assert listed(kv) == {"a": "ACTIVE", "b": "CREATING"}   # List first...
    assert described(kv, "a") == "ACTIVE"                    # ...and Describe agree
    assert described(kv, "b") == "CREATING"

    anywhere.advance(0.5)                     # EPOCH + 1.5: b's turn, Describe asked first
    assert described(kv, "b") == "ACTIVE"
    assert listed(kv) == {"a": "ACTIVE", "b": "ACTIVE"}


def test_delays_are_configurable_including_zero(anywhere):
    kv = anywhere.client("kinesisvideo")
    anywhere.set_delays({CREATE: 0})
    assert ours(anywhere.delays()) == {CREATE: 0.0, DELETE: 1.0}
    kv.create_stream(StreamName="instant")
    assert described(kv, "instant") == "ACTIVE"   # without the clock moving at all
    assert listed(kv) == {"instant": "ACTIVE"}

    anywhere.set_delays({CREATE: 2.5})
    kv.create_stream(StreamName="slow")
    anywhere.advance(2.25)
    assert listed(kv)["slow"] == "CREATING"
    anywhere.advance(0.25)
    assert described(kv, "slow") == "ACTIVE"

    # A delay applies to what is scheduled after the change, not to what is pending.
    anywhere.set_delays({CREATE: 10})
    kv.create_stream(StreamName="pending")
    anywhere.set_delays({CREATE: 0})
    kv.create_stream(StreamName="after-change")
    assert listed(kv) == {"instant": "ACTIVE", "slow": "ACTIVE", "pending": "CREATING", "after-change": "ACTIVE"}
    anywhere.advance(10)
    assert described(kv, "pending") == "ACTIVE"

    anywhere.set_delays({DELETE: 0})
    kv.delete_stream(StreamARN=kv.describe_stream(StreamName="pending")["StreamInfo"]["StreamARN"])
    assert missing(kv, "pending")


def test_delete_goes_deleting_then_gone_after_the_delay(anywhere):
    kv = anywhere.client("kinesisvideo")
    arn = kv.create_stream(StreamName="cam")["StreamARN"]
    anywhere.advance(1)
    assert described(kv, "cam") == "ACTIVE"

    kv.delete_stream(StreamARN=arn)           # gone at + 1
    assert described(kv, "cam") == "DELETING"
    assert listed(kv) == {"cam": "DELETING"}
    for again in (lambda: kv.delete_stream(StreamARN=arn), lambda: kv.create_stream(StreamName="cam")):
        with pytest.raises(ClientError) as busy:
            again()
        assert error_of(busy)[0] == "ResourceInUseException"

    anywhere.advance(0.5)
    assert listed(kv) == {"cam": "DELETING"}
    anywhere.advance(0.5)
    assert missing(kv, "cam")
    assert listed(kv) == {}
    with pytest.raises(ClientError) as gone:
        kv.delete_stream(StreamARN=arn)
    assert error_of(gone)[0] == "ResourceNotFoundException"

    new_arn = kv.create_stream(StreamName="cam")["StreamARN"]   # the name is free again
    assert new_arn != arn and described(kv, "cam") == "CREATING"


def test_a_stream_deleted_while_creating_is_not_activated(anywhere):
    kv = anywhere.client("kinesisvideo")
    arn = kv.create_stream(StreamName="cam")["StreamARN"]   # activation due at + 1
    anywhere.advance(0.5)
    kv.delete_stream(StreamARN=arn)                         # removal due at + 1.5
    anywhere.advance(0.5)
    assert described(kv, "cam") == "DELETING"               # the activation found it DELETING
    anywhere.advance(0.5)
    assert missing(kv, "cam")


def test_the_pending_activation_of_a_deleted_stream_does_not_activate_its_successor(anywhere):
    kv = anywhere.client("kinesisvideo")
    anywhere.set_delays({CREATE: 10})
    anywhere.set_delays({DELETE: 0})
    arn = kv.create_stream(StreamName="cam")["StreamARN"]   # activation due at + 10
    kv.delete_stream(StreamARN=arn)
    assert missing(kv, "cam")
    anywhere.set_delays({CREATE: 20})
    kv.create_stream(StreamName="cam")                      # its own activation: at + 20
    anywhere.advance(10)
    assert described(kv, "cam") == "CREATING"


def test_manual_clock_holds_the_server_background_still(server):
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    server.admin("POST", "delays", {CREATE: 0.1}).raise_for_status()
    kv = server.client("kinesisvideo")
    kv.create_stream(StreamName="frozen")
    time.sleep(0.6)  # more than two background ticks of real time
    assert described(kv, "frozen") == "CREATING"
    server.admin("POST", "clock", {"advance": 0.1}).raise_for_status()
    assert described(kv, "frozen") == "ACTIVE"


# ------------------------------------------------------------------------- real clock, background

def test_server_applies_due_transitions_in_the_background(db_url, launch):
    """With a real clock and nobody calling, the server moves lifecycles on its own: observed
    in the store itself, behind the server's back, with no request after the create/delete."""
    server = launch(*store_args(db_url), "--log-level", "warning")
    server.admin("POST", "delays", {CREATE: 0.3, DELETE: 0.3}).raise_for_status()
    kv = server.client("kinesisvideo")
    engine = store_engine(db_url)

    def in_store(name):
        with engine.connect() as conn:
            data = conn.execute(sa.select(resources.c.data).where(resources.c.id == name)).scalar()
            pending = conn.execute(sa.select(sa.func.count()).select_from(transitions)).scalar_one()
        return (data or {}).get("Status"), pending

    def wait_for(name, wanted, deadline_seconds=5.0):
        deadline = time.time() + deadline_seconds
        while (state := in_store(name)) != wanted:
            assert time.time() < deadline, f"{name} still {state}, expected {wanted}"
            time.sleep(0.02)
        return time.time()

    try:
        started = time.time()
        arn = kv.create_stream(StreamName="bg")["StreamARN"]
        first_look = in_store("bg")
        if time.time() - started < 0.25:  # certainly before the delay (no flaky check on a slow box)
            assert first_look == ("CREATING", 1)
        activated = wait_for("bg", ("ACTIVE", 0))
        assert activated - started >= 0.3

        started = time.time()
        kv.delete_stream(StreamARN=arn)
        assert in_store("bg")[0] == "DELETING" or time.time() - started >= 0.3
        removed = wait_for("bg", (None, 0))
        assert removed - started >= 0.3
    finally:
        engine.dispose()


def test_concurrent_appliers_apply_each_due_transition_once(postgres_url, monkeypatch):
    """Two processes on one PostgreSQL store both apply due transitions (every request and the
    background do); each transition must still be applied exactly once."""
    from greenroom.emulator import Emulator

    applied = []

    def slow_action(resources_, kind, resource_id, args, due_at):
        applied.append(resource_id)
        time.sleep(0.3)  # keep the first applier inside its transaction while the other looks

    monkeypatch.setitem(lifecycle._ACTIONS, "test.slow", slow_action)
    first, second = Emulator(postgres_url), Emulator(postgres_url)
    try:
        with first.store.transaction() as conn:
            for resource_id in ("r1", "r2"):
                first.scheduler.schedule(conn, "000000000000", "us-east-1", 0.0, "test.slow",
                                         "test:thing", resource_id, {})
        counts = []
        appliers = [threading.Thread(target=lambda e=e: counts.append(e.apply_due_transitions()))
                    for e in (first, second)]
        for thread in appliers:
            thread.start()
        for thread in appliers:
            thread.join()
        assert sorted(applied) == ["r1", "r2"]
        assert sorted(counts) in ([0, 2], [1, 1])
        with first.store.transaction() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(transitions)).scalar_one() == 0
    finally:
        first.store.engine.dispose()
        second.store.engine.dispose()


# ------------------------------------------------------------------------- admin API

def test_admin_clock_api(server):
    clock = lambda: server.admin("GET", "clock").json()  # noqa: E731
    state = clock()
    assert state["mode"] == "real" and abs(state["now"] - time.time()) < 5
    time.sleep(0.01)
    assert clock()["now"] > state["now"]

    frozen = server.admin("POST", "clock", {"mode": "manual"}).json()
    assert frozen["mode"] == "manual"
    time.sleep(0.05)
    assert clock() == frozen
    assert server.admin("POST", "clock", {"mode": "manual"}).json() == frozen  # idempotent
    assert server.admin("POST", "clock", {"advance": 10}).json() == {"mode": "manual", "now": frozen["now"] + 10}
    assert server.admin("POST", "clock", {"advance": 0}).json()["now"] == frozen["now"] + 10
    assert server.admin("POST", "clock", {"set": EPOCH}).json() == {"mode": "manual", "now": EPOCH}
    assert server.admin("POST", "clock", {"advance": "2.5"}).json()["now"] == EPOCH + 2.5

    # The clock is the services' clock: creation time and ARN follow it.
    kv = server.client("kinesisvideo")
    info = kv.describe_stream(StreamARN=kv.create_stream(StreamName="timed")["StreamARN"])["StreamInfo"]
    assert info["CreationTime"].timestamp() == EPOCH + 2.5
    assert info["StreamARN"].endswith(f"/timed/{int((EPOCH + 2.5) * 1000)}")

    real = server.admin("POST", "clock", {"mode": "real"}).json()
    assert real["mode"] == "real" and abs(real["now"] - time.time()) < 5
    ahead = server.admin("POST", "clock", {"advance": 3600}).json()  # real -> manual, from now
    assert ahead["mode"] == "manual" and abs(ahead["now"] - (time.time() + 3600)) < 5

    # Near the clock's upper bound (3000-01-01; 1.7e308 used to be accepted and made ids and
    # timestamps no service could show: issue 13), where a big advance must be refused.
    server.admin("POST", "clock", {"set": 32503680000.0 - 1}).raise_for_status()
    assert server.admin("POST", "clock", {"set": 1.7e308}).status_code == 400
    before = clock()
    bad_bodies = [
        {"advance": -1}, {"advance": "soon"}, {"advance": None}, {"advance": [1]},
        {"advance": "nan"}, {"advance": "inf"}, {"advance": 1e308}, {"advance": 2},  # beyond the year 3000
        {"set": None}, {"set": "nan"}, {"set": "-Infinity"}, {"set": "yesterday"},
        {}, {"mode": "bogus"}, {"mode": None}, {"speed": 2},
    ]
    for body in bad_bodies:
        response = server.admin("POST", "clock", body)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"] == "application/json"
        message = response.json()["message"]
        assert isinstance(message, str) and message, body
        assert clock() == before, body  # a refused change changes nothing
    for raw in (b"not json", b"[1, 2]", b"5", b'"advance"'):
        response = requests.post(f"{server.base_url}/_greenroom/clock", data=raw, timeout=10)
        assert response.status_code == 400 and response.json()["message"], raw
    assert clock() == before

    unknown = server.admin("GET", "nothing-here")
    assert unknown.status_code == 404 and "nothing-here" in unknown.json()["message"]
    wrong_method = server.admin("PUT", "clock")
    assert wrong_method.status_code == 405 and wrong_method.json()["message"]


def test_admin_delays_api(server):
    defaults = server.admin("GET", "delays").json()
    assert ours(defaults) == DEFAULTS and all(isinstance(value, float) for value in defaults.values())
    changed = server.admin("POST", "delays", {CREATE: 0.25, DELETE: "3"})
    assert changed.status_code == 200 and changed.json() == {**defaults, CREATE: 0.25, DELETE: 3.0}
    assert server.admin("POST", "delays", {CREATE: 0}).json()[CREATE] == 0.0
    for body in ({"kinesisvideo.stream.nope": 1}, {CREATE: -1}, {CREATE: "later"}, {CREATE: None},
                 {CREATE: "nan"}, {CREATE: "inf"}, {CREATE: [1]}):
        response = server.admin("POST", "delays", body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["message"]
    unknown = server.admin("POST", "delays", {"kinesisvideo.stream.nope": 1}).json()["message"]
    assert CREATE in unknown and DELETE in unknown  # names the known delays
    assert server.admin("GET", "delays").json() == {**defaults, CREATE: 0.0, DELETE: 3.0}


def test_a_refused_delays_change_changes_nothing(server):
    before = server.admin("GET", "delays").json()
    response = server.admin("POST", "delays", {CREATE: 5, "kinesisvideo.stream.nope": 1})
    assert response.status_code == 400
    assert server.admin("GET", "delays").json() == before


def test_in_process_clock_and_delays():
    with greenroom.mock() as gr:
        assert gr.clock.mode == "real" and abs(gr.clock.now() - time.time()) < 5
        gr.clock.freeze()
        frozen = gr.clock.now()
        assert gr.clock.describe() == {"mode": "manual", "now": frozen}
        assert gr.clock.advance(2) == frozen + 2
        gr.clock.set(EPOCH)
        for bad in (-1, math.nan, math.inf):
            with pytest.raises(ValueError):
                gr.clock.advance(bad)
        for bad in (math.nan, math.inf, -math.inf):
            with pytest.raises(ValueError):
                gr.clock.set(bad)
        assert gr.clock.now() == EPOCH
        gr.clock.use_real_time()
        assert gr.clock.mode == "real"

        defaults = gr.delays.describe()
        assert ours(defaults) == DEFAULTS
        for bad in (-1, math.nan, math.inf):
            with pytest.raises(ValueError):
                gr.delays.set(CREATE, bad)
        with pytest.raises(ValueError):  # a misspelt name must not be a silent no-op
            gr.delays.set("kinesisvideo.stream.craete", 0)
        gr.delays.set(CREATE, 0)
        assert gr.delays[CREATE] == 0.0 and gr.delays.describe() == {**defaults, CREATE: 0.0}
        gr.reset()
        assert gr.delays.describe() == defaults


# ------------------------------------------------------------------------- reset

def test_reset_forgets_resources_pending_transitions_and_delays(anywhere):
    defaults = anywhere.delays()
    kv = anywhere.client("kinesisvideo")
    anywhere.set_delays({CREATE: 5})
    anywhere.set_delays({DELETE: 0})
    kv.create_stream(StreamName="old")               # its activation is due at + 5
    other = anywhere.client("kinesisvideo", aws_access_key_id="111111111111", region="eu-west-1")
    other.create_stream(StreamName="elsewhere")

    anywhere.reset()
    assert listed(kv) == {} and listed(other) == {}  # every account and region
    assert anywhere.delays() == defaults

    anywhere.set_delays({CREATE: 10})
    kv.create_stream(StreamName="old")               # same name, its own activation at + 10
    anywhere.advance(5)
    assert described(kv, "old") == "CREATING"        # the forgotten transition did not fire
    anywhere.advance(5)
    assert described(kv, "old") == "ACTIVE"
    assert names(kv.list_streams()["StreamInfoList"]) == ["old"]


# ------------------------------------------------------------------------- lanes of the one guard

def test_a_lane_is_revised_on_its_own_and_the_state_lane_stays_a_number():
    document = {"state": "ACTIVE"}
    publish = lifecycle.Step("ACTIVE", lane="publish")
    state_step = lifecycle.Step("ACTIVE")
    assert lifecycle.revise(document) == 1 and document["_rev"] == 1      # one lane: a number
    expect_state = {"expect": {"_rev": 1, "state": "ACTIVE"}}
    expect_publish = {"expect": {"_rev": {"publish": 0}, "state": "ACTIVE"}}

    class Moment:   # what Step.schedule needs of a ctx: now, delay, schedule_at
        now = 10.0
        scheduled: list = []

        def delay(self, name):
            return 1.0

        def schedule_at(self, due_at, kind, resource_id, action, **args):
            self.scheduled.append(args)
            return due_at

    moment = Moment()
    publish.schedule(moment, "k", "id", document, at=11.0)
    state_step.schedule(moment, "k", "id", document, at=11.0)
    assert [args["expect"] for args in moment.scheduled] == [expect_publish["expect"], expect_state["expect"]]

    assert lifecycle.revise(document, "publish") == 1
    assert document["_rev"] == {"": 1, "publish": 1}                     # independent timers: a map
    assert lifecycle.applies(document, expect_state)                       # the state lane is untouched
    assert not lifecycle.applies(document, expect_publish)
    assert lifecycle.revise(document) == 2
    assert not lifecycle.applies(document, expect_state)
    assert lifecycle.revision(document, "publish") == 1 and lifecycle.revision(document, "leave") == 0
    assert lifecycle.applies({"state": "ACTIVE"}, {"expect": {"_rev": {"leave": 0}}})
    assert not lifecycle.applies(None, {})
