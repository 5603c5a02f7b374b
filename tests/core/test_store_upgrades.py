"""Documents stored by an earlier release still read: the store rewrites them once when it opens
(core.store.upgrade), so no getter writes on read."""
from __future__ import annotations

import sqlalchemy as sa

import greenroom
from greenroom import services
from greenroom.core import store as store_module
from greenroom.core.lifecycle import applies
from greenroom.core.store import Store
from greenroom.services.ivs_realtime import tables

services.load_all()   # the services register their upgrades when imported (as Emulator does)


def _make_old(db_url: str, change) -> None:
    """Store as an earlier release left it: ``change(conn)`` edits it, the upgrades are undone."""
    store = Store(db_url)
    with store.transaction() as conn:
        change(conn)
        conn.execute(store_module.settings.delete().where(store_module.settings.c.name.like("upgrade:%")))
    store.engine.dispose()


def test_a_stream_stored_by_an_earlier_release_reads_after_the_store_opens(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'old.db'}"
    with greenroom.mock(db_url=db_url) as gr:
        gr.client("kinesisvideo").create_stream(StreamName="old", DataRetentionInHours=1, Tags={"team": "a"})
        gr.clock.advance(60)
        gr.client("kinesisvideo").describe_stream(StreamName="old")

    def drop_media_key(conn):
        row = conn.execute(sa.select(store_module.resources.c.pk, store_module.resources.c.data)
                           .where(store_module.resources.c.kind == "kinesisvideo:stream")).one()
        data = {("Tags" if key == "tags" else key): value for key, value in row.data.items()
                if key != "_media_key"}
        conn.execute(store_module.resources.update().where(store_module.resources.c.pk == row.pk)
                     .values(data=data))
    _make_old(db_url, drop_media_key)

    with greenroom.mock(db_url=db_url) as gr:
        kv = gr.client("kinesisvideo")
        assert kv.describe_stream(StreamName="old")["StreamInfo"]["Status"] == "ACTIVE"
        assert kv.list_tags_for_stream(StreamName="old")["Tags"] == {"team": "a"}
        with gr.emulator.store.transaction() as conn:
            data = [d for d in store_module.documents(conn, "kinesisvideo:stream")]
        assert isinstance(data[0]["_media_key"], int) and "Tags" not in data[0]
        # Reading the stream wrote nothing: the key is the one the store gave it when it opened.
        key = data[0]["_media_key"]
        kv.describe_stream(StreamName="old")
        with gr.emulator.store.transaction() as conn:
            assert [d["_media_key"] for d in store_module.documents(conn, "kinesisvideo:stream")] == [key]


def _upgraded_session(tmp_path, session: dict, action: str, args: dict) -> tuple[dict, dict]:
    """A GameLift Streams session and one pending step of it, as an earlier release stored them,
    read back after the store opened: (the session, the step's arguments)."""
    db_url = f"sqlite:///{tmp_path / 'old.db'}"

    def store_old_session(conn):
        conn.execute(store_module.resources.insert().values(
            account="000000000000", region="us-east-1", kind="gameliftstreams:streamsession", id="s1",
            parent="sg-1", data=session))
        conn.execute(store_module.transitions.insert().values(
            account="000000000000", region="us-east-1", due_at=10.0, action=action,
            kind="gameliftstreams:streamsession", resource_id="s1", args=args))
    _make_old(db_url, store_old_session)

    store = Store(db_url)
    with store.transaction() as conn:
        (data,) = store_module.documents(conn, "gameliftstreams:streamsession")
        upgraded = conn.execute(sa.select(store_module.transitions.c.args)).scalar_one()
    store.engine.dispose()
    return data, upgraded


def test_a_gameliftstreams_session_stored_with_generations_reads_as_revisions(tmp_path):
    session = {"Arn": "arn:aws:gameliftstreams:us-east-1:000000000000:streamsession/sg-1/s1", "_id": "s1",
               "Status": "CONNECTED", "_gen": 4, "_holds": "1", "_delays": {"activate": 1, "export": 1}}
    data, args = _upgraded_session(tmp_path, session, "gameliftstreams.session.timeout",
                                   {"gen": 4, "expect": "CONNECTED", "status": "TERMINATED", "reason": "idleTimeout"})
    assert (data["_rev"], data["_holds"], "_gen" in data, "_delays" in data) == (4, True, False, False)
    assert args == {"expect": {"_rev": 4, "Status": "CONNECTED"}, "status": "TERMINATED", "reason": "idleTimeout"}


def test_gameliftstreams_steps_scheduled_without_arguments_still_apply(tmp_path):
    """An application and a stream group an earlier release scheduled (its steps had no
    arguments) become READY and ACTIVE after the store upgrades them to declared steps."""
    db_url = f"sqlite:///{tmp_path / 'old.db'}"
    started = 1_800_000_000.0
    with greenroom.mock(db_url=db_url) as gr:
        gr.clock.set(started)
        gls = gr.client("gameliftstreams")
        app_id = gls.create_application(
            Description="old", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
            ExecutablePath="game.exe", ApplicationSourceUri="s3://bucket/game")["Id"]
        gr.emulator.delays.set("gameliftstreams.streamgroup.activate", 5)
        group_id = gls.create_stream_group(Description="old", StreamClass="gen4n_high")["Id"]

    def forget_arguments(conn):
        conn.execute(store_module.transitions.update()
                     .where(store_module.transitions.c.action.in_((
                         "gameliftstreams.application.process", "gameliftstreams.application.ready",
                         "gameliftstreams.streamgroup.activated", "gameliftstreams.streamgroup.expired")))
                     .values(args={}))
        conn.execute(store_module.transitions.insert().values(   # locations settling, also without arguments
            account="000000000000", region="us-east-1", due_at=started + 3600, kind="gameliftstreams:streamgroup",
            action="gameliftstreams.streamgroup.locations_settled", resource_id=group_id, args={}))
    _make_old(db_url, forget_arguments)

    with greenroom.mock(db_url=db_url) as gr:
        gr.clock.set(started)
        with gr.emulator.store.transaction() as conn:
            pending = {row.action: row.args for row in conn.execute(sa.select(store_module.transitions))}
        assert pending["gameliftstreams.application.process"] == {
            "expect": {"Status": "INITIALIZED"}, "set": {"Status": "PROCESSING", "LastUpdatedAt": started + 0.5}}
        assert pending["gameliftstreams.streamgroup.activated"] == {"expect": {"Status": "ACTIVATING"}}
        assert pending["gameliftstreams.streamgroup.locations_settled"] == {"expect": {"Status": "UPDATING_LOCATIONS"}}
        gls = gr.client("gameliftstreams")
        gr.clock.set(started + 0.7)
        app = gls.get_application(Identifier=app_id)
        assert (app["Status"], app["LastUpdatedAt"].timestamp()) == ("PROCESSING", started + 0.5)
        gr.clock.set(started + 6)
        assert gls.get_application(Identifier=app_id)["Status"] == "READY"
        assert gls.get_stream_group(Identifier=group_id)["Status"] == "ACTIVE"


def test_ivs_participants_and_session_ends_stored_with_their_own_guards_read_as_the_one_guard(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'old.db'}"
    participant = {"participantId": "p1", "userId": "u", "state": "CONNECTED", "attributes": {},
                   "published": True, "recordingState": "STOPPING", "protocol": "WHIP", "replicationType": "SOURCE",
                   "_": {"stageId": "st-1", "sessionId": "se-1", "capabilities": ["PUBLISH"], "publishing": True,
                         "subscriptions": [], "leaveGeneration": 2, "publishGeneration": 3,
                         "subscribeGeneration": 0, "recordingGeneration": 4}}
    key = "se-1/p1"
    old_timers = {
        "ivs-realtime.participant.time-limit": {"what": "publish", "generation": 3},
        "ivs-realtime.recording.settle": {"generation": 4, "expect": "STOPPING", "to": "STOPPED"},
        "ivs-realtime.replica.expire": {"leaveGeneration": 2},
    }

    def store_old_participant(conn):
        tables.insert_participant(conn, "000000000000", "us-east-1", participant)
        conn.execute(store_module.resources.insert().values(
            account="000000000000", region="us-east-1", kind="ivs-realtime:session", id="se-1", parent="st-1",
            data={"sessionId": "se-1", "startTime": 1.0, "_": {"stageId": "st-1", "endDueAt": 40.0}}))
        for due in (30.0, 40.0):   # an end someone's joining cancelled, and the session's end
            conn.execute(store_module.transitions.insert().values(
                account="000000000000", region="us-east-1", due_at=due, action="ivs-realtime.session.end",
                kind="ivs-realtime:session", resource_id="se-1", args={"due": due}))
        for action, args in old_timers.items():
            conn.execute(store_module.transitions.insert().values(
                account="000000000000", region="us-east-1", due_at=10.0, action=action,
                kind="ivs-realtime:participant", resource_id=key, args=args))
    _make_old(db_url, store_old_participant)

    store = Store(db_url)
    with store.transaction() as conn:
        data = tables.get_participant(conn, "000000000000", "us-east-1", "se-1", "p1")
        pending = {row.action: row.args for row in conn.execute(sa.select(store_module.transitions)
                                                                .where(store_module.transitions.c.kind != "ivs-realtime:session"))}
        ends = [row.args for row in conn.execute(sa.select(store_module.transitions)
                                                 .where(store_module.transitions.c.kind == "ivs-realtime:session")
                                                 .order_by(store_module.transitions.c.due_at))]
        (session,) = store_module.documents(conn, "ivs-realtime:session")
    store.engine.dispose()
    assert ends == [{"expect": {"_rev": -1}}, {"expect": {"_rev": 0}}]
    assert [applies(session, args) for args in ends] == [False, True]
    assert data["_rev"] == {"leave": 2, "publish": 3, "recording": 4}
    assert not [name for name in data["_"] if name.endswith("Generation")]
    assert pending == {
        "ivs-realtime.participant.time-limit": {"what": "publish",
                                                "expect": {"_rev": {"publish": 3}, "state": "CONNECTED"}},
        "ivs-realtime.recording.settle": {"expect": {"_rev": {"recording": 4}, "recordingState": "STOPPING"},
                                          "set": {"recordingState": "STOPPED"}},
        "ivs-realtime.replica.expire": {"expect": {"_rev": {"leave": 2}}},
    }
    assert all(applies(data, args) for args in pending.values())


def test_a_gameliftstreams_session_length_timer_guarded_by_started_at_is_its_length_lane(tmp_path):
    session = {"Arn": "arn:aws:gameliftstreams:us-east-1:000000000000:streamsession/sg-1/s1", "_id": "s1",
               "Status": "ACTIVE", "_rev": 3, "_holds": True, "_started_at": 5.0}
    data, args = _upgraded_session(tmp_path, session, "gameliftstreams.session.max_length", {"started_at": 5.0})
    assert "_started_at" not in data and data["_rev"] == 3
    assert args == {"expect": {"_rev": {"length": 0}}}


def test_an_index_added_since_a_database_was_made_is_created_when_it_opens(tmp_path):
    """Lists of a whole kind read resources_by_kind (one page costs the same whatever is
    stored): a database made before it existed gets it on open, and opening again is a no-op."""
    db_url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store(db_url)
    with old.transaction() as conn:
        conn.execute(sa.text("DROP INDEX resources_by_kind"))
    old.engine.dispose()
    for _ in range(2):
        reopened = Store(db_url)
        assert "resources_by_kind" in {index["name"] for index in sa.inspect(reopened.engine).get_indexes("resources")}
        with reopened.engine.connect() as conn:
            plan = " ".join(str(row[-1]) for row in conn.execute(sa.text(
                "EXPLAIN QUERY PLAN SELECT pk, data FROM resources WHERE account = 'a' AND region = 'r' "
                "AND kind = 'k' AND pk > 5 ORDER BY pk LIMIT 10")))
        assert "resources_by_kind" in plan and "TEMP B-TREE" not in plan, plan
        reopened.engine.dispose()


def test_a_new_store_records_every_upgrade_done_without_running_it(tmp_path, monkeypatch):
    """A store made now holds nothing an earlier release wrote: its upgrades are recorded as
    done, not run; a store that lacks one (made before it existed) runs it when it opens."""
    ran = []
    monkeypatch.setitem(store_module._UPGRADES, "test.new-rewrite", lambda conn: ran.append("run"))
    db_url = f"sqlite:///{tmp_path / 'new.db'}"
    Store(db_url).engine.dispose()
    assert ran == []
    with sa.create_engine(db_url).connect() as conn:
        names = set(conn.execute(sa.select(store_module.settings.c.name)).scalars())
    assert {f"upgrade:{name}" for name in store_module._UPGRADES} | {"schema_version"} <= names
    _make_old(db_url, lambda conn: None)
    Store(db_url).engine.dispose()
    assert ran == ["run"]


def test_an_ivs_composition_idle_stop_guarded_by_idle_since_is_its_idle_lane(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'old.db'}"
    composition = {"arn": "arn:aws:ivs:us-east-1:000000000000:composition/c1", "state": "ACTIVE",
                   "_": {"stageId": "st-1", "idleSince": 20.0}}

    def store_old_composition(conn):
        conn.execute(store_module.resources.insert().values(
            account="000000000000", region="us-east-1", kind="ivs-realtime:composition", id="c1", parent="",
            data=composition))
        for since in (10.0, 20.0):   # a clock someone's joining stopped, and the running one
            conn.execute(store_module.transitions.insert().values(
                account="000000000000", region="us-east-1", due_at=since + 60, action="ivs-realtime.composition.idle",
                kind="ivs-realtime:composition", resource_id="c1", args={"idleSince": since}))
    _make_old(db_url, store_old_composition)

    store = Store(db_url)
    with store.transaction() as conn:
        stops = [row.args for row in conn.execute(sa.select(store_module.transitions)
                                                  .order_by(store_module.transitions.c.due_at))]
        (data,) = store_module.documents(conn, "ivs-realtime:composition")
    store.engine.dispose()
    assert stops == [{"expect": {"_rev": {"idle": -1}}}, {"expect": {"_rev": {"idle": 0}}}]
    assert [applies(data, args) for args in stops] == [False, True]
