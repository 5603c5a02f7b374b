"""Model-driven fuzzing of a running greenroom: random valid and invalid inputs for every
operation of every emulated service (sent by boto3 with client-side validation off), raw HTTP
requests with garbage in every part, and checks of every answer.

Used by tests/test_fuzz.py (a bounded run) and scripts/fuzz.py (long runs). A finding is an
answer greenroom must never give: a 5xx other than a deliberate 501, an error body that is not
JSON in the service's shape, a 2xx body that does not match the operation's output shape, or a
List operation that stops answering 2xx after the run (poisoned state).
"""
from __future__ import annotations

import collections
import datetime as dt
import http.client
import json
import random
import re
import socket
import string
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import botocore.exceptions
from botocore import xform_name
from botocore.model import Shape
from support import make_client

# Every model greenroom emulates, by the boto3 client name.
SERVICES = [
    "ivs-realtime", "gameliftstreams", "nimble", "kinesisvideo", "kinesis-video-media",
    "kinesis-video-archived-media", "kinesis-video-signaling", "kinesis-video-webrtc-storage",
]

# Strings that broke (or could break) a store, a serializer or a message.
NASTY_STRINGS = [
    "", " ", "\ud800", "a\udfffb", "\x00", "nul\x00inside", "東京", "😀" * 3, "x" * 5000,
    "'; DROP TABLE resources; --", "%00", "../../etc", "\r\nX-Injected: 1", "\u2028", "null",
    "arn:aws:ivs:us-east-1:000000000000:stage/AbCdEf123456", "1e20", "-1", "NaN",
]
NASTY_NUMBERS = [0, -1, 1, 2**31, -(2**31) - 1, 2**63, 10**30, 1e20, -1e20, 0.5, 1e308]
NASTY_TIMESTAMPS = [0, -1, 1e20, -1e20, 253402300800, "1e20", "NaN", "Infinity", "9999-12-31T23:59:59Z",
                    "0001-01-01T00:00:00Z", "not a time", "2026-13-45T99:99:99Z"]
# Regions in a credential scope: a valid one mostly, sometimes garbage.
REGIONS = ["us-east-1"] * 8 + ["eu-west-1", "x" * 40, "us-east-1\x00", "Not A Region", "ap-southeast-4"]


# What botocore raises for inputs it cannot serialize (or answers it cannot read).
CLIENT_SIDE_FAILURES = (botocore.exceptions.BotoCoreError, ValueError, TypeError, AttributeError, OverflowError,
                        UnicodeEncodeError, KeyError, RuntimeError)


@dataclass
class Finding:
    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.detail}"


@dataclass
class Report:
    requests: int = 0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    findings: list[Finding] = field(default_factory=list)
    client_side_refusals: int = 0  # inputs botocore itself could not serialize (not sent)
    seconds: float = 0.0

    def add(self, kind: str, where: str, detail: str) -> None:
        self.findings.append(Finding(kind, where, detail[:500]))

    def summary(self) -> str:
        by_kind = collections.Counter(f.kind for f in self.findings)
        classes = collections.Counter(f"{status // 100}xx" for status in self.statuses.elements())
        return (f"{self.requests} requests in {self.seconds:.1f} s ({self.client_side_refusals} refused by botocore "
                f"before sending); answers {dict(sorted(classes.items()))}, 501s {self.statuses[501]}; "
                f"findings {sum(by_kind.values())} {dict(by_kind)}")


class InputGenerator:
    """Random inputs for a shape: mostly plausible (enums, lengths within bounds, values seen in
    earlier answers), sometimes invalid (nulls, wrong types, out of range, nasty strings)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seen_strings: list[str] = []  # ids, ARNs, names from earlier answers
        self.seen_by_shape: dict[str, list[str]] = collections.defaultdict(list)  # by the model's shape name
        self.clean = False  # a clean input: plausible values only (set per request)

    def remember(self, value) -> None:
        if isinstance(value, str):
            if 0 < len(value) <= 256 and len(self.seen_strings) < 5000:
                self.seen_strings.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                self.remember(item)
        elif isinstance(value, list):
            for item in value[:5]:
                self.remember(item)

    def remember_shaped(self, shape: Shape | None, value) -> None:
        """Strings of an answer by the shape they have in the model: an input of the same shape
        (StageArn, StreamName) most likely names something that exists."""
        if shape is None or value is None:
            return
        kind = shape.type_name
        if kind == "string" and isinstance(value, str) and 0 < len(value) <= 2048:
            seen = self.seen_by_shape[shape.name]
            if value not in seen:
                seen.append(value)
                del seen[:-50]
        elif kind == "structure" and isinstance(value, dict):
            for name, member in shape.members.items():
                self.remember_shaped(member, value.get(name))
        elif kind == "list" and isinstance(value, list):
            for item in value[:5]:
                self.remember_shaped(shape.member, item)
        elif kind == "map" and isinstance(value, dict):
            for key, item in list(value.items())[:5]:
                self.remember_shaped(shape.key, key)
                self.remember_shaped(shape.value, item)

    def structure(self, shape: Shape, depth: int = 0) -> dict:
        result = {}
        required = set(shape.required_members)
        for name, member in shape.members.items():
            if member.serialization.get("eventstream") or member.type_name == "structure" and \
                    member.serialization.get("eventstream"):
                continue
            if name not in required and self.rng.random() < 0.55:
                continue
            if name in required and not self.clean and self.rng.random() < 0.03:
                continue  # a required member missing
            result[name] = self.value(member, depth + 1)
        return result

    def value(self, shape: Shape, depth: int):
        rng = self.rng
        roll = 1.0 if self.clean else rng.random()
        if roll < 0.02:
            return None  # an explicit null
        if roll < 0.04:
            return rng.choice([{"x": 1}, [1, 2], 3, "text", True])  # probably the wrong type
        kind = shape.type_name
        lowest, highest = shape.metadata.get("min"), shape.metadata.get("max")
        nasty = not self.clean and rng.random() < 0.15
        if kind == "structure":
            return self.structure(shape, depth) if depth < 6 else {}
        if kind == "list":
            count = rng.choice([0, 1, 1, 2, 3]) if depth < 6 else 0
            return [self.value(shape.member, depth + 1) for _ in range(count)]
        if kind == "map":
            count = rng.choice([0, 1, 2]) if depth < 6 else 0
            return {self.text(shape.key, shape.key.metadata.get("min"), shape.key.metadata.get("max"))
                    if rng.random() < 0.9 else rng.choice(NASTY_STRINGS): self.value(shape.value, depth + 1)
                    for _ in range(count)}
        if kind == "string":
            return self.text(shape, lowest, highest)
        if kind in ("integer", "long"):
            if nasty:
                return rng.choice(NASTY_NUMBERS)
            low = int(lowest) if lowest is not None else 0
            high = int(highest) if highest is not None else low + 1000
            return rng.randint(low, max(low, min(high, low + 10_000)))
        if kind in ("float", "double"):
            return rng.choice(NASTY_NUMBERS) if nasty else round(rng.uniform(0, 100), 3)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            if nasty:
                return rng.choice(NASTY_TIMESTAMPS)
            return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=rng.randint(-86400 * 30, 86400 * 30))
        if kind == "blob":
            return rng.randbytes(rng.choice([0, 1, 16, 300]))
        return None

    def text(self, shape: Shape, lowest, highest) -> str:
        rng = self.rng
        enum = shape.metadata.get("enum")
        roll = rng.random()
        if enum and roll < 0.85:
            return rng.choice(enum)
        known = self.seen_by_shape.get(shape.name)
        if known and roll < 0.7:
            return rng.choice(known)
        if roll < 0.12 and not self.clean:
            return rng.choice(NASTY_STRINGS)
        pattern = shape.metadata.get("pattern")
        if pattern and roll < 0.8:
            fitting = [seen for seen in self.seen_strings[-300:] if _pattern_accepts(pattern, seen)]
            if fitting:
                return rng.choice(fitting)
        if self.seen_strings and roll < 0.3:
            return rng.choice(self.seen_strings)
        low = int(lowest or 1)
        high = int(highest) if highest is not None else 64
        length = rng.randint(low, max(low, min(high, 24)))
        return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(length))


def _pattern_accepts(pattern: str, value: str) -> bool:
    from greenroom.protocol.validation import _compiled
    return _compiled(pattern).fullmatch(value) is not None


def output_problems(shape: Shape | None, value, path: str = "") -> list[str]:
    """Where a parsed 2xx answer does not match the output shape: wrong Python types (as botocore
    parses them) and required members missing."""
    if shape is None:
        return []
    kind = shape.type_name
    expected = {
        "structure": dict, "map": dict, "list": list, "string": str, "integer": int, "long": int,
        "float": (int, float), "double": (int, float), "boolean": bool, "timestamp": dt.datetime,
    }.get(kind)
    if kind == "blob":
        return []  # bytes, or a streaming body
    if expected is not None and not isinstance(value, expected):
        return [f"{path or '<output>'}: {type(value).__name__} where the model has {kind}"]
    problems = []
    if kind == "structure":
        for name, member in shape.members.items():
            member_path = f"{path}.{name}" if path else name
            if name in value:
                problems += output_problems(member, value[name], member_path)
            elif name in shape.required_members and member.serialization.get("location") is None:
                problems.append(f"{member_path}: required member missing")
    elif kind == "list":
        for index, item in enumerate(value):
            problems += output_problems(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        for key, item in value.items():
            problems += output_problems(shape.value, item, f"{path}.{key}")
    return problems


def error_body_problem(status: int, headers, body: bytes, service_shaped: bool) -> str | None:
    """Why an error answer is not JSON in the service's shape (None when it is)."""
    try:
        document = json.loads(body)
    except ValueError:
        return f"{status} body is not JSON: {body[:200]!r}"
    if not isinstance(document, dict):
        return f"{status} body is not a JSON object: {body[:200]!r}"
    if not any(key.lower() in ("message", "exceptionmessage") for key in document):
        return f"{status} body has no message: {body[:200]!r}"
    if service_shaped and not any(name.lower() == "x-amzn-errortype" for name in headers):
        return f"{status} answer has no x-amzn-ErrorType header"
    return None


class Fuzzer:
    def __init__(self, base_url: str, seed: int = 13):
        self.base_url = base_url
        self.rng = random.Random(seed)
        self.inputs = InputGenerator(self.rng)
        self.report = Report()
        self.clients = {}
        self._last_raw: dict = {}
        for service in SERVICES:
            client = make_client(service, base_url)
            client.meta.events.register("after-call", self._capture)
            self.clients[service] = client
        self.operations = [(service, name) for service, client in self.clients.items()
                           for name in client.meta.service_model.operation_names]

    # ------------------------------------------------------------------ model operations
    def _capture(self, http_response, parsed, model, **_):
        self._last_raw = {"status": http_response.status_code, "headers": dict(http_response.headers),
                          "body": None if model.has_streaming_output and http_response.status_code < 300
                          else http_response.content}

    def model_request(self) -> None:
        service, name = self.rng.choice(self.operations)
        client = self.clients[service]
        operation = client.meta.service_model.operation_model(name)
        self.inputs.clean = self.rng.random() < 0.5
        params = self.inputs.structure(operation.input_shape) if operation.input_shape is not None else {}
        self.inputs.clean = False
        where = f"{service} {name}"
        self._last_raw = {}
        try:
            result = getattr(client, _method_name(client, name))(**params)
        except botocore.exceptions.ClientError as error:
            result = None
            status = error.response["ResponseMetadata"].get("HTTPStatusCode", 0)
        except CLIENT_SIDE_FAILURES as error:
            if not self._last_raw:  # botocore could not build the request: nothing was sent
                self.report.client_side_refusals += 1
                return
            self.report.requests += 1
            self.report.add("unreadable answer", where, f"{type(error).__name__}: {error}")
            return
        else:
            status = result["ResponseMetadata"]["HTTPStatusCode"]
        self.report.requests += 1
        self.report.statuses[status] += 1
        raw = self._last_raw
        if status >= 500 and status != 501:  # 501s are deliberate (what greenroom does not emulate)
            self.report.add("5xx", where, f"{status} {raw.get('body', b'')[:300]!r} for {_shown(params)}")
        if status >= 400:
            problem = error_body_problem(status, raw.get("headers", {}), raw.get("body") or b"", True)
            if problem:
                self.report.add("error shape", where, problem)
        elif result is not None:
            body = result.pop("ResponseMetadata", None) and result
            for key, value in list(body.items()):
                if hasattr(value, "close"):  # a streaming payload: not read here
                    value.close()
                    body.pop(key)
            problems = output_problems(operation.output_shape, body)
            if problems and not _empty_label(operation, params):  # "/studios/" is another operation
                self.report.add("output shape", where, "; ".join(problems[:5]) + f" for {_shown(params)}")
            self.inputs.remember(body)
            self.inputs.remember_shaped(operation.output_shape, body)

    # ------------------------------------------------------------------ raw HTTP
    def raw_request(self) -> None:
        rng = self.rng
        service, name = self.rng.choice(self.operations)
        operation = self.clients[service].meta.service_model.operation_model(name)
        method = operation.http["method"] if rng.random() < 0.8 else rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
        path = operation.http["requestUri"].split("?")[0]
        path = _fill_labels(path, rng)
        if rng.random() < 0.15:
            path = rng.choice(["/_greenroom/clock", "/_greenroom/delays", "/_greenroom/reset", "/_greenroom/health",
                               "/_greenroom/ivs-realtime/join", "/_greenroom/nothing", "/"])
            method = rng.choice(["GET", "POST"])
        query = "" if rng.random() < 0.6 else "?" + "&".join(
            f"{rng.choice(['a', 'NextToken', 'maxResults', 'x%00', '%ED%A0%80'])}={rng.choice(['1', '', '%00', 'x' * 300, '%FF'])}"
            for _ in range(rng.randint(1, 3)))
        signing_name = self.clients[service].meta.service_model.signing_name
        region = rng.choice(REGIONS)
        headers = {
            "Content-Type": rng.choice(["application/json", "application/x-amz-json-1.1", "text/plain", ""]),
            "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDFUZZ/20260101/{quote(region)}/{signing_name}/aws4_request, "
                             "SignedHeaders=host, Signature=00",
        }
        if rng.random() < 0.2:
            headers[rng.choice(["x-amz-date", "x-amz-target", "X-Amz-Client-Token", "Range"])] = rng.choice(
                ["", "x" * 500, "\u00e9", "1e20"])
        body = self._garbage_body(operation)
        self._send_raw(method, path + query, headers, body, f"raw {method} {path[:80]}",
                       service_shaped=not path.startswith("/_greenroom/"))

    def _garbage_body(self, operation) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.1:
            return b"[" * 100_000 + b"]" * 100_000  # nesting beyond any parser's stack
        if roll < 0.2:
            return rng.choice([b"{", b"not json", b"\xff\xfe", b"null", b"[]", b"123", b'"s"', b"{}", b"NaN",
                               b'{"a": Infinity}', b'{"a": 1e400}', b"\x00" * 10])
        params = self.inputs.structure(operation.input_shape) if operation.input_shape is not None else {}
        document = json.loads(json.dumps(_jsonable(params)))
        if isinstance(document, dict) and document:
            key = rng.choice(list(document))
            document[key] = rng.choice([None, "\ud800", 1e20, -1e20, 10**40, [None], {"k": None}, "\x00",
                                         {"\ud800": "v"}, [[[[[]]]]], "x" * 100_000])
        elif rng.random() < 0.5:
            document = {"clock": rng.choice([1e20, "x", None]), "set": rng.choice([1e20, 1e300, -5, "1", 10**400])}
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
        return text.encode("utf-8", "surrogatepass")

    def _send_raw(self, method: str, target: str, headers: dict, body: bytes, where: str, service_shaped: bool):
        url = urlsplit(self.base_url)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
        try:
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value.encode("utf-8", "surrogatepass"))
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            status, response_headers = response.status, dict(response.getheaders())
            content = response.read() if "chunked" not in response_headers.get("transfer-encoding", "") \
                else response.read(65536)
        except (OSError, http.client.HTTPException) as error:
            self.report.requests += 1
            self.report.add("connection", where, f"{type(error).__name__}: {error}")
            return
        finally:
            connection.close()
        self.report.requests += 1
        self.report.statuses[status] += 1
        if status >= 500 and status != 501:
            self.report.add("5xx", where, f"{status} {content[:300]!r} for body {body[:120]!r}")
        if status >= 400:
            problem = error_body_problem(status, response_headers, content, service_shaped and status != 404)
            if problem:
                self.report.add("error shape", where, problem)

    # ------------------------------------------------------------------ the run
    def run(self, requests: int, raw_share: float = 0.25, progress=None) -> Report:
        started = time.perf_counter()
        self.lists_before = self.list_statuses()
        for index in range(requests):
            if self.rng.random() < raw_share:
                self.raw_request()
            else:
                self.model_request()
            if progress and index and index % 1000 == 0:
                progress(index, self.report)
        self.check_lists()
        self.report.seconds = time.perf_counter() - started
        return self.report

    def list_statuses(self) -> dict[tuple[str, str], int]:
        """The status of every List operation called without input."""
        statuses = {}
        for service, client in self.clients.items():
            for name in client.meta.service_model.operation_names:
                if name.startswith("List"):
                    try:
                        result = getattr(client, _method_name(client, name))()
                        statuses[service, name] = result["ResponseMetadata"]["HTTPStatusCode"]
                    except botocore.exceptions.ClientError as error:
                        statuses[service, name] = error.response["ResponseMetadata"].get("HTTPStatusCode", 0)
                    except CLIENT_SIDE_FAILURES:
                        pass  # needs a label botocore cannot leave out
        return statuses

    def check_lists(self) -> None:
        """After the run every List operation answers as before it (2xx stays 2xx; those that need
        input still refuse the same way), and those that need input never answer 5xx with some:
        nothing stored may poison later answers."""
        for (service, name), status in self.list_statuses().items():
            if status >= 500 or status // 100 != self.lists_before.get((service, name), 200) // 100:
                self.report.add("list after run", f"{service} {name}",
                                f"answered {status} (before the run: {self.lists_before.get((service, name))})")
        for service, client in self.clients.items():
            model = client.meta.service_model
            for name in model.operation_names:
                operation = model.operation_model(name)
                if not name.startswith("List") or not operation.input_shape or not operation.input_shape.required_members:
                    continue
                for _ in range(3):
                    try:
                        getattr(client, _method_name(client, name))(**self.inputs.structure(operation.input_shape))
                    except botocore.exceptions.ClientError as error:
                        status = error.response["ResponseMetadata"].get("HTTPStatusCode", 0)
                        if status >= 500:
                            self.report.add("list after run", f"{service} {name}", f"answered {status}")
                    except CLIENT_SIDE_FAILURES:
                        continue  # botocore could not build this input


def _empty_label(operation, params: dict) -> bool:
    return any(member.serialization.get("location") == "uri" and params.get(name) == ""
               for name, member in operation.input_shape.members.items())


def _method_name(client, operation_name: str) -> str:
    return xform_name(operation_name)


def _fill_labels(template: str, rng: random.Random) -> str:
    def label(_match=None) -> str:
        return rng.choice(["abc", "%00", "%ED%A0%80", "%FF%FE", "x" * 3000, "arn%3Aaws%3Aivs%3Aus-east-1%3A1%3Astage%2Fa",
                           quote("東京"), "..", "%2F%2F"])
    return re.sub(r"\{[^}]+\}", label, template)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


def _shown(params) -> str:
    return repr(params)[:300]


def protocol_garbage(base_url: str) -> list[tuple[str, int, bytes]]:
    """Requests the HTTP layer itself must refuse: (what, status, body) of each answer."""
    url = urlsplit(base_url)
    answers = []
    for what, raw in [
        ("unknown method", b"FROB / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
        ("100 KB URL", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("no HTTP at all", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n"),
        ("bad header", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"),
    ]:
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(raw)
            received = b""
            try:
                while chunk := sock.recv(65536):
                    received += chunk
            except OSError:
                pass
        head, _, body = received.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        answers.append((what, status, body))
    return answers
