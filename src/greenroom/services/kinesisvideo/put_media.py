"""PutMedia: ``POST /putMedia``, a live chunked MKV upload answered by a stream of acknowledgements.

PutMedia is in no botocore model (AWS ships it in the Java and producer SDKs only), so it is a
streaming route of the HTTP server (see ``core.routes``): the body is parsed as it arrives, one
fragment per Cluster, and each fragment is acknowledged as it progresses, on the same connection:

    {"EventType":"BUFFERING","FragmentTimecode":1700000000000,"FragmentNumber":"9134..."}
    {"EventType":"RECEIVED", ...}   stored
    {"EventType":"PERSISTED", ...}  stored durably (only when the stream has retention)
    {"EventType":"ERROR", ..., "ErrorId":4004}  and the connection ends
    {"EventType":"IDLE"}            while the connection is open and no data comes

Each acknowledgement is its own HTTP chunk (AWS's producer SDKs read one per chunk: see
``Session.acknowledgements``). With ``Expect: 100-continue`` (curl, so the C/C++ producer SDKs,
sends it) the client gets ``100 Continue`` once the headers are accepted, then the 200.

A fragment is a Cluster plus the Tags elements that follow it (the producer SDKs send one Tags
element per fragment metadata pair, then one with AWS_KINESISVIDEO_END_OF_FRAGMENT); its
metadata is all of their pairs, merged. It is complete, stored and acknowledged RECEIVED when
the next Cluster starts, when a Tags element carrying AWS_KINESISVIDEO_END_OF_FRAGMENT follows
it, or when the body ends.

Errors (ErrorId), after which greenroom ends the response; every fragment acknowledged before stays:
- 4000: the body ended inside an element, the client went away, or it sent nothing for
  ``kinesisvideo.putmedia.idle_timeout`` seconds in the middle of a fragment (a stalled upload);
- 4001: a fragment over 50 MB (detected as soon as its declared size passes the limit);
- 4002: a fragment longer than 10 s (cluster timecode to the end of its last frame);
- 4003: the connection lasted more than 45 minutes (of the emulator's clock, so tests reach it);
- 4004: a cluster timecode not greater than the previous one of the connection;
- 4006: bytes that are not Matroska (or a cluster before the segment's Info and Tracks);
- 4007: a producer timestamp that is not a time (negative, beyond year 9999, or RELATIVE
  timecodes without x-amzn-producer-start-timestamp);
- 4008: the stream is not ACTIVE (or UPDATING) when the first fragment starts, or is deleted or
  leaves those states while the connection is open (checked as each fragment is stored). A
  stream still CREATING becomes ACTIVE when its first fragment arrives (the SDKs' create-then-
  stream flow does not wait for ACTIVE; see ``Session._writable_stream``);
- 4009: fragment metadata over the limits (10 tags, names 128 bytes, values 256 bytes, no name
  starting with "AWS" other than the SDK's AWS_KINESISVIDEO_END_OF_FRAGMENT);
- 4010: a block for a track number the Tracks element does not declare;
- 4011: a declared track without frames in a fragment;
- 4012: more than 3 tracks;
- 5000: greenroom failed to store the fragment.
4500-4506 (KMS) and 5001 (archival) are never produced: greenroom has no KMS and no archive tier.

Header errors are HTTP errors before any acknowledgement, in the kinesisvideo error shape:
InvalidArgumentException (400) for missing or malformed headers, ResourceNotFoundException (404)
for an unknown stream.

Also [inferred]: a fragment's server timestamp is when its cluster started arriving (when it is
acknowledged BUFFERING); its size (FragmentSizeInBytes) is that of the stored Cluster element,
whose live "unknown" 8-byte size field becomes the real size in 8 bytes; with
x-amzn-fragment-acknowledgment-required: 0 only ERROR and IDLE are sent.

In process (``greenroom.mock()``), ``put_media_in_process(emulator, body, ...)`` ingests a whole
body and returns the acknowledgements.

Timing [inferred]: IDLE every ``kinesisvideo.putmedia.idle_interval`` seconds without data and the
connection closed after ``kinesisvideo.putmedia.idle_timeout`` (30 s) — both in real seconds, as
network liveness is; fragment timestamps and the 45-minute limit use the emulator's clock.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time

from ...core import public_url
from ...core.errors import ServiceError
from ...core.routes import http_route
from ...media.mkv import (ClusterEnded, ClusterStarted, HeaderRead, InfoRead, MkvError, MkvStreamParser,
                          TagsRead, TracksRead)
from ...media.producer import put_media_headers
from ...protocol import models, restjson
from ...protocol.http import HttpRequest, HttpResponse
from . import storage
from .common import STREAM, WRITABLE_STATUSES, errors, find_stream

log = logging.getLogger("greenroom.kinesisvideo")

MAX_FRAGMENT_BYTES = 50 * 1024 * 1024
MAX_FRAGMENT_DURATION_MS = 10_000
MAX_CONNECTION_SECONDS = 45 * 60
MAX_TRACKS = 3
MAX_FRAGMENT_TAGS = 10
MAX_TAG_NAME_BYTES = 128
MAX_TAG_VALUE_BYTES = 256
END_OF_FRAGMENT = "AWS_KINESISVIDEO_END_OF_FRAGMENT"
MAX_PRODUCER_MS = 253402300799999  # 9999-12-31T23:59:59.999Z

ERROR_READ, ERROR_SIZE, ERROR_DURATION, ERROR_CONNECTION_DURATION = 4000, 4001, 4002, 4003
ERROR_TIMECODE, ERROR_INVALID_MKV, ERROR_PRODUCER_TIMESTAMP, ERROR_NOT_ACTIVE = 4004, 4006, 4007, 4008
ERROR_METADATA, ERROR_TRACK_NUMBER, ERROR_NO_FRAMES, ERROR_TRACKS = 4009, 4010, 4011, 4012
ERROR_INTERNAL = 5000


class FragmentError(Exception):
    def __init__(self, error_id: int, message: str):
        super().__init__(message)
        self.error_id = error_id


def parse_start_timestamp(text: str) -> int:
    """x-amzn-producer-start-timestamp as epoch milliseconds. ``seconds.millis``; the C producer
    SDK writes the milliseconds without zero padding (``1700000000.5`` is 5 ms), so up to three
    fraction digits are read as a count of milliseconds; more are a decimal fraction."""
    seconds, _, fraction = text.strip().partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(text)
    if len(fraction) <= 3:
        return int(seconds) * 1000 + int(fraction or 0)
    return int(seconds) * 1000 + round(int(fraction) / 10 ** (len(fraction) - 3))


def _error_response(error: ServiceError) -> HttpResponse:
    status, headers, body = restjson.serialize_error(models.service_model("kinesisvideo"), error)
    headers["x-amz-ErrorType"] = error.code
    return HttpResponse(status, headers, body, "kinesisvideo PutMedia")


@http_route("POST", "/putMedia", streaming=True)
async def put_media(emulator, request, body):
    try:
        session = Session.open(emulator, request)
    except ServiceError as error:
        return _error_response(error)
    return HttpResponse(200, {"Content-Type": "application/json"}, session.acknowledgements(body),
                        "kinesisvideo PutMedia")


class Session:
    """One PutMedia connection."""

    def __init__(self, emulator, caller, stream: dict, timecode_type: str, start_ms: int | None,
                 acks_required: bool, started: float, base_url: str):
        self.emulator = emulator
        self.caller = caller
        self.stream_name = stream["StreamName"]
        self.media_key = stream["_media_key"]
        self.timecode_type = timecode_type
        self.start_ms = start_ms
        self.acks_required = acks_required
        self.started = started
        self.base_url = base_url
        self.store = storage.media_store(emulator.store.engine)
        # The producer's segment: EBML header, Info, Tracks.
        self.ebml_header = b""
        self.info = b""
        self.tracks_raw = b""
        self.track_numbers: set[int] = set()
        self.timecode_scale_ns = 1_000_000
        self.header_id: int | None = None
        self.previous_timecode_ms: int | None = None
        # The fragment being read (from its cluster's start) and the one read but not yet stored.
        self.current: dict | None = None
        self.pending: dict | None = None
        self.stream_checked = False   # before the first fragment is acknowledged BUFFERING
        self.failed = False           # an ERROR was acknowledged: the exchange is over

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, emulator, request) -> "Session":
        headers = request.headers
        name, arn = headers.get("x-amzn-stream-name"), headers.get("x-amzn-stream-arn")
        if bool(name) == bool(arn):
            raise errors.InvalidArgument("Specify either x-amzn-stream-name or x-amzn-stream-arn, not both.")
        timecode_type = headers.get("x-amzn-fragment-timecode-type", "").upper()
        if timecode_type not in ("ABSOLUTE", "RELATIVE"):
            raise errors.InvalidArgument("x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE.")
        start_ms = None
        if headers.get("x-amzn-producer-start-timestamp"):
            try:
                start_ms = parse_start_timestamp(headers["x-amzn-producer-start-timestamp"])
            except ValueError:
                raise errors.InvalidArgument("x-amzn-producer-start-timestamp must be seconds.milliseconds since the epoch.") from None
        required = headers.get("x-amzn-fragment-acknowledgment-required", "1").strip()
        if required not in ("0", "1"):
            raise errors.InvalidArgument("x-amzn-fragment-acknowledgment-required must be 1 or 0.")
        caller = emulator.identify(request)  # the verified key's account with --verify-signatures

        def find():
            with emulator.context("kinesisvideo", "PutMedia", caller.account, caller.region,
                                  public_url.base_url(request)) as ctx:
                return find_stream(ctx, name, arn), ctx.now
        stream, started = emulator.store.run(find)
        return cls(emulator, caller, stream, timecode_type, start_ms, required == "1", started,
                   public_url.base_url(request))

    # ------------------------------------------------------------------ acknowledgements
    def _ack(self, event_type: str, fragment: dict | None = None, error_id: int | None = None) -> bytes:
        ack: dict = {"EventType": event_type}
        if fragment is not None:
            ack["FragmentTimecode"] = fragment["timecode_ms"]
            if fragment.get("number"):
                ack["FragmentNumber"] = fragment["number"]
        if error_id is not None:
            ack["ErrorId"] = error_id
        return json.dumps(ack, separators=(",", ":")).encode() + b"\n"

    async def acknowledgements(self, body):
        """The response body: acknowledgements as the request body is read, each yielded (and so
        sent) as its own HTTP chunk. AWS's producer SDKs decided this: PIC's acknowledgement
        parser (AckParser.c) binds the upload handle to the first acknowledgement of each piece
        the HTTP client hands it and drops the others of that piece as belonging to an expired
        upload, and curl hands over one piece per chunk. Several acknowledgements in one chunk
        lose PERSISTED (the SDK then hangs at shutdown) and BUFFERING (it declares the connection
        stale and sends the fragments again)."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=8)
        reader = asyncio.create_task(_read_body(body, queue))
        ticker = asyncio.create_task(self._tick(queue))
        parser = MkvStreamParser()
        self._last_data = time.monotonic()
        self.store.put_media_started(self.media_key)
        try:
            while True:
                item = await queue.get()
                if item is _TICK:
                    if time.monotonic() - self._last_data >= self.emulator.delays["kinesisvideo.putmedia.idle_timeout"]:
                        for ack in self._stalled():
                            yield ack
                        return
                    yield self._ack("IDLE")
                    continue
                self._last_data = time.monotonic()
                for ack in self._process(parser, item):
                    yield ack
                if self.failed or item is _END or isinstance(item, BaseException):
                    return
        finally:
            self.store.put_media_ended(self.media_key)
            reader.cancel()
            ticker.cancel()

    def _stalled(self):
        """The client sent nothing for the idle timeout: the exchange ends. A fragment cut off
        mid-cluster gets ERROR 4000 (STREAM_READ_ERROR) [inferred: what the service reports
        when the data stream stops being readable; AWS's SDKs treat 4000 as retriable and send
        the fragment again on a new connection]; a whole fragment still waiting for its
        end-of-fragment tag is stored and acknowledged first."""
        try:
            if self.current is None:
                yield from self._complete_pending()
                return
            raise FragmentError(ERROR_READ, f"no data for {self.emulator.delays['kinesisvideo.putmedia.idle_timeout']} s "
                                            "in the middle of a fragment")
        except FragmentError as error:
            yield from self._failed(error)
        except Exception:
            log.exception("PutMedia %s failed", self.stream_name)
            yield from self._failed(FragmentError(ERROR_INTERNAL, "internal error"))

    def run(self, chunks) -> list[dict]:
        """Ingest a whole body at once (the in-process path); the acknowledgements as dicts."""
        parser = MkvStreamParser()
        acks = []
        self.store.put_media_started(self.media_key)
        try:
            for item in itertools.chain(chunks, [_END]):
                acks += [json.loads(ack) for ack in self._process(parser, item)]
                if self.failed:
                    break
        finally:
            self.store.put_media_ended(self.media_key)
        return acks

    def _process(self, parser: MkvStreamParser, item):
        """The acknowledgements for one piece of the body (_END when it is over, or the
        exception that ended it); an ERROR acknowledgement is the last one."""
        try:
            if isinstance(item, BaseException):
                raise FragmentError(ERROR_READ, f"reading the request failed: {item!r}")
            try:
                events = parser.end() if item is _END else parser.feed(item)
            except MkvError as error:
                # What came before the bad bytes is acknowledged first.
                for event in error.events:
                    yield from self._on_event(event)
                raise FragmentError(ERROR_READ if error.truncated else ERROR_INVALID_MKV, str(error)) from None
            for event in events:
                yield from self._on_event(event)
            if parser.cluster_bytes > MAX_FRAGMENT_BYTES and self.current is not None:
                raise FragmentError(ERROR_SIZE, "the fragment is larger than 50 MB")
            if item is _END:
                yield from self._complete_pending()
        except FragmentError as error:
            yield from self._failed(error)
        except Exception:
            log.exception("PutMedia %s failed", self.stream_name)
            yield from self._failed(FragmentError(ERROR_INTERNAL, "internal error"))

    def _failed(self, error: FragmentError):
        log.info("PutMedia %s: error %d: %s", self.stream_name, error.error_id, error)
        # Fragments acknowledged before the error stay stored; the one it is about is lost.
        self.failed = True
        yield self._ack("ERROR", self.current or self.pending, error.error_id)

    async def _tick(self, queue: asyncio.Queue) -> None:
        while True:
            await asyncio.sleep(self.emulator.delays["kinesisvideo.putmedia.idle_interval"])
            if time.monotonic() - self._last_data >= self.emulator.delays["kinesisvideo.putmedia.idle_interval"]:
                await queue.put(_TICK)

    # ------------------------------------------------------------------ events
    def _on_event(self, event):
        if isinstance(event, HeaderRead):
            yield from self._complete_pending()
            self.ebml_header, self.info, self.tracks_raw = event.raw, b"", b""
            self.track_numbers, self.header_id = set(), None
        elif isinstance(event, InfoRead):
            self.info, self.timecode_scale_ns, self.header_id = event.raw, event.timecode_scale_ns, None
        elif isinstance(event, TracksRead):
            if len(event.tracks) > MAX_TRACKS:
                raise FragmentError(ERROR_TRACKS, f"{len(event.tracks)} tracks; at most {MAX_TRACKS} are allowed")
            self.tracks_raw, self.header_id = event.raw, None
            self.track_numbers = {track.number for track in event.tracks}
        elif isinstance(event, ClusterStarted):
            yield from self._complete_pending()
            yield from self._start_fragment(event.timecode)
        elif isinstance(event, ClusterEnded):
            self._end_fragment(event)
        elif isinstance(event, TagsRead):
            if self.pending is not None:
                # The producer SDKs send one Tags element per metadata pair, then one holding
                # AWS_KINESISVIDEO_END_OF_FRAGMENT: the fragment's metadata is all of them.
                merged = _merge_tags(self.pending["tags"], event.pairs)
                self._check_metadata(merged)
                self.pending["tags"] = merged
                if any(name == END_OF_FRAGMENT for name, _ in event.pairs):
                    yield from self._complete_pending()

    def _ticks_to_ms(self, ticks: float) -> int:
        return round(ticks * self.timecode_scale_ns / 1_000_000)

    def _start_fragment(self, timecode_ticks: int):
        timecode_ms = self._ticks_to_ms(timecode_ticks)
        fragment = {"timecode_ms": timecode_ms}
        self.current = fragment
        if not self.info or not self.tracks_raw:
            raise FragmentError(ERROR_INVALID_MKV, "a Cluster came before the segment's Info and Tracks")
        if self.previous_timecode_ms is not None and timecode_ms <= self.previous_timecode_ms:
            raise FragmentError(ERROR_TIMECODE, f"cluster timecode {timecode_ms} ms does not follow "
                                                f"{self.previous_timecode_ms} ms")
        self.previous_timecode_ms = timecode_ms
        if self.timecode_type == "RELATIVE":
            if self.start_ms is None:
                raise FragmentError(ERROR_PRODUCER_TIMESTAMP,
                                    "RELATIVE timecodes need x-amzn-producer-start-timestamp")
            producer_ms = self.start_ms + timecode_ms
        else:
            producer_ms = timecode_ms
        if not 0 <= producer_ms <= MAX_PRODUCER_MS:
            raise FragmentError(ERROR_PRODUCER_TIMESTAMP, f"producer timestamp {producer_ms} ms is not a time")
        fragment["producer_ms"] = producer_ms
        # No transaction here: the stream is checked when the fragment is stored (a deleted or
        # inactive stream fails it with 4008 then); numbers come from the store's cache.
        now = self.emulator.clock.now()
        if now - self.started > MAX_CONNECTION_SECONDS:
            raise FragmentError(ERROR_CONNECTION_DURATION, "the connection lasted more than 45 minutes")
        if not self.stream_checked:
            def check():
                with self.emulator.context("kinesisvideo", "PutMedia", self.caller.account, self.caller.region,
                                           self.base_url) as ctx:
                    self._writable_stream(ctx)
            self.emulator.store.run(check)
            self.stream_checked = True
        fragment["seq"], fragment["server_ms"] = self.store.allocate(self.emulator.store.engine, self.media_key,
                                                                     int(now * 1000))
        fragment["number"] = storage.fragment_number(fragment["server_ms"], fragment["seq"])
        if self.acks_required:
            yield self._ack("BUFFERING", fragment)

    def _writable_stream(self, ctx) -> dict:
        stream = ctx.resources.get(STREAM, self.stream_name)
        if stream is not None and stream.get("_media_key") == self.media_key and stream["Status"] == "CREATING":
            # Media for a stream still being created completes its creation. AWS's producer SDKs
            # decided this: PIC's state machine goes from a successful CreateStream straight to
            # GetDataEndpoint and PutMedia (it waits for ACTIVE only when DescribeStream finds
            # an existing stream CREATING), so the service takes media on a stream it has just
            # created [inferred: how the service does it is not documented].
            stream["Status"] = "ACTIVE"
            ctx.resources.update(STREAM, self.stream_name, stream)
        if stream is None or stream.get("_media_key") != self.media_key or stream["Status"] not in WRITABLE_STATUSES:
            status = "deleted" if stream is None or stream.get("_media_key") != self.media_key else stream["Status"]
            raise FragmentError(ERROR_NOT_ACTIVE, f"the stream {self.stream_name} is {status}")
        return stream

    def _end_fragment(self, cluster: ClusterEnded) -> None:
        fragment = self.current
        undeclared = set(cluster.blocks) - self.track_numbers
        if undeclared:
            raise FragmentError(ERROR_TRACK_NUMBER, f"blocks for undeclared track(s) {sorted(undeclared)}")
        silent = self.track_numbers - {number for number, blocks in cluster.blocks.items() if blocks.frames}
        if silent:
            raise FragmentError(ERROR_NO_FRAMES, f"track(s) {sorted(silent)} have no frames in the fragment")
        duration_ms = self._ticks_to_ms(cluster.duration_ticks())
        if duration_ms > MAX_FRAGMENT_DURATION_MS:
            raise FragmentError(ERROR_DURATION, f"the fragment lasts {duration_ms} ms; at most "
                                                f"{MAX_FRAGMENT_DURATION_MS} ms are allowed")
        if cluster.size > MAX_FRAGMENT_BYTES:
            raise FragmentError(ERROR_SIZE, "the fragment is larger than 50 MB")
        fragment["duration_ms"] = duration_ms
        fragment["data"] = cluster.parts
        fragment["tags"] = []
        self.current, self.pending = None, fragment

    def _check_metadata(self, pairs) -> None:
        user = list(pairs)
        if len(user) > MAX_FRAGMENT_TAGS:
            raise FragmentError(ERROR_METADATA, f"{len(user)} fragment metadata tags; at most {MAX_FRAGMENT_TAGS}")
        for name, value in user:
            if len(name.encode()) > MAX_TAG_NAME_BYTES or len(value.encode()) > MAX_TAG_VALUE_BYTES:
                raise FragmentError(ERROR_METADATA, f"fragment metadata {name[:40]!r} is too long")
            if name.startswith("AWS"):
                raise FragmentError(ERROR_METADATA, f"fragment metadata names may not start with AWS ({name[:40]!r})")

    def _complete_pending(self):
        fragment = self.pending
        if fragment is None:
            return
        def store():
            with self.emulator.context("kinesisvideo", "PutMedia", self.caller.account, self.caller.region,
                                       self.base_url) as ctx:
                stream = self._writable_stream(ctx)
                header = self.header_id
                if header is None:
                    header = storage.header_id(ctx.conn, self.media_key, self.ebml_header,
                                               self.info + self.tracks_raw)
                stored = storage.store_fragment(
                    ctx.conn, stream, seq=fragment["seq"], server_ms=fragment["server_ms"],
                    producer_ms=fragment["producer_ms"], duration_ms=fragment["duration_ms"],
                    header=header, data=fragment["data"], tags=fragment["tags"])
                if self.store.should_purge(self.media_key, ctx.now):
                    storage.expire(ctx.conn, stream, ctx.now)
                storage.schedule_expiry(ctx, stream, stored.server_ms)
            self.header_id = header  # committed
            return stored

        # Run again if the store refused it for a concurrent transaction (another producer).
        stored = self.emulator.store.run(store)
        self.pending = None  # (an error while storing names it)
        self.store.notify(self.media_key)
        if self.acks_required:
            yield self._ack("RECEIVED", fragment)
            if stored.persisted:
                yield self._ack("PERSISTED", fragment)


_END = object()
_TICK = object()


def _merge_tags(tags: list, pairs) -> list:
    """A fragment's metadata after one more Tags element: pairs are added in order; a name sent
    again takes its new value where it stood [inferred: one value per name and fragment]."""
    merged = [list(pair) for pair in tags]
    for name, value in pairs:
        if name == END_OF_FRAGMENT:
            continue
        for pair in merged:
            if pair[0] == name:
                pair[1] = value
                break
        else:
            merged.append([name, value])
    return merged


async def _read_body(body, queue: asyncio.Queue) -> None:
    """Move the request body into the queue (its bound is the backpressure: the body is never
    held whole); then _END, or the exception that ended the reading."""
    try:
        async for chunk in body:
            await queue.put(chunk)
        await queue.put(_END)
    except Exception as error:  # ClientDisconnected, above all (CancelledError is not one)
        await queue.put(error)


def put_media_in_process(emulator, body, *, stream_name: str | None = None, stream_arn: str | None = None,
                         timecode_type: str = "ABSOLUTE", producer_start_ms: int | None = None,
                         ack_required: bool = True, account: str | None = None,
                         region: str = "us-east-1") -> list[dict]:
    """PutMedia without HTTP, for the in-process emulator (``greenroom.mock()``): ingest ``body``
    (bytes or an iterable of bytes) into a stream and return the acknowledgements. Header
    problems raise the ServiceError PutMedia would answer with."""
    headers = {**put_media_headers(stream_name, stream_arn, timecode_type, producer_start_ms, ack_required),
               "authorization": f"AWS4-HMAC-SHA256 Credential={account or emulator.default_account}"
                                f"/20240101/{region}/kinesisvideo/aws4_request"}
    request = HttpRequest("POST", "/putMedia", headers=headers, host="greenroom.local")
    session = Session.open(emulator, request)
    return session.run([body] if isinstance(body, (bytes, bytearray)) else body)
