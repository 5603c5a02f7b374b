"""Deterministic example values for botocore shapes, for the protocol round-trip tests.

``ShapeValues().value(shape)`` fills every member of a structure (``required_only=True``: just
the required ones) with a value that satisfies the shape's constraints: lengths, ranges, enums
and patterns. Every value is derived from its path in the document, so two members never share
a value by accident (a parser that swaps them shows up). Strings are checked with greenroom's
own ``validate``; a pattern none of the candidates satisfies fails loudly, naming the pattern:
add an example for it to ``PATTERN_EXAMPLES``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import string

from botocore.model import Shape

from greenroom.protocol.validation import validate

# Java patterns that the generic candidates below cannot satisfy (ARN patterns spelled
# "arn:aws:<service>:[a-z0-9-]+:[0-9]+:<type>/..." need none: the ARN is made from the pattern).
# Placeholders: {t} lower-case letters and digits starting with a letter, {T} the same
# upper-case, {a} letters only, {d} digits only; each is stretched or shrunk to meet the
# shape's length limits.
PATTERN_EXAMPLES = {
    # ivs-realtime
    "[a-zA-Z0-9-_.,:;\\s]*": ["{t} a,b:c;d.e_f-g"],
    ".*-----BEGIN PUBLIC KEY-----\\r?\\n([a-zA-Z0-9+/=\\r\\n]+)\\r?\\n-----END PUBLIC KEY-----(\\r?\\n)?.*":
        ["-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQ/{t}+==\n-----END PUBLIC KEY-----\n"],
    # The model's own pattern allows one resource-type character; validation corrects it.
    "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+": ["arn:aws:ivs:us-west-2:123456789012:stage/{t}"],
    "st-[a-zA-Z0-9]+": ["st-{t}"],
    "rt_[0-9]+_[a-z0-9-]+_[a-zA-Z0-9-]+_.+": ["rt_123456789012_us-west-2_{t}_secret"],
    # gameliftstreams
    "$|^s3://([a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9])(/[a-zA-Z0-9._-]+)*/?": ["s3://bucket-{t}/logs/"],
    "arn:aws:gameliftstreams:([^: ]*):([0-9]{12}):([^: ]*)":
        ["arn:aws:gameliftstreams:us-west-2:123456789012:streamgroup/sg-{t}"],
    "[a-zA-Z0-9-_.!+@/][a-zA-Z0-9-_.!+@/ ]*": ["{t} with spaces+at@slash/"],
    "(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])"
    "/([0-9]|[1-2][0-9]|3[0-2])": ["10.20.30.0/24"],
    "s3://.*(/|\\.zip|\\.ZIP)": ["s3://bucket-{t}/export/"],
    "arn:aws[a-zA-Z-]*:iam::\\d{12}:role/.+": ["arn:aws:iam::123456789012:role/{t}"],
    # nimble
    "^ami-[0-9A-z]+$": ["ami-{t}"],
    "^2021\\-03\\-31$": ["2021-03-31"],
    "^[A-Z0-9_]+$": ["{T}_PURPOSE"],
    "^(/?|(\\$HOME)?(/[^/\\n\\s\\\\]+)*)$": ["$HOME/mnt/{t}"],
    "[a-z]{2}-?(iso|gov)?-{1}[a-z]*-{1}[0-9]": ["us-west-2"],
    "^arn:.*": ["arn:aws:kms:us-west-2:123456789012:key/{t}"],
    "^[a-zA-Z]*$": ["{a}"],
    "^(\\$HOME|/)[/]?([A-Za-z0-9-_]+/)*([A-Za-z0-9_-]+)$": ["$HOME/sessions/{t}"],
    "^((\\%HOMEPATH\\%)|[a-zA-Z]:)[\\\\/](?:[a-zA-Z0-9_-]+[\\\\/])*[a-zA-Z0-9_-]+$": ["%HOMEPATH%\\sessions\\{t}"],
    "^[A-Z]$": ["Z"],
    # kinesisvideo and its data plane
    "^[a-z]+(-[a-z]+)?-[a-z]+-[0-9]$": ["us-west-2"],
    "^[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)$": ["rtsp://camera-{t}.example.com:554/live?x=1"],
    "arn:[a-z\\d-]+:iot:[a-z0-9-]+:[0-9]+:thing/[a-zA-Z0-9_.-]+": ["arn:aws:iot:us-west-2:123456789012:thing/{t}"],
    "[\\w\\-\\.\\+]+/[\\w\\-\\.\\+]+(,[\\w\\-\\.\\+]+/[\\w\\-\\.\\+]+)*": ["video/h264,audio/{t}"],
    "arn:[a-z\\d-]+:secretsmanager:[a-z0-9-]+:[0-9]+:secret:[a-zA-Z0-9_.-]+":
        ["arn:aws:secretsmanager:us-west-2:123456789012:secret:{t}"],
    "arn:[a-z\\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+":
        ["arn:aws:kinesisvideo:us-west-2:123456789012:stream/{t}/1700000000000"],
    "^arn:(aws[a-zA-Z-]*):kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+$":
        ["arn:aws:kinesisvideo:us-west-2:123456789012:channel/{t}/1700000000000"],
    "arn:aws:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+":
        ["arn:aws:kinesisvideo:us-west-2:123456789012:stream/{t}/1700000000000"],
    "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$": ["tag:{t} é/+=@ü"],
    "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*": ["value {t} ß:/+=@"],
    "^[0-9]+$": ["{d}"],
    # test_roundtrip's fixture model: header list items that botocore must quote
    ".*,.*": ['{t}, "quoted" item'],
}

# For strings without an example: text that exercises percent-encoding and JSON escaping, then
# plain tokens. Header values stay printable ASCII (HTTP carries them as latin-1 at best).
GENERIC_TEXT = ["{t} é/+&=%?#;ü \"q\"", "{t}", "{T}", "{a}", "{d}"]
GENERIC_HEADER_TEXT = ["{t} a/b+c;d=e", "{t}", "{T}", "{a}", "{d}"]
GENERIC_HOST_LABEL = ["{t}"]
_ARN_PATTERN = re.compile(r"arn:aws:([a-z0-9-]+):\[a-z0-9-\]\+:\[0-9\]\+:([A-Za-z-]+)/")

_PLACEHOLDERS = {
    "{t}": (string.ascii_lowercase, string.ascii_lowercase + string.digits),
    "{T}": (string.ascii_uppercase, string.ascii_uppercase + string.digits),
    "{a}": (string.ascii_letters, string.ascii_letters),
    "{d}": ("123456789", string.digits),
}
TOKEN_LENGTH = 8
MAX_DEPTH = 6
BASE_TIME = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)


def _digest(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")


def _token(seed: str, placeholder: str, length: int) -> str:
    first, rest = _PLACEHOLDERS[placeholder]
    data = hashlib.sha256(seed.encode()).digest() * (length // 32 + 1)
    alphabets = [first] + [rest] * (length - 1)
    return "".join(alphabet[byte % len(alphabet)] for alphabet, byte in zip(alphabets, data))


def _render(template: str, seed: str, length: int) -> str:
    for placeholder in _PLACEHOLDERS:
        template = template.replace(placeholder, _token(seed + placeholder, placeholder, length))
    return template


def fit(template: str, seed: str, lowest: int, highest: int | None) -> str:
    """The template with its placeholders sized so that the whole meets [lowest, highest]."""
    has_placeholder = any(p in template for p in _PLACEHOLDERS)
    length = TOKEN_LENGTH
    text = _render(template, seed, length)
    if has_placeholder and len(text) < lowest:
        length += lowest - len(text)
        text = _render(template, seed, length)
    if has_placeholder and highest is not None and len(text) > highest:
        length = max(1, length - (len(text) - highest))
        text = _render(template, seed, length)
    if highest is not None and len(text) > highest:
        text = text[:highest].rstrip()
    return text


class ShapeValues:
    """One value per shape type; ``path`` names the value's place and seeds its content."""

    def __init__(self, required_only: bool = False, max_depth: int = MAX_DEPTH, subsecond: bool = False,
                 examples: dict[str, list[str]] | None = None):
        self.required_only = required_only
        self.examples = examples or {}  # templates by string shape name, tried first
        self.max_depth = max_depth
        self.subsecond = subsecond  # microseconds in body timestamps (only outputs keep them)

    def value(self, shape: Shape, path: str = "$", *, location: str | None = None,
              depth: int = 0, stack: tuple[str, ...] = ()):
        if shape.metadata.get("document"):
            return self.document(path)
        handler = getattr(self, f"{shape.type_name}_value")
        return handler(shape, path, location=location, depth=depth, stack=stack + (shape.name,))

    # ------------------------------------------------------------------ containers

    def structure_value(self, shape, path, *, location, depth, stack):
        required = set(shape.required_members)
        names = [
            name for name, member in shape.members.items()
            if name in required or (
                not self.required_only and depth < self.max_depth and member.name not in stack
            )
        ]
        if shape.is_tagged_union and names:
            names = [names[_digest(path) % len(names)]]  # exactly one member set
        return {
            name: self.value(shape.members[name], f"{path}.{name}", depth=depth + 1, stack=stack,
                             location=shape.members[name].serialization.get("location"))
            for name in names
        }

    def list_value(self, shape, path, *, location, depth, stack):
        return [
            self.value(shape.member, f"{path}[{index}]", location=location, depth=depth + 1, stack=stack)
            for index in range(self._count(shape))
        ]

    def map_value(self, shape, path, *, location, depth, stack):
        result = {}
        key_location = "header" if location == "headers" else location
        for index in range(self._count(shape)):
            key = self.value(shape.key, f"{path}{{{index}}}", location=key_location, depth=depth + 1, stack=stack)
            if location == "headers":
                key = key.lower()  # header names come back lower-cased
            result[key] = self.value(shape.value, f"{path}{{{index}}}.value", location=key_location,
                                     depth=depth + 1, stack=stack)
        return result

    @staticmethod
    def _count(shape) -> int:
        """1-2 items, within the shape's limits (never empty: an empty query list is no list)."""
        lowest, highest = shape.metadata.get("min", 0), shape.metadata.get("max")
        count = 2 if highest is None or highest >= 2 else 1
        return max(count, lowest)

    @staticmethod
    def document(path):
        return {"key": path, "number": 3, "flag": True, "items": [1, "two"]}

    # ------------------------------------------------------------------ scalars

    def string_value(self, shape, path, *, location, depth, stack):
        if shape.serialization.get("jsonvalue"):
            return self.document(path)
        enum = shape.metadata.get("enum")
        if enum:
            return enum[_digest(path) % len(enum)]
        lowest, highest = shape.metadata.get("min", 0), shape.metadata.get("max")
        pattern = shape.metadata.get("pattern")
        arn = _ARN_PATTERN.search(pattern or "")
        candidates = self.examples.get(shape.name, []) + PATTERN_EXAMPLES.get(pattern, []) + (
            [f"arn:aws:{arn[1]}:us-west-2:123456789012:{arn[2]}/{{t}}"] if arn else [])
        if shape.serialization.get("hostLabel"):
            candidates = GENERIC_HOST_LABEL
        elif location in ("header", "headers"):
            candidates += GENERIC_HEADER_TEXT
        else:
            candidates += GENERIC_TEXT
        for template in candidates:
            text = fit(template, path, lowest, highest)
            if location in ("header", "headers"):
                text = text.strip()
            if text and not validate(shape, text):
                return text
        raise AssertionError(
            f"no example value for {shape.name} at {path} (pattern {pattern!r}, length {lowest}..{highest}):"
            " add one to PATTERN_EXAMPLES"
        )

    def integer_value(self, shape, path, *, location, depth, stack, wide=False):
        if location == "statusCode":
            return (200, 201, 202, 203, 206)[_digest(path) % 5]
        lowest, highest = shape.metadata.get("min"), shape.metadata.get("max")
        spread = _digest(path) % 1000
        if lowest is not None and highest is not None:
            return lowest + _digest(path) % (highest - lowest + 1)
        if lowest is not None:
            return lowest + spread
        if highest is not None:
            return highest - spread
        return (2**33 if wide else 0) + 1 + spread  # a long beyond 32 bits, if it may be one

    def long_value(self, shape, path, **context):
        return self.integer_value(shape, path, wide=True, **context)

    def double_value(self, shape, path, *, location, depth, stack):
        # Halves are exact in binary and in decimal text: the value survives every encoding.
        lowest, highest = shape.metadata.get("min"), shape.metadata.get("max")
        value = (_digest(path) % 200) / 2 + 0.5
        if lowest is not None and value < lowest:
            value = float(lowest)
        if highest is not None and value > highest:
            value = float(highest)
        return value

    float_value = double_value

    def boolean_value(self, shape, path, **context):
        return bool(_digest(path) & 1)

    def timestamp_value(self, shape, path, *, location, **context):
        moment = BASE_TIME + dt.timedelta(seconds=_digest(path) % 10**8)  # whole seconds, aware
        if self.subsecond and location is None:  # rfc822 headers carry whole seconds only
            moment += dt.timedelta(microseconds=_digest(path + "us") % 10**6)
        return moment

    def blob_value(self, shape, path, **context):
        lowest, highest = shape.metadata.get("min", 0), shape.metadata.get("max")
        data = b"\x00\x01\xfe\xff" + path.encode() + bytes(range(250, 256))  # not UTF-8
        data = data.ljust(lowest, b"\x7f")
        return data if highest is None else data[:highest]
