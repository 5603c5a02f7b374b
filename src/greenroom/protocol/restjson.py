"""rest-json: turn an HTTP request into the operation's input mapping, and the handler's output
(or error) back into an HTTP response, exactly as botocore's serializer and parser expect."""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import parse_qs

from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from . import quirks
from .errors import ServiceError

UTC = dt.timezone.utc

# Default timestamp formats of rest-json, by where the value travels.
BODY_TIMESTAMP_FORMAT = "unixTimestamp"
HEADER_TIMESTAMP_FORMAT = "rfc822"
QUERY_TIMESTAMP_FORMAT = "iso8601"


class ParseProblem(ValueError):
    """A value that cannot be read as its shape's type; reported as a validation problem."""


# ---------------------------------------------------------------------------- timestamps

def parse_timestamp(value: Any, timestamp_format: str) -> dt.datetime:
    """A timestamp the services accept: between years 1 and 9999 (what a datetime holds);
    anything else (1e20, NaN, "Infinity") cannot be read as one. [inferred] range"""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ParseProblem("timestamp")
    try:
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(value, UTC)
        if timestamp_format == "unixTimestamp" or _looks_numeric(value):
            return dt.datetime.fromtimestamp(float(value), UTC)
        if timestamp_format == "rfc822":
            return parsedate_to_datetime(value).astimezone(UTC)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        raise ParseProblem("timestamp") from None


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def to_epoch(value: Any) -> float:
    """Handlers may hand back datetimes or epoch seconds."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def format_timestamp(value: Any, timestamp_format: str) -> Any:
    # AWS carries milliseconds. Cut to whole milliseconds first, truncating (as Java's
    # Instant.toEpochMilli does), so that every format names the same instant: epoch seconds
    # used to round (09.0006 -> 09.001) where ISO 8601 truncated (-> 09.000).
    if timestamp_format == "unixTimestamp" and type(value) in (int, float) and 0 <= value < _FAST_EPOCH_END:
        return _epoch_seconds(value)
    if isinstance(value, dt.datetime):
        moment = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    else:
        moment = dt.datetime.fromtimestamp(to_epoch(value), UTC)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if timestamp_format == "unixTimestamp":
        epoch = moment.timestamp()
        return int(epoch) if not moment.microsecond else round(epoch, 3)
    if timestamp_format == "rfc822":
        return format_datetime(moment, usegmt=True)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


_FAST_EPOCH_END = 32503680000  # 3000-01-01: the clock's range; other values take the datetime path


def _epoch_seconds(value: int | float) -> int | float:
    """format_timestamp(value, "unixTimestamp") for epoch seconds without making a datetime (a
    page of 1,000 fragments has 2,000): the same arithmetic as datetime.fromtimestamp (the
    fraction rounded half-even to microseconds), cut to milliseconds, then as timestamp()."""
    if type(value) is int:
        return value
    fraction, whole = math.modf(value)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        micros -= 1_000_000
        whole += 1.0
    elif micros < 0:
        micros += 1_000_000
        whole -= 1.0
    millis = micros // 1000
    if not millis:
        return int(whole)
    return round((int(whole) * 1_000_000 + millis * 1000) / 10**6, 3)


def _timestamp_format(shape: Shape, default: str) -> str:
    return shape.serialization.get("timestampFormat") or default


# ---------------------------------------------------------------------------- request parsing

def _scalar_from_text(text: str, shape: Shape, timestamp_default: str) -> Any:
    """A value carried as text (URI label, query string, header)."""
    kind = shape.type_name
    if kind == "string":
        if shape.serialization.get("jsonvalue"):
            try:
                return json.loads(base64.b64decode(text))
            except ValueError:
                raise ParseProblem("JSON value") from None
        return text
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise ParseProblem(kind) from None
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise ParseProblem(kind) from None
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ParseProblem("boolean")
    if kind == "timestamp":
        return parse_timestamp(text, _timestamp_format(shape, timestamp_default))
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise ParseProblem("base64 blob") from None
    raise ParseProblem(kind)


# ---------------------------------------------------------------------------- compiled converters
# Walking botocore's shapes for every value of every request cost more than the rest of the
# request; each shape is turned once into a function (None: the value is kept as it is).
# Keyed by what the conversion depends on: member traits (location, name, timestampFormat)
# are merged into a member's shape by botocore, and a recursive shape meets its own key again.

_COMPILED: dict[tuple, Any] = {}


def _key(purpose: str, shape: Shape) -> tuple:
    return (purpose, shape.name, id(shape._shape_resolver), repr(sorted(shape.serialization.items())),
            bool(shape.metadata.get("document")))


def _compiled(purpose: str, shape: Shape, build):
    key = _key(purpose, shape)
    if key in _COMPILED:
        return _COMPILED[key]
    cell: list = []

    def forward(value):  # a recursive shape reaches its own key before it is built
        return cell[0](value) if cell[0] is not None else value
    _COMPILED[key] = forward
    built = build(shape)
    cell.append(built)
    _COMPILED[key] = built
    return built


def _build_from_json(shape: Shape):
    kind = shape.type_name
    if shape.metadata.get("document"):
        return None  # any JSON value, kept whole (not a structure without members)
    if kind == "structure":
        members = [(name, member.serialization.get("name", name), _from_json_function(member))
                   for name, member in shape.members.items()]

        def structure(value):
            if not isinstance(value, dict):
                return value
            result = {}
            for name, wire_name, convert in members:
                item = value.get(wire_name)
                if item is not None:  # an explicit null is an absent member
                    result[name] = item if convert is None else convert(item)
            return result
        return structure
    if kind == "list":
        convert = _from_json_function(shape.member)

        def list_(value):
            if not isinstance(value, list):
                return value
            return list(value) if convert is None else [convert(item) for item in value]
        return list_
    if kind == "map":
        convert = _from_json_function(shape.value)

        def map_(value):
            if not isinstance(value, dict):
                return value
            return dict(value) if convert is None else {key: convert(item) for key, item in value.items()}
        return map_
    if kind == "timestamp":
        timestamp_format = _timestamp_format(shape, BODY_TIMESTAMP_FORMAT)

        def timestamp(value):
            try:
                return parse_timestamp(value, timestamp_format)
            except ParseProblem:
                return value
        return timestamp
    if kind == "blob":
        def blob(value):
            if isinstance(value, str):
                try:
                    return base64.b64decode(value, validate=True)
                except ValueError:
                    return value
            return value
        return blob
    return None


def _from_json_function(shape: Shape):
    return _compiled("from_json", shape, _build_from_json)


def _from_json(value: Any, shape: Shape) -> Any:
    """Convert a decoded JSON value by its shape. Values of the wrong JSON type are passed
    through unchanged so validation can name them; unknown structure keys are dropped."""
    if value is None:
        return None
    convert = _from_json_function(shape)
    return value if convert is None else convert(value)


class _RequestPlan:
    """Where each input member of an operation travels, worked out once from its shape."""

    def __init__(self, operation: OperationModel):
        shape: StructureShape | None = operation.input_shape
        self.shape = shape
        self.uri: list[tuple[str, str, Shape]] = []
        self.query: list[tuple[str, str, Shape]] = []
        self.query_map: list[tuple[str, Shape, frozenset]] = []
        self.header: list[tuple[str, str, Shape]] = []
        self.headers: list[tuple[str, str]] = []
        self.body: list[tuple[str, str, Any]] = []   # (member, JSON key, converter or None)
        self.payload_name = shape.serialization.get("payload") if shape is not None else None
        self.payload: Shape | None = shape.members[self.payload_name] if self.payload_name else None
        self.payload_convert = _from_json_function(self.payload) if self.payload is not None else None
        self.body_only = False
        if shape is None:
            return
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "uri":
                self.uri.append((name, wire_name, member))
            elif location == "querystring":
                if member.type_name == "map":
                    # A map in the query string takes every parameter no other member claims,
                    # and none that the requestUri itself carries ("/lists?fixed").
                    claimed = frozenset({
                        m.serialization.get("name", n) for n, m in shape.members.items()
                        if m.serialization.get("location") == "querystring" and m.type_name != "map"
                    } | set(parse_qs(operation.http["requestUri"].partition("?")[2], keep_blank_values=True)))
                    self.query_map.append((name, member, claimed))
                else:
                    self.query.append((name, wire_name, member))
            elif location == "header":
                self.header.append((name, wire_name.lower(), member))
            elif location == "headers":
                self.headers.append((name, wire_name.lower()))
            elif location is None and name != self.payload_name:
                self.body.append((name, wire_name, _from_json_function(member)))
        # Nothing but JSON body members (most operations): parse_request reads the body alone.
        self.body_only = bool(self.body) and not (self.uri or self.query or self.query_map or self.header
                                                 or self.headers or self.payload is not None)


def _kept_by_object(build):
    """``build(model_object)``, worked out once per object and kept by its id (the entry holds
    the object, so its id is not reused): looked up for every request, where _compiled's key
    would cost more than the work it saves."""
    kept: dict[int, tuple[Any, Any]] = {}

    def get(model_object):
        found = kept.get(id(model_object))
        if found is None or found[0] is not model_object:
            found = kept[id(model_object)] = (model_object, build(model_object))
        return found[1]
    return get


_plan = _kept_by_object(_RequestPlan)


def parse_request(
    operation: OperationModel,
    uri_params: dict[str, str],
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> tuple[dict, list[tuple[str, str, str]]]:
    """Return the input mapping (member name -> value) and the values that could not be read
    as (member, raw value, expected type), for the validation message."""
    plan = _plan(operation)
    if plan.shape is None:
        return {}, []
    params: dict[str, Any] = {}
    problems: list[tuple[str, str, str]] = []
    if plan.body_only:  # most operations: everything in the JSON body
        _read_body(plan, body, params)
        return params, problems

    def read(name: str, member: Shape, text: str, timestamp_default: str):
        try:
            params[name] = _scalar_from_text(text, member, timestamp_default)
        except ParseProblem as problem:
            problems.append((name, text, str(problem)))

    def read_list(name: str, member: Shape, texts, timestamp_default: str):
        items = []
        for text in texts:
            try:
                items.append(_scalar_from_text(text, member.member, timestamp_default))
            except ParseProblem as problem:
                problems.append((name, text, str(problem)))
        params[name] = items

    for name, wire_name, member in plan.uri:
        if wire_name in uri_params or name in uri_params:
            read(name, member, uri_params.get(name, uri_params.get(wire_name)), QUERY_TIMESTAMP_FORMAT)
    if query:
        for name, member, claimed in plan.query_map:
            values = {k: v for k, v in query.items() if k not in claimed}
            if values:  # no parameters: absent (not {}), like any member nobody sent
                params[name] = values if member.value.type_name == "list" else {
                    k: v[-1] for k, v in values.items()}
        for name, wire_name, member in plan.query:
            if wire_name in query:
                if member.type_name == "list":
                    read_list(name, member, query[wire_name], QUERY_TIMESTAMP_FORMAT)
                else:
                    read(name, member, query[wire_name][-1], QUERY_TIMESTAMP_FORMAT)
    for name, wire_name, member in plan.header:
        text = headers.get(wire_name)
        if text is not None:
            if member.type_name == "list":
                # Items have the list member's type (not always string), and botocore
                # quotes string items that hold a comma or a quote.
                read_list(name, member, _split_header_list(text, member.member), HEADER_TIMESTAMP_FORMAT)
            else:
                read(name, member, text, HEADER_TIMESTAMP_FORMAT)
    for name, prefix in plan.headers:
        found = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
        if found:
            params[name] = found

    if plan.payload is not None:
        member, payload_name = plan.payload, plan.payload_name
        if member.type_name in ("blob", "string"):
            if body and member.type_name == "blob":
                params[payload_name] = body
            elif body:
                try:
                    params[payload_name] = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise ServiceError("SerializationException", "The request body is not UTF-8 text",
                                       status=400) from None
        else:
            decoded = _decode_json_body(body)
            if decoded is not None:
                convert = plan.payload_convert
                params[payload_name] = decoded if convert is None else convert(decoded)
    elif plan.body:
        _read_body(plan, body, params)
    return params, problems


def _read_body(plan: _RequestPlan, body: bytes, params: dict) -> None:
    """The members a JSON object body carries, into ``params``."""
    decoded = _decode_json_body(body)
    if decoded is not None:
        if not isinstance(decoded, dict):
            raise ServiceError("SerializationException", "The request body must be a JSON object", status=400)
        for name, wire_name, convert in plan.body:
            item = decoded.get(wire_name)
            if item is not None:  # an explicit null is an absent member
                params[name] = item if convert is None else convert(item)


def _split_header_list(text: str, item_shape: Shape) -> list[str]:
    """A list header's items: comma-separated, double-quoted where an item holds a comma or
    a quote (RFC 9110 5.6.4, as botocore writes them); an HTTP date holds a comma of its own
    and is never quoted."""
    if item_shape.type_name == "timestamp" and \
            _timestamp_format(item_shape, HEADER_TIMESTAMP_FORMAT) == "rfc822":
        parts = [part.strip() for part in text.split(",")]
        return [", ".join(parts[i:i + 2]) for i in range(0, len(parts), 2)]
    return [
        _ESCAPED.sub(r"\1", item[1]) if item[1] is not None else item[2].strip()
        for item in _HEADER_LIST_ITEM.finditer(text + ",")
    ]


# One item and its comma: a quoted string (backslash escapes) or plain text up to the comma.
_HEADER_LIST_ITEM = re.compile(r'[ \t]*(?:"((?:[^"\\]|\\.)*)"[ \t]*|([^,]*)),')
_ESCAPED = re.compile(r"\\(.)")


def _decode_json_body(body: bytes) -> Any:
    if not body or not body.strip():
        return None
    try:
        return load_json(body)
    except ValueError:
        raise ServiceError(
            "SerializationException", "The request body is not valid JSON", status=400
        ) from None


def load_json(text: bytes | str) -> Any:
    """Strict JSON: NaN, Infinity and numbers beyond a double (1e400) are no JSON numbers and
    could be neither stored nor answered; nesting too deep to read is invalid too (ValueError).
    What ``json.loads`` does with these options, with its decoder built once (json.loads builds
    one for every call given options)."""
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    elif text[:1] == b"{" and text[1:2] != b"\x00":
        text = text.decode("utf-8", "surrogatepass")  # what detect_encoding says of such a start
    else:
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    try:
        # The usual body is one object, nothing around it: raw_decode reads it without decode's
        # two whitespace matches; anything else is read again by decode (its value or error).
        try:
            value, end = _STRICT_DECODER.raw_decode(text)
        except ValueError:
            end = -1
        return value if end == len(text) else _STRICT_DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


_STRICT_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


# ---------------------------------------------------------------------------- serialization

def _build_to_json(shape: Shape):
    kind = shape.type_name
    if shape.metadata.get("document"):
        return None  # any JSON value, kept whole (not a structure without members)
    if kind == "structure":
        members = [(name, member.serialization.get("name", name), _to_json_function(member))
                   for name, member in shape.members.items() if member.serialization.get("location") is None]

        def structure(value):
            result = {}
            for name, wire_name, convert in members:
                item = value.get(name)
                if item is not None:
                    result[wire_name] = item if convert is None else convert(item)
            return result
        return structure
    if kind == "list":
        convert = _to_json_function(shape.member)
        # JsonText (made by items_to_json) is already in its JSON form.
        return (lambda value: value if type(value) is JsonText else [item for item in value]) if convert is None \
            else (lambda value: value if type(value) is JsonText else [convert(item) for item in value])
    if kind == "map":
        convert = _to_json_function(shape.value)
        return (lambda value: {key: item for key, item in value.items()}) if convert is None else \
            (lambda value: {key: convert(item) for key, item in value.items()})
    if kind == "timestamp":
        timestamp_format = _timestamp_format(shape, BODY_TIMESTAMP_FORMAT)
        if timestamp_format == "unixTimestamp":  # format_timestamp's own fast path, one call less
            return lambda value: _epoch_seconds(value) if type(value) in (int, float) and \
                0 <= value < _FAST_EPOCH_END else format_timestamp(value, "unixTimestamp")
        return lambda value: format_timestamp(value, timestamp_format)
    if kind == "blob":
        return lambda value: base64.b64encode(value).decode() if isinstance(value, (bytes, bytearray)) else value
    return None


def _to_json_function(shape: Shape):
    return _compiled("to_json", shape, _build_to_json)


def _to_json(value: Any, shape: Shape) -> Any:
    convert = _to_json_function(shape)
    return value if convert is None else convert(value)


class JsonText:
    """A value already written as JSON text (made by ``items_to_json``): the serializer keeps it,
    dump_json writes its text where the value goes."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def items_to_json(shape: ListShape, members: tuple[str, ...]) -> Callable[[Iterable[Sequence]], JsonText]:
    """A fast path for long lists of structures (a page of 1,000 KVS fragments): a function
    turning rows that hold the values of ``members`` of the list's structure (in that order;
    timestamps as integer epoch milliseconds; None: absent) into the list's JSON text, what
    dump_json writes of the serializer's form of the same items given as mappings (timestamps
    as ms / 1000). Generated once from the shape: one f-string per row instead of a walk of the
    members per item, a dict per item and the encoder's walk of them; epoch seconds without a
    datetime. A row's strings, ints and unixTimestamp milliseconds are written here exactly as
    the encoder writes them (encode_basestring: the encoder's own function without ensure_ascii;
    int's repr; epoch seconds as repr writes ms / 1000, from the milliseconds' digits); a row
    holding anything else goes through the encoder."""
    item = shape.member
    unknown = set(members) - set(item.members)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are no members of {item.name}")
    names = [f"v{index}" for index in range(len(members))]
    namespace: dict[str, Any] = {"JsonText": JsonText, "MS_EXACT_END": _MS_EXACT_END, "DECIMALS": _DECIMALS,
                                 "quoted": json.encoder.encode_basestring, "encode": _COMPACT.encode}
    template, fast, general = [], [], []
    for name, member in item.members.items():
        if name not in members or member.serialization.get("location") is not None:
            continue
        wire_name, value = member.serialization.get("name", name), names[members.index(name)]
        key = ("," if template else "") + json.encoder.encode_basestring(wire_name) + ":"
        template.append(key.replace("{", "{{").replace("}", "}}"))
        timestamp_format = _timestamp_format(member, BODY_TIMESTAMP_FORMAT) if member.type_name == "timestamp" else None
        convert = _timestamp_from_ms(timestamp_format) if timestamp_format else _to_json_function(member)
        namespace[f"convert_{value}"] = convert
        general.append(f"({wire_name!r}, {value}, convert_{value})")
        if timestamp_format == "unixTimestamp":
            # _timestamp_from_ms's fast branch (an int of whole seconds, else ms / 1000) as the
            # encoder writes it: the seconds, then the milliseconds' decimals (see _DECIMALS).
            fast.append(f"type({value}) is int and 0 <= {value} < MS_EXACT_END")
            template.append(f"{{{value} // 1000}}{{DECIMALS[{value} % 1000]}}")
        elif convert is None and member.type_name == "string":
            fast.append(f"type({value}) is str")
            template.append(f"{{quoted({value})}}")
        elif convert is None and member.type_name in ("integer", "long"):
            fast.append(f"type({value}) is int")
            template.append(f"{{{value}!r}}")
        else:
            fast.append(f"{value} is not None")
            template.append(f"{{encode({value})}}" if convert is None else f"{{encode(convert_{value}({value}))}}")
    row = "f" + repr("{{" + "".join(template) + "}}")
    # A row holding a None (absent members left out) or a value of another type: the encoder.
    source = (
        "def items(rows):\n"
        f"    return JsonText('[' + ','.join([{row}\n"
        f"                                    if {' and '.join(fast)}\n"
        f"                                    else encode(absent({', '.join(names)}))\n"
        f"                                    for {', '.join(names)}, in rows]) + ']')\n"
        f"def absent({', '.join(names)}):\n"
        "    return {key: value if convert is None else convert(value)\n"
        f"            for key, value, convert in ({', '.join(general)},) if value is not None}}\n")
    exec(compile(source, f"<items_to_json {item.name}>", "exec"), namespace)
    return namespace["items"]


# Below 2^33 s (year 2242) a double's spacing is under a microsecond: ms / 1000 is what
# format_timestamp answers for it (_epoch_seconds recovers the same milliseconds).
_MS_EXACT_END = 2**33 * 1000


# The decimals that repr(ms / 1000) writes after the whole seconds (ms // 1000), by ms % 1000, for
# ms in [0, _MS_EXACT_END): ms / 1000 is the double nearest to the decimal "seconds.mmm", which
# therefore reads back as it (trailing zeros dropped); any shorter or other decimal of as many
# digits is 0.001 or more away, where doubles are under 2e-6 apart, so reads back as another
# double; and these magnitudes (0.001 to 2^33) repr writes without an exponent. Whole seconds
# are an int: no decimals.
_DECIMALS = tuple("." + f"{ms:03d}".rstrip("0") if ms else "" for ms in range(1000))


def _timestamp_from_ms(timestamp_format: str):
    """format_timestamp(ms / 1000, timestamp_format) of integer epoch milliseconds; epoch
    seconds without a datetime: whole seconds as ints, others ms / 1000."""
    def timestamp(ms):
        if timestamp_format == "unixTimestamp" and type(ms) is int and 0 <= ms < _MS_EXACT_END:
            return ms / 1000 if ms % 1000 else ms // 1000
        return format_timestamp(ms / 1000, timestamp_format)
    return timestamp


def _header_text(value: Any, shape: Shape) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        return str(format_timestamp(value, _timestamp_format(shape, HEADER_TIMESTAMP_FORMAT)))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value).encode()).decode()
    if kind == "list":
        return ",".join(_header_text(item, shape.member) for item in value)
    if kind == "blob":
        return base64.b64encode(value).decode()
    return str(value)


def _json_text_value(value):
    """The encoders' hook for a JsonText they meet below a document's top level: its value
    (what loads of the text gives back is what it was written from, so the same text)."""
    if type(value) is JsonText:
        return json.loads(value.text)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Built once: json.dumps builds an encoder for every call given options.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_text_value)
_COMPACT_ASCII = json.JSONEncoder(separators=(",", ":"), default=_json_text_value)


def dump_json(document: Any) -> bytes:
    try:
        if type(document) is dict and JsonText in map(type, document.values()):
            # A member already written (a long list): the other members encoded around its text
            # (the keys are a structure's wire names: strings).
            encode = _COMPACT.encode
            return ("{" + ",".join(f"{encode(key)}:{value.text if type(value) is JsonText else encode(value)}"
                                   for key, value in document.items()) + "}").encode()
        return _COMPACT.encode(document).encode()
    except UnicodeEncodeError:
        # Text holding a lone surrogate (an echoed input) has no UTF-8 form: \u escapes do.
        return _COMPACT_ASCII.encode(document).encode()


class _ResponsePlan:
    """What of an output (or error) structure travels outside the body, worked out once."""

    def __init__(self, shape: StructureShape):
        self.located: list[tuple[str, str, str, Shape]] = []  # (member, location, wire name, shape)
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            if location in ("header", "headers", "statusCode"):
                self.located.append((name, location, member.serialization.get("name", "" if location == "headers" else name), member))
        self.payload_name = shape.serialization.get("payload")
        self.payload: Shape | None = shape.members[self.payload_name] if self.payload_name else None
        self.to_json = _to_json_function(self.payload if self.payload is not None else shape)


_response_plan = _kept_by_object(lambda shape: _compiled("response", shape, _ResponsePlan))


def serialize_structure(shape: StructureShape | None, output: dict) -> tuple[int | None, dict[str, str], Any]:
    """(status from a statusCode member, headers, body) for an output or error structure.
    The body is bytes, or whatever a streaming blob payload member holds (an iterable)."""
    headers: dict[str, str] = {}
    status = None
    if shape is None:
        return None, headers, b"{}"
    plan = _response_plan(shape)
    for name, location, wire_name, member in plan.located:
        value = output.get(name)
        if value is None:
            continue
        if location == "header":
            headers[wire_name] = _header_text(value, member)
        elif location == "headers":
            for key, item in value.items():
                headers[wire_name + key] = str(item)
        else:
            status = int(value)
    convert = plan.to_json
    if plan.payload is not None:
        value = output.get(plan.payload_name)
        if plan.payload.type_name in ("blob", "string"):
            body = b"" if value is None else value.encode() if isinstance(value, str) else value
        else:
            body = dump_json(value if convert is None else convert(value)) if value is not None else b"{}"
    else:
        body = dump_json(output if convert is None else convert(output))
    return status, headers, body


class _OutputPlan:
    """What serialize_output needs of an operation, worked out once."""

    def __init__(self, operation: OperationModel):
        shape = operation.output_shape
        self.status = operation.http.get("responseCode", 200)
        self.content_type = _default_content_type(shape)
        plan = _response_plan(shape) if shape is not None else None
        # Everything in the JSON body (most operations): no header, status or payload member.
        self.body_only = plan is not None and not plan.located and plan.payload is None \
            and self.status not in (204, 304)
        self.to_json = plan.to_json if plan is not None else None


_output_plan = _kept_by_object(_OutputPlan)


def serialize_output(operation: OperationModel, output: dict) -> tuple[int, dict[str, str], Any]:
    plan = _output_plan(operation)
    if plan.body_only:
        convert = plan.to_json
        output = output or {}
        return plan.status, {"Content-Type": plan.content_type}, \
            dump_json(output if convert is None else convert(output))
    status, headers, body = serialize_structure(operation.output_shape, output or {})
    # The payload's own Content-Type member (GetMedia's ContentType) wins, whatever its case;
    # without one, a media payload must not claim to be JSON (botocore shows the header as
    # ContentType): blob and string payloads default as in Smithy's rest-json protocol.
    status = status or plan.status
    if status in (204, 304):
        return status, headers, b""  # these answers have no body (RFC 9110), not even {}
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = plan.content_type
    return status, headers, body


def _default_content_type(shape: StructureShape | None) -> str:
    payload_name = shape.serialization.get("payload") if shape is not None else None
    kind = shape.members[payload_name].type_name if payload_name else "structure"
    return {"blob": "application/octet-stream", "string": "text/plain"}.get(kind, "application/json")


def message_member(shape: StructureShape) -> str | None:
    for name in shape.members:
        if name.lower() in ("message", "exceptionmessage"):
            return name
    return None


def error_shape(service_model: ServiceModel, code: str) -> StructureShape | None:
    if code in service_model.shape_names:
        shape = service_model.shape_for(code)
        if shape.metadata.get("exception"):
            return shape
    return None


def internal_error_code(service_model: ServiceModel) -> str:
    """The service's own 500 shape, or AWS's generic InternalFailure where it has none."""
    for shape in service_model.error_shapes:
        if shape.metadata.get("error", {}).get("httpStatusCode") == 500:
            return shape.name
    return "InternalFailure"


def validation_error_code(service_model: ServiceModel) -> str:
    for code in ("ValidationException", "InvalidArgumentException"):
        if error_shape(service_model, code) is not None:
            return code
    return "ValidationException"


def service_message_member(service_model: ServiceModel) -> str:
    """How this service spells its error message member (exceptionMessage, Message, message)."""
    for shape in service_model.error_shapes:
        name = message_member(shape)
        if name:
            return name
    return "message"


def serialize_error(service_model: ServiceModel | None, error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    shape = error_shape(service_model, error.code) if service_model is not None else None
    headers = {"x-amzn-ErrorType": error.code, "Content-Type": "application/json"}
    if service_model is not None:
        headers.update(quirks.extra_error_headers(service_model.service_name, error.code))
    if shape is None:
        # An error no model describes (routing, 501s): botocore and the CLI show `message`;
        # the service's own spelling is there too for code that reads that.
        member = service_message_member(service_model) if service_model is not None else "message"
        body = {"message": error.message, member: error.message, **error.fields}
        return error.status or 400, headers, dump_json(body)
    values = dict(error.fields)
    member = message_member(shape)
    if member:
        values[member] = error.message
    _, shape_headers, body = serialize_structure(shape, values)
    if member == "exceptionMessage":
        # botocore and the AWS CLI read only `message`/`Message`: IVS's spelling alone shows blank.
        body = dump_json({**json.loads(body or b"{}"), "message": error.message})
    headers.update(shape_headers)
    headers["x-amzn-ErrorType"] = error.code
    status = error.status or shape.metadata.get("error", {}).get("httpStatusCode", 400)
    return status, headers, body
