"""Clients whose models differ from greenroom's: an operation a newer model has answers 501
naming it (never a bare 404), and errors show their message in botocore and the CLI."""
from __future__ import annotations

import json

import boto3
import botocore.exceptions
import botocore.session
import greenroom
import pytest
import requests

from greenroom.protocol.models import MODELS_DIR

NEWER_OPERATION = "CreateStreamFrobnicator"


@pytest.fixture
def newer_models(tmp_path):
    """A copy of greenroom's gameliftstreams model with one more operation, as a newer botocore
    would have it, first on a client's search path."""
    model = json.loads((MODELS_DIR / "gameliftstreams/2018-05-10/service-2.json").read_text())
    model["operations"][NEWER_OPERATION] = {
        "name": NEWER_OPERATION,
        "http": {"method": "POST", "requestUri": "/streamgroups/{Identifier}/frobnicators", "responseCode": 201},
        "input": {"shape": "CreateStreamFrobnicatorInput"},
        "output": {"shape": "CreateStreamFrobnicatorOutput"},
    }
    model["shapes"]["CreateStreamFrobnicatorInput"] = {
        "type": "structure", "required": ["Identifier"],
        "members": {"Identifier": {"shape": "Identifier", "location": "uri", "locationName": "Identifier"},
                    "Description": {"shape": "Description"}},
    }
    model["shapes"]["CreateStreamFrobnicatorOutput"] = {"type": "structure", "members": {"Arn": {"shape": "Arn"}}}
    target = tmp_path / "gameliftstreams/2018-05-10"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return tmp_path


def newer_client(models_dir, endpoint_url=None):
    core = botocore.session.Session()
    core.get_component("data_loader").search_paths.insert(0, str(models_dir))
    return boto3.session.Session(botocore_session=core).client(
        "gameliftstreams", region_name="us-east-1", endpoint_url=endpoint_url,
        aws_access_key_id="AKIDGREENROOMTEST", aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def assert_not_implemented(error: botocore.exceptions.ClientError, naming: str):
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error.response["Error"]["Code"] == "NotImplemented"
    assert naming in error.response["Error"]["Message"]
    assert naming in str(error)


def test_operation_of_a_newer_model_is_501_on_the_server(server, newer_models):
    client = newer_client(newer_models, server.base_url)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.create_stream_frobnicator(Identifier="sg-1AB2C3De4", Description="x")
    # botocore names no operation on the wire: the message names the request instead.
    assert_not_implemented(caught.value, "POST /streamgroups/sg-1AB2C3De4/frobnicators")
    assert "gameliftstreams" in caught.value.response["Error"]["Message"]
    # Known operations still work through the same client.
    assert client.list_stream_groups()["Items"] == []


def test_operation_of_a_newer_model_is_501_naming_it_in_process(newer_models):
    with greenroom.mock():
        client = newer_client(newer_models)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            client.create_stream_frobnicator(Identifier="sg-1AB2C3De4")
        assert_not_implemented(caught.value, f"gameliftstreams {NEWER_OPERATION}")
        assert client.list_stream_groups()["Items"] == []


def test_cli_user_agent_names_the_operation(server):
    # What the AWS CLI v2 sends (its User-Agent names the command) for an operation greenroom lacks.
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261122/us-east-1/gameliftstreams/aws4_request, "
                         "SignedHeaders=host, Signature=00",
        "User-Agent": "aws-cli/2.31.0 md/awscrt#0.27.6 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.13.7 "
                      "md/pyimpl#CPython m/E,Z cfg/retry-mode#standard md/installer#exe md/prompt#off "
                      "md/command#gameliftstreams.create-stream-frobnicator",
    }
    response = requests.post(f"{server.base_url}/streamgroups/sg-1/frobnicators", headers=headers, data="{}")
    assert response.status_code == 501
    assert "gameliftstreams create-stream-frobnicator" in response.json()["message"]


def test_ivs_realtime_errors_show_their_message(emulated):
    ivs = emulated.client("ivs-realtime")
    arn = "arn:aws:ivs:us-east-1:123456789012:stage/abcdABCD1234"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        ivs.get_stage(arn=arn)
    error = caught.value
    assert error.response["Error"]["Code"] == "ResourceNotFoundException"
    message = error.response["Error"]["Message"]
    assert message  # blank before: botocore reads `message`, IVS spells it `exceptionMessage`
    assert message in str(error)
    # The modelled member is still there for clients that read it.
    assert error.response["exceptionMessage"] == message


def _aws_cli(server, tmp_path, *args):
    """The AWS CLI as on a clean machine: no config files, dummy credentials and a region in
    the environment (what the README says to set)."""
    pytest.importorskip("awscli")
    import os
    import subprocess
    import sys

    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
                   "AWS_ACCESS_KEY_ID": "123456789012", "AWS_SECRET_ACCESS_KEY": "any",
                   "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", server.base_url, *args],
                          capture_output=True, text=True, timeout=60, env=environment)


def test_aws_cli_on_a_clean_machine_and_ivs_error_messages(server, tmp_path):
    listed = _aws_cli(server, tmp_path, "kinesisvideo", "list-streams")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["StreamInfoList"] == []
    arn = "arn:aws:ivs:us-east-1:123456789012:stage/abcdABCD1234"
    missing = _aws_cli(server, tmp_path, "ivs-realtime", "get-stage", "--arn", arn)
    assert missing.returncode != 0
    # The CLI prints "...(ResourceNotFoundException) when calling the GetStage operation: <message>".
    shown = missing.stderr.strip().rsplit("operation:", 1)[1].strip()
    assert shown  # blank before IVS errors carried `message`
    assert "ResourceNotFoundException" in missing.stderr


# (Kinesis Video's signaling and storage operations were the examples here until they got handlers.)
@pytest.mark.parametrize("service, call, operation", [
    ("gameliftstreams", lambda c: c.create_stream_session_admin_shell(
        Identifier="sg-1a2b3c4d5", StreamSessionIdentifier="ses-1a2b3c4d5"), "CreateStreamSessionAdminShell"),
])
def test_shipped_models_without_handlers_answer_501_naming_the_operation(emulated, service, call, operation):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(emulated.client(service))
    assert_not_implemented(caught.value, f"{service} {operation}")
