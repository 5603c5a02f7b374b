"""The engine over the wire: routing, validation, errors and their shapes, request ids."""
from __future__ import annotations

import json

import botocore.exceptions
import pytest
import requests

from greenroom.core.operations import HANDLERS
from greenroom.emulator import Emulator
from greenroom.protocol.http import HttpRequest



def sigv4_header(service: str, access_key: str = "AKIDTEST", region: str = "us-east-1") -> dict:
    """Just the credential scope greenroom reads (signatures themselves are not checked)."""
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/20261122/{region}/{service}/aws4_request, "
                             "SignedHeaders=host, Signature=00"}


def test_unknown_route_names_method_and_path(server):
    # Signed for an emulated service: an operation of a newer model than greenroom's is the
    # likely cause, so 501 (never a bare 404); an unsigned request matching nothing is a 404.
    response = requests.post(f"{server.base_url}/NoSuchOperation", headers=sigv4_header("ivs"), data="{}")
    assert response.status_code == 501
    assert response.headers["x-amzn-ErrorType"] == "NotImplemented"
    assert "POST /NoSuchOperation" in response.json()["message"]
    assert response.headers["x-amzn-RequestId"]
    unsigned = requests.post(f"{server.base_url}/NoSuchOperation", data="{}")
    assert unsigned.status_code == 404
    assert unsigned.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "POST /NoSuchOperation" in unsigned.json()["message"]


def test_operation_without_handler_is_501_naming_it(greenroom, monkeypatch):
    monkeypatch.delitem(HANDLERS, ("ivs-realtime", "GetStage"), raising=False)
    ivs = greenroom.client("ivs-realtime")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        ivs.get_stage(arn="arn:aws:ivs:us-east-1:123456789012:stage/abcdABCD1234")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Error"]["Code"] == "NotImplemented"
    assert "ivs-realtime GetStage" in error["Error"]["Message"]


# Routing is observed through validation, which answers before any handler runs: a request
# that fails the input shape of operation X, in the error shape of X's service, went to X.

def test_host_prefix_routes_without_a_signature(server):
    # Unsigned requests: only the Host header says which service they are for.
    response = requests.post(f"{server.base_url}/GetStage", data='{"arn": "not-an-arn"}',
                             headers={"Host": "ivsrealtime.us-east-1.amazonaws.com"})
    assert response.status_code == 400
    assert "Value 'not-an-arn' at 'arn'" in response.json()["exceptionMessage"]
    response = requests.get(f"{server.base_url}/applications?MaxResults=0",
                            headers={"Host": "gameliftstreams.us-east-1.api.aws"})
    assert response.status_code == 400
    assert "'MaxResults'" in response.json()["Message"]


def test_classic_ivs_is_recognised_and_refused(server):
    response = requests.post(f"{server.base_url}/CreateChannel", headers=sigv4_header("ivs"), data="{}")
    assert response.status_code == 501
    assert "'ivs'" in response.json()["message"] and "CreateChannel" in response.json()["message"]


def test_shared_tag_routes_are_told_apart_by_arn(server):
    from urllib.parse import quote

    def list_tags(arn):
        return requests.get(f"{server.base_url}/tags/{quote(arn, safe='')}", headers=sigv4_header("ivs"))

    # A stage is IVS Real-Time's: its ListTagsForResource validates the ARN (and, fixed by
    # greenroom, accepts real ones: the model's pattern allows a one-letter resource type).
    realtime = list_tags("arn:aws:ivs:us-east-1:123456789012:stage/bad_id")
    assert realtime.status_code == 400
    assert "at 'resourceArn'" in realtime.json()["exceptionMessage"]
    assert list_tags("arn:aws:ivs:us-east-1:123456789012:stage/abcdABCD1234").status_code != 400
    # A channel is classic IVS's, which greenroom does not emulate.
    classic = list_tags("arn:aws:ivs:us-east-1:123456789012:channel/abcdABCD1234")
    assert classic.status_code == 501 and "'ivs' service" in classic.json()["message"]


def test_every_validation_problem_in_one_error(emulated):
    kv = emulated.client("kinesisvideo")
    with pytest.raises(kv.exceptions.InvalidArgumentException) as caught:
        kv.create_stream(StreamName="bad name!", DataRetentionInHours=-1, MediaType="video")
    message = caught.value.response["Error"]["Message"]
    assert message.startswith("3 validation errors detected: ")
    for path in ("'StreamName'", "'DataRetentionInHours'", "'MediaType'"):
        assert path in message


def test_validation_error_uses_the_services_own_shape(emulated):
    ivs = emulated.client("ivs-realtime")
    with pytest.raises(ivs.exceptions.ValidationException) as caught:
        ivs.create_stage(name="x" * 129)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Member must have length less than or equal to 128" in response["exceptionMessage"]

    nimble = emulated.client("nimble", region="us-west-2")
    with pytest.raises(nimble.exceptions.ValidationException) as caught:
        nimble.list_studio_members(studioId="studio", maxResults=0)
    assert "'maxResults'" in caught.value.response["Error"]["Message"]


def test_wrongly_typed_query_value_is_a_validation_error(server):
    response = requests.get(f"{server.base_url}/applications?MaxResults=many",
                            headers=sigv4_header("gameliftstreams"))
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "Value 'many' at 'MaxResults'" in response.json()["Message"]


def test_malformed_json_body(server):
    response = requests.post(f"{server.base_url}/createStream", headers=sigv4_header("kinesisvideo"),
                             data="{not json")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "SerializationException"


def test_request_id_on_every_response(server):
    kv = server.client("kinesisvideo")
    ok = kv.list_streams()
    assert ok["ResponseMetadata"]["RequestId"]
    with pytest.raises(kv.exceptions.ResourceNotFoundException) as caught:
        kv.describe_stream(StreamName="missing")
    assert caught.value.response["ResponseMetadata"]["RequestId"] != ok["ResponseMetadata"]["RequestId"]


def test_handler_bug_is_a_500_in_the_internal_error_shape(monkeypatch, caplog):
    emulator = Emulator(None)

    def broken(ctx, request):
        raise KeyError("a bug")

    monkeypatch.setitem(HANDLERS, ("gameliftstreams", "ListApplications"), broken)
    response = emulator.handle(HttpRequest("GET", "/applications", host="gameliftstreams.us-east-1.api.aws"))
    assert response.status == 500
    assert response.headers["x-amzn-ErrorType"] == "InternalServerException"
    assert "ListApplications" in json.loads(response.body)["Message"]
    assert "KeyError" in caplog.text  # logged with its traceback
    # The emulator keeps answering.
    monkeypatch.setitem(HANDLERS, ("gameliftstreams", "ListApplications"), lambda ctx, request: {"Items": []})
    assert emulator.handle(HttpRequest("GET", "/applications", host="gameliftstreams.us-east-1.api.aws")).status == 200


def test_handler_bug_in_a_service_without_an_internal_error_shape(monkeypatch):
    emulator = Emulator(None)
    monkeypatch.setitem(HANDLERS, ("kinesisvideo", "ListStreams"), lambda ctx, request: 1 / 0)
    response = emulator.handle(HttpRequest("POST", "/listStreams", host="localhost", body=b"{}"))
    assert response.status == 500
    assert response.headers["x-amzn-ErrorType"] == "InternalFailure"


def test_failed_handler_writes_nothing(monkeypatch):
    """One transaction per request: a handler that fails after writing leaves no trace."""
    from greenroom.services.kinesisvideo import streams
    emulator = Emulator(None)

    def create_then_fail(ctx, request):
        streams.create_stream(ctx, request)
        raise RuntimeError("after the write")

    monkeypatch.setitem(HANDLERS, ("kinesisvideo", "CreateStream"), create_then_fail)
    body = json.dumps({"StreamName": "half"}).encode()
    assert emulator.handle(HttpRequest("POST", "/createStream", host="x", body=body)).status == 500
    listed = emulator.handle(HttpRequest("POST", "/listStreams", host="x", body=b"{}"))
    assert json.loads(listed.body)["StreamInfoList"] == []


def test_state_is_isolated_per_account_and_region(emulated):
    mine = emulated.client("kinesisvideo", aws_access_key_id="111122223333")
    mine.create_stream(StreamName="shared-name")
    other_account = emulated.client("kinesisvideo", aws_access_key_id="444455556666")
    other_region = emulated.client("kinesisvideo", aws_access_key_id="111122223333", region="eu-west-1")
    assert other_account.list_streams()["StreamInfoList"] == []
    assert other_region.list_streams()["StreamInfoList"] == []
    other_account.create_stream(StreamName="shared-name")  # no conflict across accounts
    arn = mine.describe_stream(StreamName="shared-name")["StreamInfo"]["StreamARN"]
    assert ":us-east-1:111122223333:stream/shared-name/" in arn


def test_kinesis_video_errors_carry_both_error_type_headers(server):
    response = requests.post(f"{server.base_url}/describeStream", headers=sigv4_header("kinesisvideo"),
                             data='{"StreamName": "missing"}')
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == response.headers["x-amz-ErrorType"] == "ResourceNotFoundException"
