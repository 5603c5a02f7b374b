"""ListFragments (``kinesis-video-archived-media``): the archived fragments of a stream whose
producer or server timestamp lies in a range.

[inferred] A fragment is in the range when its timestamp (its start) is >= StartTimestamp and
<= EndTimestamp, as for the HLS/DASH/GetClip ranges. Only persisted fragments are archived: a
stream without retention lists none. AWS promises no order; greenroom answers in timestamp order
(then fragment number), and its NextToken carries the selector, so a request with only a
NextToken continues the same listing.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ...core import store
from ...core.context import RequestContext
from ...core.operations import operation
from ...protocol import models, restjson
from . import storage
from .common import errors, find_stream

SERVICE = "kinesis-video-archived-media"
DEFAULT_MAX_RESULTS = 100


def epoch_ms(value) -> int:
    if isinstance(value, dt.datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
    return round(float(value) * 1000)


# A page holds up to a thousand fragments: they are written as rows of these members (timestamps
# in epoch milliseconds) by restjson's compiled fast path, not as a mapping each.
FRAGMENT_MEMBERS = ("FragmentNumber", "FragmentSizeInBytes", "ProducerTimestamp", "ServerTimestamp",
                    "FragmentLengthInMilliseconds")
_fragments_json = restjson.items_to_json(
    models.operation_model(SERVICE, "ListFragments").output_shape.members["Fragments"], FRAGMENT_MEMBERS)


def fragment_rows(rows) -> list[tuple]:
    """The FRAGMENT_MEMBERS of rows with storage.LISTED_COLUMNS."""
    return [(storage.fragment_number(server_ms, seq), size, producer_ms, server_ms, duration_ms)
            for seq, server_ms, producer_ms, duration_ms, size in rows]


def _listing(producer: bool, continued: bool):
    """A page's statement, built once per selector type (producer or server timestamps) and first or continued page, with bind
    parameters: stream, lower (the page's lower bound on the column; on server_ms also the
    retention bound: storage.archived_from), persisted_from (producer_ms only),
    end, limit; a continued page: after_ms, after_seq (the position the page starts after)."""
    fragments = storage.fragments
    column = fragments.c.producer_ms if producer else fragments.c.server_ms
    conditions = [fragments.c.stream == sa.bindparam("stream"), fragments.c.persisted.is_(True),
                  column >= sa.bindparam("lower"), column <= sa.bindparam("end")]
    if producer:
        conditions.insert(2, fragments.c.server_ms >= sa.bindparam("persisted_from"))
    if continued:
        conditions.append(sa.tuple_(column, fragments.c.seq) > sa.tuple_(sa.bindparam("after_ms"),
                                                                        sa.bindparam("after_seq")))
    return (sa.select(*storage.LISTED_COLUMNS).where(*conditions).order_by(column, fragments.c.seq)
            .limit(sa.bindparam("limit")))


_LISTINGS = {(producer, continued): _listing(producer, continued)
             for producer in (True, False) for continued in (False, True)}


def _selector(selector: dict) -> list:
    """[type, start_ms, end_ms] of a FragmentSelector, checked."""
    time_range = selector["TimestampRange"]
    start, end = epoch_ms(time_range["StartTimestamp"]), epoch_ms(time_range["EndTimestamp"])
    if start > end:
        raise errors.InvalidArgument("StartTimestamp must not be after EndTimestamp.")
    return [selector["FragmentSelectorType"], start, end]


@operation(SERVICE, "ListFragments")
def list_fragments(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    requested = _selector(req["FragmentSelector"]) if req.get("FragmentSelector") else None
    if requested is None and not req.get("NextToken"):
        raise errors.InvalidArgument("FragmentSelector is required unless NextToken is given.")

    selector = requested   # the page's: the request's, or its NextToken's

    def fetch(after, limit):
        # The position is [type, start_ms, end_ms, timestamp, seq]: the token keeps the selector.
        nonlocal selector
        if after is not None:
            if requested is not None and requested != after[:3]:
                raise errors.InvalidArgument("The NextToken belongs to a different FragmentSelector.")
            selector = after[:3]
        kind, start, end = selector
        # One lower bound on the column (the later of start and the page's position): the index
        # range opens there instead of at the selector's start.
        lower = start if after is None else max(start, after[3])
        params = {"stream": stream["_media_key"], "end": end, "limit": limit}
        producer = kind == "PRODUCER_TIMESTAMP"
        server_from, producer_from = storage.archived_from(stream, ctx.now, not producer, lower)
        if producer:
            params.update(lower=producer_from, persisted_from=server_from)
        else:
            params["lower"] = server_from
        if after is not None:
            params.update(after_ms=after[3], after_seq=after[4])
        return store.read(ctx.conn, _LISTINGS[producer, after is not None], params).fetchall()

    def key(row) -> list:
        # row: LISTED_COLUMNS (seq, server_ms, producer_ms, ...)
        return [*selector, row[2] if selector[0] == "PRODUCER_TIMESTAMP" else row[1], row[0]]

    page = ctx.page(filters={"stream": stream["_media_key"]}, token=req.get("NextToken"),
                    page_size=req.get("MaxResults", DEFAULT_MAX_RESULTS), fetch=fetch, key=key)
    return {"Fragments": _fragments_json(fragment_rows(page.items)), "NextToken": page.next_token}
