"""No input can crash a request or poison stored state (issue 13): what cannot be stored or read
back is refused at the edge with the same answer on every store, null members are absent, and
every failure is answered in the service's error shape."""
from __future__ import annotations

import json
import logging

import pytest
import requests
from botocore.exceptions import ClientError
from support import make_client

import greenroom
from greenroom.core.operations import HANDLERS
from greenroom.protocol import models, restjson


def error_of(call, *args, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    message = response["Error"].get("Message") or response.get("exceptionMessage", "")  # IVS's spelling
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], message


@pytest.fixture
def stored(db_url):
    """The in-process emulator on a SQLite file and on PostgreSQL."""
    with greenroom.mock(db_url=db_url) as mock:
        yield mock


# ----------------------------------------------------------------- 1, 4: refused at the edge

def test_a_lone_surrogate_is_refused_and_stores_nothing(stored):
    ivs = make_client("ivs-realtime")
    status, code, message = error_of(ivs.create_stage, name="s", tags={"k": "\ud800"})
    assert (status, code) == (400, "ValidationException")
    assert "tags.k.value" in message and "Unicode scalar values" in message
    error_of(ivs.create_stage, name="s\udc00")
    assert ivs.list_stages()["stages"] == []  # nothing stored, and the list still answers


def test_nul_in_an_identifier_is_refused_on_every_store(stored):
    kv = make_client("kinesisvideo")
    status, code, message = error_of(kv.create_stream, StreamName="cam\x00era")
    assert (status, code) == (400, "InvalidArgumentException") and "StreamName" in message
    status, code, _ = error_of(kv.describe_stream, StreamName="cam\x00era")
    assert (status, code) == (400, "InvalidArgumentException")
    kv.create_stream(StreamName="camera")
    assert [s["StreamName"] for s in kv.list_streams()["StreamInfoList"]] == ["camera"]


def test_a_region_must_be_a_region_name_on_every_store(stored):
    odd = make_client("kinesisvideo", region="x" * 40)
    status, code, message = error_of(odd.create_stream, StreamName="far")
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Credential should be scoped to a valid region, not 'xxxx")
    error_of(make_client("kinesisvideo", region="Not-A-Region").list_streams)
    # Real region names, long or short, still work
    for region in ("us-gov-west-1", "ap-southeast-4", "eu-isoe-west-1"):
        make_client("kinesisvideo", region=region).create_stream(StreamName="near")
    assert make_client("kinesisvideo", region="ap-southeast-4").list_streams()["StreamInfoList"]


def test_the_clock_stays_within_what_the_services_show(server):
    response = server.admin("POST", "clock", {"set": 1e20})
    assert response.status_code == 400 and "3000-01-01" in message_of(response)
    for change in ({"set": 10**400}, {"advance": 1e300}, {"set": -1}):
        assert server.admin("POST", "clock", change).status_code == 400
    kv = server.client("kinesisvideo")
    arn = kv.create_stream(StreamName="after")["StreamARN"]
    assert kv.describe_stream(StreamARN=arn)["StreamInfo"]["StreamName"] == "after"
    assert server.admin("POST", "delays", {"kinesisvideo.stream.create": 1e300}).status_code == 400


def test_timestamps_out_of_range_are_validation_errors(server):
    server.client("kinesisvideo").create_stream(StreamName="cam")
    for start in (1e20, -1e20, "1e20", "NaN"):
        body = {"StreamName": "cam", "FragmentSelector": {
            "FragmentSelectorType": "SERVER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": start, "EndTimestamp": 1700000000}}}
        response = _post(server, "/listFragments", body, "kinesisvideo")
        assert response.status_code == 400, (start, response.text)
        assert message_of(response).startswith("1 validation error detected"), response.text
        assert "Member must be of type timestamp" in message_of(response)


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_numbers_json_does_not_have_are_invalid_json(server, number):
    response = _post(server, "/createStream", b'{"StreamName": "n", "DataRetentionInHours": ' + number + b"}",
                     "kinesisvideo")
    assert (response.status_code, response.headers["x-amzn-ErrorType"]) == (400, "SerializationException")


# ----------------------------------------------------------------- 3: null is absent

def test_an_explicit_null_is_an_absent_member(server):
    response = _post(server, "/createStream", {"StreamName": "n", "DataRetentionInHours": None,
                                               "Tags": None, "KmsKeyId": None}, "kinesisvideo")
    assert response.status_code == 200, response.text
    stream = server.client("kinesisvideo").describe_stream(StreamName="n")["StreamInfo"]
    assert stream["DataRetentionInHours"] == 0
    # A null required member is a missing one
    response = _post(server, "/createStream", {"StreamName": None}, "kinesisvideo")
    assert response.status_code == 400 and "Value null at 'StreamName'" in message_of(response)


def test_null_is_absent_for_every_operation():
    """The parser itself drops null members, for every body member of every operation."""
    for service in ("ivs-realtime", "gameliftstreams", "nimble", "kinesisvideo", "kinesis-video-archived-media"):
        model = models.service_model(service)
        for name in model.operation_names:
            operation = model.operation_model(name)
            shape = operation.input_shape
            if shape is None or shape.serialization.get("payload"):
                continue
            body = {member.serialization.get("name", key): None for key, member in shape.members.items()
                    if member.serialization.get("location") is None}
            params, problems = restjson.parse_request(operation, {}, {}, {}, json.dumps(body).encode())
            assert params == {} and problems == [], (service, name)


# ----------------------------------------------------------------- 2: every failure answered

def test_deep_json_is_a_serialization_error(server):
    response = _post(server, "/createStream", b"[" * 100_000 + b"]" * 100_000, "kinesisvideo")
    assert (response.status_code, response.headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    response = server.admin("POST", "delays", data=b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in message_of(response)


def test_a_message_echoing_a_lone_surrogate_is_valid_json(server):
    response = _post(server, "/createStream", b'{"StreamName": "\\ud800"}', "kinesisvideo")
    assert response.status_code == 400
    assert "\\ud800" in message_of(response)  # escaped, readable as UTF-8


def test_long_values_are_not_echoed_whole(server):
    response = _post(server, "/createStream", {"StreamName": "n" * 1_000_000}, "kinesisvideo")
    assert response.status_code == 400
    assert len(response.content) < 2000
    assert message_of(response) == ("1 validation error detected: Value at 'StreamName' failed to satisfy "
                                          "constraint: Member must have length less than or equal to 256")


def test_an_unexpected_failure_is_answered_in_the_services_shape(caplog, monkeypatch):
    with greenroom.mock() as mock:
        def broken(ctx, req):
            raise RuntimeError("boom")
        monkeypatch.setitem(HANDLERS, ("kinesisvideo", "ListStreams"), broken)
        kv = mock.client("kinesisvideo")
        with caplog.at_level(logging.ERROR, logger="greenroom"):
            status, code, message = error_of(kv.list_streams)
        assert (status, code) == (500, "InternalFailure")
        assert "RuntimeError: boom" in caplog.text  # logged with its traceback
        # A failure outside any handler (here: serializing the answer) too
        monkeypatch.setattr(restjson, "serialize_output", lambda *a: 1 / 0)
        monkeypatch.setitem(HANDLERS, ("kinesisvideo", "ListStreams"), lambda ctx, req: {})
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="greenroom"):
            status, code, _ = error_of(kv.list_streams)
        assert status == 500 and "ZeroDivisionError" in caplog.text


def message_of(response: requests.Response) -> str:
    """The error message, however the service spells its member (message, Message, exceptionMessage)."""
    document = response.json()
    return next(value for key, value in document.items() if key.lower() in ("message", "exceptionmessage"))


def _post(server, path: str, body, signing_name: str) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(server.base_url + path, data=data, timeout=30, headers={
        "Content-Type": "application/json",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/{signing_name}/aws4_request, "
                         "SignedHeaders=host, Signature=00"})


# ----------------------------------------------------------------- 5: size limits, off the loop

def test_bodies_over_the_limit_are_refused_before_they_are_read(server):
    from greenroom.server import MAX_REQUEST_BODY_BYTES
    response = _post(server, "/createStream", b'{"StreamName": "' + b"x" * MAX_REQUEST_BODY_BYTES + b'"}',
                     "kinesisvideo")
    assert response.status_code == 413
    assert response.headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert "exceeds the maximum" in message_of(response)
    # A body within the limit is read and answered as usual
    response = _post(server, "/createStream", {"StreamName": "x" * 1_000_000}, "kinesisvideo")
    assert response.status_code == 400 and "Member must have length" in message_of(response)


def test_a_large_body_does_not_hold_up_other_requests():
    """While a large request is being handled (held here on purpose), small ones are answered."""
    import asyncio
    import threading

    from greenroom.server import INLINE_BODY_BYTES, App

    with greenroom.mock() as mock:
        emulator = mock.emulator
        release, entered = threading.Event(), threading.Event()
        original = emulator.handle

        def handle(request):
            if len(request.body) > INLINE_BODY_BYTES:
                entered.set()
                release.wait(10)
            return original(request)

        emulator.handle = handle
        app = App(emulator)

        async def call(body: bytes) -> int:
            sent = []

            async def receive():
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message):
                sent.append(message)

            await app({"type": "http", "method": "POST", "path": "/listStreams", "raw_path": b"/listStreams",
                       "query_string": b"", "headers": [(b"content-type", b"application/json")]}, receive, send)
            return sent[0]["status"]

        async def scenario():
            large = asyncio.ensure_future(call(b'{"MaxResults": 1, "pad": "' + b"x" * INLINE_BODY_BYTES * 2 + b'"}'))
            await asyncio.get_running_loop().run_in_executor(None, entered.wait, 10)
            small = await asyncio.wait_for(call(b"{}"), 10)  # answered while the large one is held
            assert not large.done()
            release.set()
            return small, await large

        try:
            assert asyncio.run(scenario()) == (200, 200)
        finally:
            release.set()
            app._workers.shutdown(wait=True)
