"""Tables of IVS Real-Time's own: participants and their events (high volume, filtered and
listed newest first), and the per-account key that signs participant tokens.

Everything else (stages, sessions, configurations, keys) lives in the engine's ``resources``.
"""
from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...core.store import dialect_insert, lock_collection, metadata, scoped_table

participants = scoped_table(
    "ivs_realtime_participants",
    sa.Column("stage_id", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(16), nullable=False),
    sa.Column("participant_id", sa.String(64), nullable=False),
    # Columns ListParticipants filters on and the quotas count; the document has everything.
    sa.Column("user_id", sa.String(128), nullable=False, server_default=""),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("published", sa.Boolean, nullable=False),
    sa.Column("publishing", sa.Boolean, nullable=False),
    sa.Column("subscribing", sa.Boolean, nullable=False),
    sa.Column("recording_state", sa.String(16), nullable=False),
    sa.Column("replication_type", sa.String(16), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.UniqueConstraint("account", "region", "session_id", "participant_id",
                        name="ivs_realtime_participants_identity"),
    sa.Index("ivs_realtime_participants_by_session", "account", "region", "session_id", "pk"),
    # The client stand-ins find a connected participant by its id alone.
    sa.Index("ivs_realtime_participants_by_id", "participant_id", "state"),
)

events = scoped_table(
    "ivs_realtime_events",
    sa.Column("stage_id", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(16), nullable=False),
    sa.Column("participant_id", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ivs_realtime_events_by_participant", "account", "region", "session_id",
             "participant_id", "pk"),
)

signing_keys = sa.Table(
    "ivs_realtime_signing_keys",
    metadata,
    sa.Column("account", sa.String(12), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("private_key_pem", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


# ------------------------------------------------------------------------- participants

def _row_values(data: dict) -> dict:
    private = data["_"]
    return {
        "user_id": data.get("userId") or "",
        "state": data["state"],
        "published": bool(data.get("published")),
        "publishing": bool(private.get("publishing")),
        "subscribing": bool(private.get("subscriptions")),
        "recording_state": data.get("recordingState") or "DISABLED",
        "replication_type": data.get("replicationType") or "NONE",
        "data": data,
    }


def _scope(table, account: str, region: str):
    return sa.and_(table.c.account == account, table.c.region == region)


def get_participant(conn: Connection, account: str, region: str, session_id: str,
                    participant_id: str) -> dict | None:
    """One participant, its row locked until the transaction ends (PostgreSQL; SQLite has one
    writer): callers read it to change it, and two servers acting on one participant (its
    WHIP session on one, its events socket on another) must not lose each other's change."""
    return conn.execute(
        sa.select(participants.c.data).where(
            _scope(participants, account, region),
            participants.c.session_id == session_id,
            participants.c.participant_id == participant_id,
        ).with_for_update()
    ).scalar()


def insert_participant(conn: Connection, account: str, region: str, data: dict) -> None:
    private = data["_"]
    conn.execute(participants.insert().values(
        account=account, region=region, stage_id=private["stageId"], session_id=private["sessionId"],
        participant_id=data["participantId"], **_row_values(data),
    ))


def update_participant(conn: Connection, account: str, region: str, data: dict) -> None:
    private = data["_"]
    conn.execute(
        participants.update().where(
            _scope(participants, account, region),
            participants.c.session_id == private["sessionId"],
            participants.c.participant_id == data["participantId"],
        ).values(**_row_values(data))
    )


def session_participants(conn: Connection, account: str, region: str, session_id: str, *,
                         after: int | None = None, limit: int | None = None,
                         **column_filters: Any) -> list[tuple[int, dict]]:
    """(pk, document) of a session's participants in join order, filtered on table columns."""
    query = sa.select(participants.c.pk, participants.c.data).where(
        _scope(participants, account, region), participants.c.session_id == session_id)
    for column, value in column_filters.items():
        query = query.where(participants.c[column] == value)
    if after is not None:
        query = query.where(participants.c.pk > after)
    query = query.order_by(participants.c.pk)
    if limit is not None:
        query = query.limit(limit)
    return [(row.pk, row.data) for row in conn.execute(query)]


def count_participants(conn: Connection, account: str, region: str, session_id: str,
                       **column_filters: Any) -> int:
    # The quotas count-then-join/publish: atomic across processes (core.store "concurrency").
    lock_collection(conn, account, region, "ivs-realtime:participants", session_id)
    query = sa.select(sa.func.count()).select_from(participants).where(
        _scope(participants, account, region), participants.c.session_id == session_id)
    for column, value in column_filters.items():
        query = query.where(participants.c[column] == value)
    return conn.execute(query).scalar_one()


def ever_in_stage(conn: Connection, account: str, region: str, stage_id: str, participant_id: str) -> bool:
    return conn.execute(
        sa.select(participants.c.pk).where(
            _scope(participants, account, region), participants.c.stage_id == stage_id,
            participants.c.participant_id == participant_id).limit(1)
    ).first() is not None


def connected_anywhere(conn: Connection, participant_id: str) -> list[dict]:
    """Connected, client-driven (not replica) participants with this id, in any account."""
    rows = conn.execute(
        sa.select(participants.c.account, participants.c.region, participants.c.stage_id,
                  participants.c.session_id)
        .where(participants.c.participant_id == participant_id,
               participants.c.state == "CONNECTED",
               participants.c.replication_type != "REPLICA")
    ).all()
    return [row._asdict() for row in rows]


def delete_stage_activity(conn: Connection, account: str, region: str, stage_id: str) -> None:
    """Forget a deleted stage's participants and events."""
    for table in (participants, events):
        conn.execute(table.delete().where(_scope(table, account, region), table.c.stage_id == stage_id))


# ------------------------------------------------------------------------- events

def add_event(conn: Connection, account: str, region: str, stage_id: str, session_id: str,
              participant_id: str, event: dict) -> None:
    conn.execute(events.insert().values(
        account=account, region=region, stage_id=stage_id, session_id=session_id,
        participant_id=participant_id, data=event,
    ))


def participant_events(conn: Connection, account: str, region: str, session_id: str,
                       participant_id: str, *, before: int | None, limit: int) -> list[tuple[int, dict]]:
    """A participant's events, newest first (keyset: pk below ``before``)."""
    query = sa.select(events.c.pk, events.c.data).where(
        _scope(events, account, region), events.c.session_id == session_id,
        events.c.participant_id == participant_id)
    if before is not None:
        query = query.where(events.c.pk < before)
    return [(row.pk, row.data) for row in conn.execute(query.order_by(events.c.pk.desc()).limit(limit))]


# ------------------------------------------------------------------------- signing keys

def signing_key(conn: Connection, account: str) -> tuple[str, str] | None:
    row = conn.execute(
        sa.select(signing_keys.c.key_id, signing_keys.c.private_key_pem)
        .where(signing_keys.c.account == account)
    ).first()
    return (row.key_id, row.private_key_pem) if row else None


def insert_signing_key_once(conn: Connection, account: str, key_id: str, pem: str, now: float) -> None:
    """Insert unless another request (or process sharing PostgreSQL) already did."""
    conn.execute(dialect_insert(conn, signing_keys).values(
        account=account, key_id=key_id, private_key_pem=pem, created_at=now,
    ).on_conflict_do_nothing())


def rows_of(pairs: Iterable[tuple[int, dict]]) -> list[dict]:
    return [data for _, data in pairs]
