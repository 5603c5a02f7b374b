"""Every operation of every emulated model, round-tripped through botocore's own code.

* Inputs: botocore's serializer builds the request exactly as a client would send it;
  greenroom's Router must find this very operation (by signing name, by a real AWS host name),
  ``parse_request`` must read back the input botocore was given, and ``validate`` accept it.
* Outputs: greenroom's ``serialize_output`` writes the response; botocore's parser must read
  back the output the handler returned.
* Errors: greenroom's ``serialize_error`` writes each modelled error of the operation; a real
  client must raise the modelled exception class, with code, status and members intact.

Values come from ``shapes.ShapeValues``: once with every member filled, once with only the
required ones (and, for outputs, once with sub-second timestamps).

The emulated models leave much of rest-json unused (query maps, header lists and maps,
timestamps outside the body, payload members, greedy labels, host prefixes, status codes), so
a small fixture model that uses all of it goes through the same input and output checks.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
import io
from urllib.parse import urlsplit

import botocore
import botocore.session
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse, HeadersDict, create_request_object, prepare_request_dict
from botocore.config import Config
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from greenroom import services
from greenroom.core.errors import ServiceError
from greenroom.protocol import models
from greenroom.protocol.http import HttpRequest
from greenroom.protocol.restjson import message_member, parse_request, serialize_error, serialize_output
from greenroom.protocol.routing import Router
from greenroom.protocol.validation import validate

from shapes import ShapeValues

OPERATIONS = [
    (service, operation)
    for service in models.EMULATED_SERVICES
    for operation in models.service_model(service).operation_names
]
IDS = [f"{service}.{operation}" for service, operation in OPERATIONS]
INPUT_VARIANTS = {"all members": ShapeValues(), "required members": ShapeValues(required_only=True)}
# botocore sends body timestamps as whole epoch seconds, so only outputs can carry fractions.
OUTPUT_VARIANTS = {**INPUT_VARIANTS, "sub-second timestamps": ShapeValues(subsecond=True)}

LOCAL_ENDPOINTS = ("http://localhost:4566", "http://127.0.0.1:4566")
# What GetDataEndpoint hands out for the Kinesis Video data plane: no service name in front.
DATA_ENDPOINT = "https://b-1a2b3c4d.kinesisvideo.us-east-1.amazonaws.com"
DATA_PLANE = ("kinesis-video-archived-media", "kinesis-video-media")


@functools.cache
def router() -> Router:
    services.load_all()  # the services register their wire quirks (protocol.quirks), as in the emulator
    return Router()


@functools.cache
def client(service: str):
    """A real client whose every request is answered by its ``respond`` (set per call)."""
    session = botocore.session.Session()
    # The shipped models first: the client speaks exactly the contract the server reads.
    session.get_component("data_loader").search_paths.insert(0, str(models.MODELS_DIR))
    made = session.create_client(
        service, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b",
        config=Config(retries={"total_max_attempts": 1}),  # 5xx and throttling: no retry sleeps
    )
    made.respond = None
    made.meta.events.register("before-send", lambda request, **_: made.respond(request))
    return made


def endpoints(service: str) -> list[tuple[str, str | None]]:
    """(endpoint URL, signing name) pairs a request may arrive with."""
    signing_name = models.signing_name(models.service_model(service))
    real = client(service).meta.endpoint_url
    found = [(url, signing_name) for url in LOCAL_ENDPOINTS] + [(real, None), (real, signing_name)]
    if service in DATA_PLANE:
        found += [(DATA_ENDPOINT, None), (DATA_ENDPOINT, signing_name)]
    return found


def normalise(value):
    """Aware UTC datetimes, bytes for blobs and streams: what both sides mean by a value."""
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(item) for item in value]
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if hasattr(value, "read"):
        return value.read()
    return value


def to_milliseconds(value):
    """What AWS carries of a timestamp: whole milliseconds (truncated)."""
    if isinstance(value, dict):
        return {key: to_milliseconds(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_milliseconds(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


# ---------------------------------------------------------------------------- inputs

def client_request(operation, params: dict, endpoint_url: str) -> HttpRequest:
    """The request a botocore client sends for ``params``, as greenroom's server receives it."""
    request_dict = create_serializer("rest-json").serialize_to_request(copy.deepcopy(params), operation)
    prepare_request_dict(request_dict, endpoint_url=endpoint_url)  # host prefix, path + query
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers["host"] = url.netloc
    body = prepared.body or b""
    return HttpRequest(
        method=prepared.method, raw_path=url.path, query_string=url.query, headers=headers,
        body=body.encode() if isinstance(body, str) else body, host=url.netloc,
    )


def check_input_round_trip(service: str, operation, endpoint_list, routes: Router, expected_input=None):
    seed = f"{service}.{operation.name}"
    for variant, values in INPUT_VARIANTS.items():
        params = values.value(operation.input_shape, seed) if operation.input_shape else {}
        if operation.input_shape is not None:
            validate_parameters(params, operation.input_shape)  # botocore's client would accept them
            assert validate(operation.input_shape, params) == [], variant
        expected = normalise(params) if expected_input is None else expected_input(operation, params)
        for endpoint_url, signing_name in endpoint_list:
            where = f"{variant}, {endpoint_url}, signing name {signing_name}"
            request = client_request(operation, params, endpoint_url)
            match = routes.resolve(request.method, request.raw_path, request.query(), request.host, signing_name)
            assert (match.service, match.operation.name) == (service, operation.name), where

            parsed, unreadable = parse_request(
                match.operation, match.uri_params, request.query(), request.headers, request.body)
            assert unreadable == [], where
            if operation.input_shape is not None:
                assert validate(operation.input_shape, parsed) == [], where
            assert normalise(parsed) == expected, where


@pytest.mark.parametrize("service,operation_name", OPERATIONS, ids=IDS)
def test_input_round_trip(service, operation_name):
    check_input_round_trip(service, models.operation_model(service, operation_name), endpoints(service), router())


CLASSIC_IVS = models.service_model("ivs").operation_names


@pytest.mark.parametrize("operation_name", CLASSIC_IVS, ids=[f"ivs.{name}" for name in CLASSIC_IVS])
def test_classic_ivs_is_refused_not_misrouted(operation_name):
    """Classic IVS signs as ``ivs`` too, and shares the /tags routes: its requests must be
    refused by name, never answered as IVS Real-Time (tag ARNs name a classic resource)."""
    operation = models.operation_model("ivs", operation_name)
    values = ShapeValues(examples={"ResourceArn": ["arn:aws:ivs:us-west-2:123456789012:channel/{t}"]})
    params = values.value(operation.input_shape, f"ivs.{operation_name}") if operation.input_shape else {}
    real = "https://ivs.us-east-1.amazonaws.com"
    for endpoint_url, signing_name in [(LOCAL_ENDPOINTS[0], "ivs"), (real, None), (real, "ivs")]:
        request = client_request(operation, params, endpoint_url)
        with pytest.raises(ServiceError) as refused:
            router().resolve(request.method, request.raw_path, request.query(), request.host, signing_name)
        assert (refused.value.code, refused.value.status) == ("UnrecognizedService", 501), endpoint_url
        assert operation_name in refused.value.message


# ---------------------------------------------------------------------------- outputs

def check_output_round_trip(service: str, operation):
    shape = operation.output_shape
    for variant, values in OUTPUT_VARIANTS.items():
        output = values.value(shape, f"{service}.{operation.name}") if shape else {}
        if shape is not None:
            assert validate(shape, output) == [], variant
        status, headers, body = serialize_output(operation, copy.deepcopy(output))
        assert status == expected_status(operation, output), variant
        if not isinstance(body, bytes):  # a streamed payload: an iterable of chunks
            body = b"".join(body)
        response = {
            "status_code": status,
            "headers": HeadersDict(headers),
            # As botocore's endpoint hands it over (botocore.endpoint.convert_to_response_dict).
            "body": StreamingBody(io.BytesIO(body), len(body)) if operation.has_streaming_output else body,
            "context": {"operation_name": operation.name},
        }
        parsed = create_parser("rest-json").parse(response, shape)
        parsed.pop("ResponseMetadata")
        assert normalise(parsed) == expected_output(operation, output), variant


def expected_status(operation, output: dict) -> int:
    members = operation.output_shape.members if operation.output_shape else {}
    for name, member in members.items():
        if member.serialization.get("location") == "statusCode" and name in output:
            return output[name]
    return operation.http.get("responseCode", 200)


def expected_output(operation, output: dict):
    """What a client reads for ``output``: timestamps to the millisecond; a payload is always
    there (a stream maybe empty, a structure maybe {}), and so are the status code, header maps
    (maybe {}) and the Content-Type header (application/octet-stream for a blob payload,
    text/plain for a string one)."""
    expected = to_milliseconds(normalise(output))
    shape = operation.output_shape
    if shape is None:
        return expected
    for name, member in shape.members.items():
        if member.serialization.get("location") == "statusCode":
            expected.setdefault(name, expected_status(operation, output))
        elif member.serialization.get("location") == "headers":
            expected.setdefault(name, {})
    payload = shape.serialization.get("payload")
    if payload:
        kind = shape.members[payload].type_name
        expected.setdefault(payload, {"blob": b"", "string": ""}.get(kind, {}))
    for name, member in shape.members.items():
        if member.serialization.get("name", "").lower() == "content-type":
            default = {"blob": "application/octet-stream", "string": "text/plain"}
            expected.setdefault(name, default.get(shape.members[payload].type_name if payload else "", "application/json"))
    return expected


@pytest.mark.parametrize("service,operation_name", OPERATIONS, ids=IDS)
def test_output_round_trip(service, operation_name):
    check_output_round_trip(service, models.operation_model(service, operation_name))


# ---------------------------------------------------------------------------- errors

class RawBody:
    """The ``raw`` of an AWSResponse: what botocore reads a response body through."""

    def __init__(self, data: bytes):
        self._stream = io.BytesIO(data)

    def stream(self, **_):
        yield self._stream.read()

    def read(self, amt=None, **_):
        return self._stream.read(amt)


def service_error(code: str, message: str, fields: dict) -> ServiceError:
    # nimble's errors have a member named ``code``: it must not collide with the parameter.
    return ServiceError(code, message, **fields)


@pytest.mark.parametrize("service,operation_name", OPERATIONS, ids=IDS)
def test_errors_raise_modelled_exceptions(service, operation_name):
    operation = models.operation_model(service, operation_name)
    service_model = models.service_model(service)
    aws = client(service)
    params = ShapeValues().value(operation.input_shape, f"{service}.{operation_name}") if operation.input_shape else {}
    assert operation.error_shapes
    for shape in operation.error_shapes:
        code = shape.name
        message = f"{code} from {operation_name}: don't panic"
        message_name = message_member(shape)
        assert message_name is not None, f"{code} has no message member"
        fields = {name: value for name, value in ShapeValues().value(shape, code).items() if name != message_name}
        status, headers, body = serialize_error(service_model, service_error(code, message, fields))
        assert status == shape.metadata["error"]["httpStatusCode"], code
        # Only the emulator adds x-amzn-RequestId: botocore must not need it.
        assert "x-amzn-requestid" not in {name.lower() for name in headers}
        aws.respond = lambda request: AWSResponse(request.url, status, HeadersDict(headers), RawBody(body))

        with pytest.raises(getattr(aws.exceptions, code)) as raised:
            getattr(aws, xform_name(operation_name))(**copy.deepcopy(params))
        response = raised.value.response
        assert response["Error"]["Code"] == code
        assert response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert response[message_name] == message, code
        for name, value in fields.items():
            # The error type header member carries the code, whatever the handler put in it.
            expected = code if shape.members[name].serialization.get("name") == "x-amzn-ErrorType" else value
            assert response[name] == expected, f"{code}.{name}"


# ---------------------------------------------------------------------------- fixture model

def _member(shape, location=None, name=None, **traits):
    return {"shape": shape, **({"location": location} if location else {}),
            **({"locationName": name} if name else {}), **traits}


FIXTURE_SHAPES = {
    "String": {"type": "string"},
    "Label": {"type": "string", "min": 1},
    "CommaItem": {"type": "string", "pattern": ".*,.*"},
    "Integer": {"type": "integer"},
    "Long": {"type": "long"},
    "Double": {"type": "double"},
    "Float": {"type": "float"},
    "Boolean": {"type": "boolean"},
    "Timestamp": {"type": "timestamp"},
    "IsoTimestamp": {"type": "timestamp", "timestampFormat": "iso8601"},
    "EpochTimestamp": {"type": "timestamp", "timestampFormat": "unixTimestamp"},
    "HttpDate": {"type": "timestamp", "timestampFormat": "rfc822"},
    "Blob": {"type": "blob"},
    "StreamingBlob": {"type": "blob", "streaming": True},
    "Document": {"type": "structure", "members": {}, "document": True},
    "JsonValue": {"type": "string", "jsonvalue": True},
    "Secret": {"type": "string", "sensitive": True, "min": 8},
    "Strings": {"type": "list", "member": {"shape": "String"}},
    "CommaItems": {"type": "list", "member": {"shape": "CommaItem"}},
    "Integers": {"type": "list", "member": {"shape": "Integer"}},
    "Timestamps": {"type": "list", "member": {"shape": "Timestamp"}},
    "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
    "StringListMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Strings"}},
    "Nested": {"type": "structure", "required": ["Name"], "members": {
        "Name": _member("String"), "When": _member("Timestamp"), "IsoWhen": _member("IsoTimestamp"),
        "Data": _member("Blob"), "Ratio": _member("Float"), "Children": _member("NestedList"),
        "Attributes": _member("StringMap"), "Renamed": _member("String", name="renamedOnTheWire"),
        "Free": _member("Document"), "Password": _member("Secret"),
    }},
    "NestedList": {"type": "list", "member": {"shape": "Nested"}},
    "HostLabel": {"type": "string", "pattern": "[a-z0-9]+"},

    "EverywhereRequest": {"type": "structure", "required": ["Name", "Key", "Count"], "members": {
        "Name": _member("Label", "uri", "Name"),
        "Key": _member("Label", "uri", "Key"),
        "Count": _member("Integer", "uri", "Count"),
        "QText": _member("String", "querystring", "text"),
        "QInteger": _member("Integer", "querystring", "int"),
        "QLong": _member("Long", "querystring", "long"),
        "QBoolean": _member("Boolean", "querystring", "flag"),
        "QDouble": _member("Double", "querystring", "double"),
        "QTimestamp": _member("Timestamp", "querystring", "at"),
        "QEpoch": _member("EpochTimestamp", "querystring", "epoch"),
        "QStrings": _member("Strings", "querystring", "item"),
        "QIntegers": _member("Integers", "querystring", "number"),
        "QMap": _member("StringMap", "querystring"),
        "HText": _member("String", "header", "X-Text"),
        "HInteger": _member("Integer", "header", "X-Integer"),
        "HBoolean": _member("Boolean", "header", "X-Boolean"),
        "HDouble": _member("Double", "header", "X-Double"),
        "HTimestamp": _member("Timestamp", "header", "X-Timestamp"),
        "HIso": _member("IsoTimestamp", "header", "X-Iso-Timestamp"),
        "HEpoch": _member("EpochTimestamp", "header", "X-Epoch-Timestamp"),
        "HStrings": _member("CommaItems", "header", "X-Strings"),
        "HTimestamps": _member("Timestamps", "header", "X-Timestamps"),
        "HJson": _member("JsonValue", "header", "X-Json"),
        "HSecret": _member("Secret", "header", "X-Secret"),
        "HMap": _member("StringMap", "headers", "x-meta-"),
        "Token": _member("String", idempotencyToken=True),
        "Body": _member("Nested"),
        "Items": _member("NestedList"),
        "Big": _member("Long"),
        "Precise": _member("Double"),
        "Epoch": _member("Timestamp"),
        "Json": _member("Document"),
    }},
    "EverywhereResponse": {"type": "structure", "members": {
        "Status": _member("Integer", "statusCode"),
        "HText": _member("String", "header", "X-Text"),
        "HInteger": _member("Integer", "header", "X-Integer"),
        "HBoolean": _member("Boolean", "header", "X-Boolean"),
        "HDouble": _member("Double", "header", "X-Double"),
        "HTimestamp": _member("Timestamp", "header", "X-Timestamp"),
        "HIso": _member("IsoTimestamp", "header", "X-Iso-Timestamp"),
        "HStrings": _member("Strings", "header", "X-Strings"),
        "HJson": _member("JsonValue", "header", "X-Json"),
        "HMap": _member("StringMap", "headers", "x-meta-"),
        "Body": _member("Nested"),
        "Items": _member("NestedList"),
        "Big": _member("Long"),
        "Epoch": _member("Timestamp"),
        "Iso": _member("IsoTimestamp"),
        "Json": _member("Document"),
    }},
    "ListsRequest": {"type": "structure", "members": {
        "Mode": _member("String", "querystring", "mode"),
        "Filters": _member("StringListMap", "querystring"),
    }},
    "BlobPayloadRequest": {"type": "structure", "required": ["Id"], "payload": "Data", "members": {
        "Id": _member("Label", "uri", "Id"),
        "ContentType": _member("String", "header", "Content-Type"),
        "Data": _member("Blob"),
    }},
    "BlobPayloadResponse": {"type": "structure", "payload": "Data", "members": {
        "ContentType": _member("String", "header", "Content-Type"),
        "Data": _member("StreamingBlob"),
    }},
    "TextPayload": {"type": "structure", "required": ["Id"], "payload": "Text", "members": {
        "Id": _member("Label", "uri", "Id"),
        "Text": _member("String"),
    }},
    "TextPayloadResponse": {"type": "structure", "payload": "Text", "members": {"Text": _member("String")}},
    "StructurePayloadRequest": {"type": "structure", "required": ["Thing"], "payload": "Thing", "members": {
        "HText": _member("String", "header", "X-Text"),
        "Thing": _member("Nested"),
    }},
    "StructurePayloadResponse": {"type": "structure", "payload": "Thing", "members": {
        "HText": _member("String", "header", "X-Text"),
        "Thing": _member("Nested"),
    }},
    "HostPrefixedRequest": {"type": "structure", "required": ["Account"], "members": {
        "Account": _member("HostLabel", hostLabel=True),
        "Note": _member("String"),
    }},
}

FIXTURE_OPERATIONS = {
    # Greedy label in the middle, a literal query parameter and every query and header type.
    "Everywhere": {"http": {"method": "POST", "requestUri": "/things/{Name}/parts/{Key+}/count/{Count}?mode=full",
                            "responseCode": 200},
                   "input": {"shape": "EverywhereRequest"}, "output": {"shape": "EverywhereResponse"}},
    "Lists": {"http": {"method": "GET", "requestUri": "/lists?fixed"},
              "input": {"shape": "ListsRequest"}, "output": {"shape": "EverywhereResponse"}},
    "BlobPayload": {"http": {"method": "PUT", "requestUri": "/blobs/{Id}", "responseCode": 201},
                    "input": {"shape": "BlobPayloadRequest"}, "output": {"shape": "BlobPayloadResponse"}},
    "TextPayload": {"http": {"method": "PUT", "requestUri": "/texts/{Id}"},
                    "input": {"shape": "TextPayload"}, "output": {"shape": "TextPayloadResponse"}},
    "StructurePayload": {"http": {"method": "POST", "requestUri": "/structures"},
                         "input": {"shape": "StructurePayloadRequest"}, "output": {"shape": "StructurePayloadResponse"}},
    "HostPrefixed": {"http": {"method": "POST", "requestUri": "/prefixed"}, "endpoint": {"hostPrefix": "{Account}.data."},
                     "input": {"shape": "HostPrefixedRequest"}},
    "NoInput": {"http": {"method": "DELETE", "requestUri": "/nothing", "responseCode": 204}},
}

FIXTURE_MODEL = ServiceModel({
    "version": "2.0",
    "metadata": {"apiVersion": "2024-01-01", "endpointPrefix": "fixture", "protocol": "rest-json",
                 "protocols": ["rest-json"], "serviceId": "Fixture", "signatureVersion": "v4",
                 "signingName": "fixture-signer", "uid": "fixture-2024-01-01"},
    "operations": {name: {"name": name, **spec} for name, spec in FIXTURE_OPERATIONS.items()},
    "shapes": FIXTURE_SHAPES,
}, service_name="fixture")
FIXTURE_ENDPOINTS = [(url, "fixture-signer") for url in LOCAL_ENDPOINTS] + [
    ("https://fixture.us-east-1.amazonaws.com", None), ("https://fixture.us-east-1.amazonaws.com", "fixture-signer"),
]


@pytest.fixture
def fixture_router(monkeypatch) -> Router:
    """A Router that knows the fixture service (and the emulated ones, to route around)."""
    service_model = models.service_model
    monkeypatch.setattr(models, "service_model",
                        lambda name: FIXTURE_MODEL if name == "fixture" else service_model(name))
    return Router(services=("fixture", *models.EMULATED_SERVICES))


def expected_fixture_input(operation, params):
    """A structure payload is never absent on the wire: botocore sends {} for it."""
    expected = normalise(params)
    payload = operation.input_shape.serialization.get("payload") if operation.input_shape else None
    if payload and operation.input_shape.members[payload].type_name == "structure":
        expected.setdefault(payload, {})
    return expected


# botocore before 1.38 splits quoted header-list items at their commas and leaves numbers and
# booleans read from headers as strings (its own client-side behaviour, fixed in 1.37/1.38).
# No emulated model has a header list or a non-string header, so only the fixture model shows it.
OLD_HEADER_HANDLING = tuple(int(part) for part in botocore.__version__.split(".")[:2]) < (1, 38)
old_header_handling = pytest.mark.skipif(
    OLD_HEADER_HANDLING, reason=f"botocore {botocore.__version__} mishandles header lists/scalars (fixed in 1.38)")


@old_header_handling
@pytest.mark.parametrize("operation_name", FIXTURE_OPERATIONS)
def test_fixture_input_round_trip(operation_name, fixture_router):
    check_input_round_trip("fixture", FIXTURE_MODEL.operation_model(operation_name), FIXTURE_ENDPOINTS,
                           fixture_router, expected_fixture_input)


@old_header_handling
@pytest.mark.parametrize("operation_name", FIXTURE_OPERATIONS)
def test_fixture_output_round_trip(operation_name):
    check_output_round_trip("fixture", FIXTURE_MODEL.operation_model(operation_name))
