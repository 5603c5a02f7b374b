"""The in-process mode: context manager, decorator, pytest fixture; nothing leaves the process."""
from __future__ import annotations

import os

import boto3
import botocore.config
import botocore.exceptions
import pytest

import greenroom
from greenroom import NotEmulatedError


def test_context_manager_answers_clients_created_inside():
    with greenroom.mock() as gr:
        kv = boto3.client("kinesisvideo", region_name="us-east-1")
        kv.create_stream(StreamName="cam")
        assert [s["StreamName"] for s in gr.client("kinesisvideo").list_streams()["StreamInfoList"]] == ["cam"]


def test_each_mock_starts_empty():
    with greenroom.mock():
        boto3.client("kinesisvideo", region_name="us-east-1").create_stream(StreamName="cam")
    with greenroom.mock():
        assert boto3.client("kinesisvideo", region_name="us-east-1").list_streams()["StreamInfoList"] == []


@greenroom.mock()
def test_decorator():
    kv = boto3.client("kinesisvideo", region_name="us-east-1")
    kv.create_stream(StreamName="decorated")
    assert kv.describe_stream(StreamName="decorated")["StreamInfo"]["Status"] == "CREATING"


def test_pytest_fixture(greenroom):
    kv = greenroom.client("kinesisvideo")
    kv.create_stream(StreamName="cam")
    greenroom.clock.advance(60)
    assert kv.describe_stream(StreamName="cam")["StreamInfo"]["Status"] == "ACTIVE"
    greenroom.reset()
    assert kv.list_streams()["StreamInfoList"] == []


def test_delays_are_configurable(greenroom):
    greenroom.delays.set("kinesisvideo.stream.create", 0)
    kv = greenroom.client("kinesisvideo")
    kv.create_stream(StreamName="instant")
    assert kv.describe_stream(StreamName="instant")["StreamInfo"]["Status"] == "ACTIVE"


def test_delays_are_set_by_item(greenroom):
    greenroom.delays["kinesisvideo.stream.create"] = 0
    assert greenroom.delays["kinesisvideo.stream.create"] == 0
    kv = greenroom.client("kinesisvideo")
    kv.create_stream(StreamName="instant")
    assert kv.describe_stream(StreamName="instant")["StreamInfo"]["Status"] == "ACTIVE"
    with pytest.raises(ValueError):
        greenroom.delays["no.such.delay"] = 1


def test_nimble_client_works_without_aws_data_path(monkeypatch):
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    with greenroom.mock():
        nimble = boto3.client("nimble", region_name="us-west-2",
                              config=botocore.config.Config(parameter_validation=False))
        # Answered by greenroom's validation in nimble's own error shape.
        with pytest.raises(nimble.exceptions.ValidationException) as caught:
            nimble.list_studio_members(studioId="studio", maxResults=0)
        assert "'maxResults'" in caught.value.response["Error"]["Message"]


def test_services_not_emulated_are_refused_in_process():
    with greenroom.mock():
        s3 = boto3.client("s3", region_name="us-east-1")
        with pytest.raises(NotEmulatedError, match="'s3'"):
            s3.list_buckets()


def test_stopping_restores_the_environment_and_real_clients(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with greenroom.mock():
        assert os.environ["AWS_ACCESS_KEY_ID"]
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    # A client made after the mock stopped goes to its endpoint for real (nothing listens here).
    kv = boto3.client("kinesisvideo", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                      aws_access_key_id="a", aws_secret_access_key="b",
                      config=botocore.config.Config(retries={"max_attempts": 0}))
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        kv.list_streams()


def test_seeded_mocks_generate_the_same_ids():
    def versions():
        with greenroom.mock(seed=7) as gr:
            kv = gr.client("kinesisvideo")
            kv.create_stream(StreamName="cam")
            return kv.describe_stream(StreamName="cam")["StreamInfo"]["Version"]
    assert versions() == versions()
