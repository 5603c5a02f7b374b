"""GetImages (``kinesis-video-archived-media``): still images of a stream's archived video, one per
SamplingInterval from StartTimestamp to EndTimestamp (inclusive), as JPEG or PNG.

- The sample instants are StartTimestamp + k * SamplingInterval while <= EndTimestamp; a range
  shorter than the interval gives the one image at StartTimestamp. SamplingInterval >= 200 ms;
  a range over 300 s, or one that ends before it starts, is an InvalidArgumentException.
- The image of an instant is the frame shown at that instant: the fragment whose timestamp is the
  latest at or before it is decoded (from its keyframe, fragments start with one) forward to the
  last frame whose time is <= the instant. [inferred] An instant after the end of that fragment's
  last frame (a gap in the stream), or before the first fragment, is NO_MEDIA; a fragment that
  cannot be decoded is MEDIA_ERROR.
- WidthPixels/HeightPixels scale the image; with one of them the other keeps the aspect ratio;
  with neither the image has the source size. FormatConfig JPEGQuality 1-100 (default 80) applies
  to JPEG. Pagination (MaxResults, default 25 [inferred]) walks the instants through ``ctx.page``;
  the token is bound to every other parameter.
"""
from __future__ import annotations

import base64
import bisect


from ...core.context import RequestContext
from ...core.operations import operation
from ...media import remux
from . import storage
from .clips import fragment_time, require_retention, time_column
from .common import errors, find_stream
from .fragments import epoch_ms

SERVICE = "kinesis-video-archived-media"
MIN_SAMPLING_INTERVAL_MS = 200
MAX_RANGE_MS = 300_000
DEFAULT_MAX_RESULTS = 25
DEFAULT_JPEG_QUALITY = 80


def _jpeg_quality(format_config: dict | None) -> int:
    text = (format_config or {}).get("JPEGQuality")
    if text is None:
        return DEFAULT_JPEG_QUALITY
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise errors.InvalidArgument(f"JPEGQuality must be an integer from 1 to 100, not {text!r}.")
    return int(text)


class FrameFinder:
    """The frames of a stream's fragments around sample instants, decoding each fragment once."""

    def __init__(self, ctx: RequestContext, stream: dict, selector_type: str):
        self.ctx, self.stream, self.selector_type = ctx, stream, selector_type
        self._decoded: dict[int, list[remux.DecodedFrame] | None] = {}

    def fragment_at(self, instant_ms: int) -> storage.Fragment | None:
        column = time_column(self.selector_type)
        condition = storage.archived(self.stream, self.ctx.now, column, end_ms=instant_ms)
        found = storage.fetch(self.ctx.conn, storage.select_fragments(
            condition, column.desc(), storage.fragments.c.seq.desc(), limit=1))
        return found[0] if found else None

    def frames(self, fragment: storage.Fragment) -> list[remux.DecodedFrame] | None:
        if fragment.seq not in self._decoded:
            data = storage.fragment_bytes(self.ctx.conn, self.stream, fragment)
            frames = None
            if data is not None:
                ebml_header, segment_head = storage.read_header(self.ctx.conn, fragment.header)
                try:
                    frames = remux.video_frames(remux.matroska(ebml_header, segment_head, [bytes(data)]))
                except remux.RemuxError:
                    frames = None
            self._decoded[fragment.seq] = frames
        return self._decoded[fragment.seq]

    def image(self, instant_ms: int, encode) -> dict:
        fragment = self.fragment_at(instant_ms)
        if fragment is None:
            return {"Error": "NO_MEDIA"}
        frames = self.frames(fragment)
        if frames is None:
            return {"Error": "MEDIA_ERROR"}
        offset = instant_ms - fragment_time(fragment, self.selector_type)
        if not frames or offset > max(fragment.duration_ms, frames[-1].offset_ms):
            return {"Error": "NO_MEDIA"}
        index = bisect.bisect_right([frame.offset_ms for frame in frames], offset) - 1
        try:
            return {"ImageContent": base64.b64encode(encode(frames[max(index, 0)].frame)).decode("ascii")}
        except remux.RemuxError:
            return {"Error": "MEDIA_ERROR"}


@operation(SERVICE, "GetImages")
def get_images(ctx: RequestContext, req: dict) -> dict:
    stream = find_stream(ctx, req.get("StreamName"), req.get("StreamARN"))
    start_ms, end_ms = epoch_ms(req["StartTimestamp"]), epoch_ms(req["EndTimestamp"])
    if end_ms < start_ms:
        raise errors.InvalidArgument("EndTimestamp must not be before StartTimestamp.")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise errors.InvalidArgument("The time range between StartTimestamp and EndTimestamp must not exceed 300 seconds.")
    interval = req.get("SamplingInterval")
    if interval is None:
        raise errors.InvalidArgument("SamplingInterval is required.")
    if interval < MIN_SAMPLING_INTERVAL_MS:
        raise errors.InvalidArgument(f"SamplingInterval must be at least {MIN_SAMPLING_INTERVAL_MS} milliseconds.")
    image_format = req["Format"]
    quality = _jpeg_quality(req.get("FormatConfig"))
    width, height = req.get("WidthPixels"), req.get("HeightPixels")
    require_retention(stream, "GetImages")
    instants = [start_ms + k * interval for k in range((end_ms - start_ms) // interval + 1)]
    finder = FrameFinder(ctx, stream, req["ImageSelectorType"])

    def encode(frame) -> bytes:
        return remux.encode_image(frame, image_format, width=width, height=height, jpeg_quality=quality)

    def fetch(after, limit):
        first = 0 if after is None else after + 1
        return [(index, {"TimeStamp": instants[index] / 1000, **finder.image(instants[index], encode)})
                for index in range(first, min(first + limit, len(instants)))]

    filters = {"stream": stream["_media_key"], "type": req["ImageSelectorType"], "start": start_ms, "end": end_ms,
               "interval": interval, "format": image_format, "quality": quality, "width": width, "height": height}
    page = ctx.page(filters=filters, token=req.get("NextToken"),
                    page_size=req.get("MaxResults", DEFAULT_MAX_RESULTS), fetch=fetch)
    return {"Images": page.items, "NextToken": page.next_token}
