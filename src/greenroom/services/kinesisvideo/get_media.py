"""GetMedia (``kinesis-video-media``) and GetMediaForFragmentList (``kinesis-video-archived-media``):
fragments as a sequence of complete MKV documents, one per fragment:

    EBML header, Segment (unknown size):
        the producer's Info and Tracks,
        Tags: AWS_KINESISVIDEO_FRAGMENT_NUMBER, AWS_KINESISVIDEO_SERVER_TIMESTAMP,
              AWS_KINESISVIDEO_PRODUCER_TIMESTAMP (decimal seconds), then the producer's
              fragment metadata,
        the fragment's Cluster (known size, the bytes the producer sent),
        Tags: AWS_KINESISVIDEO_MILLIS_BEHIND_NOW, AWS_KINESISVIDEO_CONTINUATION_TOKEN

Errors after the response started are in band: a document whose Tags hold
AWS_KINESISVIDEO_ERROR_CODE and AWS_KINESISVIDEO_ERROR_ID (4000: requested fragment not found).

The payload is produced lazily. Over HTTP it is an async iterator: a GetMedia tail that has sent
everything waits for new fragments. AWS documents that the status comes at once and "reading of
the HTTP response payload will timeout after 3 seconds if there are no ingested fragments
available": with no producer connected, the tail ends after ``kinesisvideo.getmedia.no_data_timeout``
(3) real seconds without a fragment and without a producer, so GetMedia NOW waits for data and a
tail survives a producer reconnecting (AWS's SDKs reconnect after an error or a stale connection).
While a PutMedia connection to the stream is open it waits up to ``kinesisvideo.getmedia.idle_timeout``
(20) real seconds without a fragment [inferred: greenroom stores whole fragments only, so a
connected producer's next fragment may be seconds away]. Waiting is ``wait_for_fragment``. On a
store shared by several servers a tail follows producers connected to any of them.
In process (the mock) the payload is a plain iterator that ends once caught up.
A continuation token is the number of the fragment it follows.
"""
from __future__ import annotations

import asyncio
import weakref

import sqlalchemy as sa

from ...core.context import RequestContext
from ...core.operations import operation
from ...core.store import Resources
from ...media import ebml
from ...media.mkv import segment_document
from . import storage
from .common import STREAM, errors, find_stream
from .fragments import epoch_ms

CONTENT_TYPE = "video/webm"
MAX_GET_MEDIA_CONNECTIONS = 3   # per stream
BATCH = 8                        # fragments read per transaction
ERROR_NOT_FOUND = 4000
ERROR_DESCRIPTIONS = {ERROR_NOT_FOUND: "Requested fragment is not found"}


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def error_document(error_id: int, fragment_number: str | None = None) -> bytes:
    pairs = [("AWS_KINESISVIDEO_ERROR_CODE", ERROR_DESCRIPTIONS.get(error_id, "Internal error")),
             ("AWS_KINESISVIDEO_ERROR_ID", str(error_id))]
    if fragment_number:
        pairs.append(("AWS_KINESISVIDEO_FRAGMENT_NUMBER", fragment_number))
    return segment_document(ebml.ebml_header(), b"", ebml.tags(pairs))


class Payload:
    """The fragments of one response, read in their own short transactions as they are sent."""

    def __init__(self, ctx: RequestContext, stream: dict):
        self.emulator = ctx.emulator
        self.account, self.region = ctx.account, ctx.region
        self.stream_name = stream["StreamName"]
        self.media_key = stream["_media_key"]
        self.store = storage.media_store(ctx.conn)
        self._headers: dict[int, tuple[bytes, bytes]] = {}

    def _document(self, conn, stream: dict, fragment: storage.Fragment, now: float) -> bytes | None:
        data = storage.fragment_bytes(conn, stream, fragment)
        if data is None:
            return None
        if fragment.header not in self._headers:
            self._headers[fragment.header] = storage.read_header(conn, fragment.header)
        ebml_header, segment_head = self._headers[fragment.header]
        number = fragment.number
        before = [("AWS_KINESISVIDEO_FRAGMENT_NUMBER", number),
                  ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", _seconds(fragment.server_ms)),
                  ("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", _seconds(fragment.producer_ms))]
        before += [(name, value) for name, value in fragment.tags or []]
        after = [("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", str(max(0, int(now * 1000) - fragment.server_ms))),
                 ("AWS_KINESISVIDEO_CONTINUATION_TOKEN", number)]
        return segment_document(ebml_header, segment_head, ebml.tags(before), data, ebml.tags(after))

    def _current_stream(self, conn) -> dict | None:
        stream = Resources(conn, self.account, self.region).get(STREAM, self.stream_name)
        return stream if stream is not None and stream.get("_media_key") == self.media_key else None


class MediaTail(Payload):
    """GetMedia: the stream's readable fragments after ``after_seq``, in fragment-number order,
    then (over HTTP) the new ones as they arrive."""

    def __init__(self, ctx: RequestContext, stream: dict, after_seq: int, error: bytes | None = None):
        super().__init__(ctx, stream)
        self.after_seq = after_seq
        self.error = error
        self._closed = False
        # The connection counts until the payload is read to its end, closed, or dropped unread.
        self._release = weakref.finalize(self, self.store.close_get_media, self.media_key)

    def close(self) -> None:
        self._release()

    def _batch(self) -> list[bytes] | None:
        """The next documents; None when the stream is gone."""
        now = self.emulator.clock.now()
        with self.emulator.store.transaction() as conn:
            stream = self._current_stream(conn)
            if stream is None:
                return None
            condition = sa.and_(storage.readable(stream, now), storage.fragments.c.seq > self.after_seq)
            documents = []
            for fragment in storage.fetch(conn, storage.select_fragments(
                    condition, storage.fragments.c.seq, limit=BATCH)):
                document = self._document(conn, stream, fragment, now)
                self.after_seq = fragment.seq
                if document is not None:  # bytes of a fragment being expired right now: skip it
                    documents.append(document)
            return documents

    def __iter__(self):
        try:
            if self.error is not None:
                yield self.error
                return
            while True:
                documents = self._batch()
                if not documents:
                    return
                yield from documents
        finally:
            self.close()

    async def __aiter__(self):
        try:
            if self.error is not None:
                yield self.error
                return
            clock = asyncio.get_running_loop().time
            idle_since = producer_seen = clock()
            while True:
                last = self.after_seq
                seen = self.store.version(self.media_key)  # before reading: nothing is missed
                documents = self._batch()
                if documents is None:
                    return
                for document in documents:
                    yield document
                if documents or self.after_seq != last:
                    idle_since = clock()
                    await asyncio.sleep(0)
                    continue
                # Caught up: wait for the next fragment, longer while a producer is connected.
                now = clock()
                if self.store.has_producer(self.media_key):
                    producer_seen = now
                    left = self.emulator.delays["kinesisvideo.getmedia.idle_timeout"] - (now - idle_since)
                else:
                    left = (self.emulator.delays["kinesisvideo.getmedia.no_data_timeout"]
                            - (now - max(idle_since, producer_seen)))
                if left <= 0:
                    return
                await wait_for_fragment(self.store, self.media_key, left, since=seen)
        finally:
            self.close()


LOOK_AGAIN_SECONDS = 1.0  # a producer whose process died leaves without a notification


async def wait_for_fragment(store: storage.MediaStore, stream_key: int, timeout: float,
                            since: int | None = None) -> None:
    """The one place a live tail waits: until a fragment may have been stored on the stream, a
    producer left, or ``timeout`` seconds passed. A fragment stored by any process sharing the
    store wakes it when its transaction commits (``core.notify``: LISTEN/NOTIFY on PostgreSQL);
    ``since`` (``store.version`` taken before the last read) ends the wait at once if one landed
    in between. It looks again at least every LOOK_AGAIN_SECONDS (a producer connecting, or one
    whose process died, is not notified)."""
    await store.wait(stream_key, min(LOOK_AGAIN_SECONDS, timeout), since)


class FragmentList(Payload):
    """GetMediaForFragmentList: the listed archived fragments, in the order given; an unknown
    one ends the payload with an in-band error [inferred: the fragments before it are sent]."""

    def __init__(self, ctx: RequestContext, stream: dict, numbers: list[str]):
        super().__init__(ctx, stream)
        self.numbers = numbers

    def _document_for(self, number: str) -> bytes | None:
        parsed = storage.parse_fragment_number(number)
        if parsed is None:
            return None
        server_ms, seq = parsed
        now = self.emulator.clock.now()
        with self.emulator.store.transaction() as conn:
            stream = self._current_stream(conn)
            if stream is None:
                return None
            condition = sa.and_(storage.archived(stream, now), storage.fragments.c.seq == seq,
                                storage.fragments.c.server_ms == server_ms)
            found = storage.fetch(conn, storage.select_fragments(condition, storage.fragments.c.seq))
            return self._document(conn, stream, found[0], now) if found else None

    def __iter__(self):
        for number in self.numbers:
            document = self._document_for(number)
            if document is None:
                yield error_document(ERROR_NOT_FOUND, number)
                return
            yield document

    async def __aiter__(self):
        for document in self.__iter__():
            yield document
            await asyncio.sleep(0)  # other requests go on between fragments


# ---------------------------------------------------------------------------- GetMedia

def _start_after(ctx: RequestContext, stream: dict, selector: dict) -> tuple[int, bytes | None]:
    """The sequence number GetMedia starts after, or an in-band error document."""
    kind = selector["StartSelectorType"]
    fragments = storage.fragments
    readable = storage.readable(stream, ctx.now)

    def last_seq() -> int:
        return ctx.conn.execute(sa.select(sa.func.max(fragments.c.seq))
                                .where(fragments.c.stream == stream["_media_key"])).scalar() or 0

    if kind == "EARLIEST":
        return 0, None
    if kind == "NOW":
        return last_seq(), None
    if kind in ("FRAGMENT_NUMBER", "CONTINUATION_TOKEN"):
        member = "AfterFragmentNumber" if kind == "FRAGMENT_NUMBER" else "ContinuationToken"
        number = selector.get(member)
        if not number:
            raise errors.InvalidArgument(f"StartSelectorType {kind} needs {member}.")
        parsed = storage.parse_fragment_number(number)
        if parsed is None:
            return 0, error_document(ERROR_NOT_FOUND, number)
        server_ms, seq = parsed
        exists = ctx.conn.execute(sa.select(fragments.c.seq).where(
            readable, fragments.c.seq == seq, fragments.c.server_ms == server_ms)).first()
        if exists is None:
            oldest = ctx.conn.execute(sa.select(sa.func.min(fragments.c.seq)).where(readable)).scalar()
            # A fragment that expired since: go on from the oldest one still there.
            if oldest is None or seq >= oldest:
                return 0, error_document(ERROR_NOT_FOUND, number)
        return seq, None
    # SERVER_TIMESTAMP / PRODUCER_TIMESTAMP: the fragment containing the time, else the next one;
    # of fragments with the same timestamp (one upload's, on a frozen clock) the first.
    if selector.get("StartTimestamp") is None:
        raise errors.InvalidArgument(f"StartSelectorType {kind} needs StartTimestamp.")
    at = epoch_ms(selector["StartTimestamp"])
    column = fragments.c.producer_ms if kind == "PRODUCER_TIMESTAMP" else fragments.c.server_ms
    containing = ctx.conn.execute(
        sa.select(fragments.c.seq, column.label("ts"), fragments.c.duration_ms)
        .where(readable, column <= at).order_by(column.desc(), fragments.c.seq).limit(1)).first()
    if containing is not None and containing.ts + containing.duration_ms > at:
        return containing.seq - 1, None
    following = ctx.conn.execute(
        sa.select(fragments.c.seq).where(readable, column > at).order_by(column, fragments.c.seq).limit(1)).first()
    if following is not None:
        return following.seq - 1, None
    return last_seq(), None


@operation("kinesis-video-media", "GetMedia")
def get_media(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    after_seq, error = _start_after(ctx, stream, req["StartSelector"])
    store = storage.media_store(ctx.conn)
    if not store.open_get_media(stream["_media_key"], MAX_GET_MEDIA_CONNECTIONS):
        raise errors.ConnectionLimitExceeded(f"The stream {stream['StreamName']} already has {MAX_GET_MEDIA_CONNECTIONS} "
                                             "GetMedia connections.")
    return {"ContentType": CONTENT_TYPE, "Payload": MediaTail(ctx, stream, after_seq, error)}


@operation("kinesis-video-archived-media", "GetMediaForFragmentList")
def get_media_for_fragment_list(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    return {"ContentType": CONTENT_TYPE, "Payload": FragmentList(ctx, stream, list(req["Fragments"]))}
