"""Strict SigV4 on demand (``greenroom serve --verify-signatures --credentials FILE``,
``greenroom.mock(credentials=...)``): requests signed by real clients pass, anything else is
refused with the error AWS answers; the default mode still accepts any signature."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError
from support import make_client

import greenroom

KEY, SECRET, ACCOUNT = "AKIDVERIFIED", "verified-secret", "210987654321"
TEMP_KEY, TEMP_SECRET, TOKEN = "ASIATEMPORARY", "temporary-secret", "session-token-1"
CREDENTIALS = [
    {"accessKeyId": KEY, "secretAccessKey": SECRET, "account": ACCOUNT},
    {"accessKeyId": TEMP_KEY, "secretAccessKey": TEMP_SECRET, "account": ACCOUNT, "sessionToken": TOKEN},
    {"accessKeyId": "ASIAEXPIRED", "secretAccessKey": "x", "account": ACCOUNT, "sessionToken": "old",
     "expiration": "2020-01-01T00:00:00Z"},
]
PLAYERS_DIR = Path(__file__).resolve().parent / "players"
REQUIRE_PLAYERS = os.environ.get("GREENROOM_REQUIRE_PLAYERS") == "1"


def refusal(call, *args, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


@pytest.fixture
def strict():
    with greenroom.mock(credentials=CREDENTIALS) as mock:
        yield mock


@pytest.fixture
def strict_server(launch, tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(CREDENTIALS))
    return launch("--ephemeral", "--verify-signatures", "--credentials", str(path))


def kv(where, key=KEY, secret=SECRET, **kwargs):
    return make_client("kinesisvideo", getattr(where, "base_url", None), aws_access_key_id=key,
                       aws_secret_access_key=secret, **kwargs)


def test_requests_signed_by_boto3_pass_and_belong_to_the_keys_account(strict):
    client = kv(strict)
    arn = client.create_stream(StreamName="signed")["StreamARN"]
    assert f":{ACCOUNT}:" in arn
    assert [s["StreamName"] for s in client.list_streams()["StreamInfoList"]] == ["signed"]
    # Query strings, labels and headers are signed too (Nimble: list query, path label)
    nimble = make_client("nimble", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    status, code, _ = refusal(nimble.list_eula_acceptances, studioId="studio x", eulaIds=["a b", "c/d"])
    assert (status, code) == (404, "ResourceNotFoundException")  # got past the signature check


def test_wrong_secret_unknown_key_and_missing_signature_are_refused(strict):
    status, code, message = refusal(kv(strict, secret="not-the-secret").list_streams)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    assert "The Canonical String for this request should have been" in message
    assert refusal(kv(strict, key="AKIDUNKNOWN").list_streams)[:3] == (
        403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    response = strict.emulator.handle(_plain_request("/listStreams"))
    assert (response.status, response.headers["x-amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")


def test_a_tampered_body_or_header_is_refused(strict):
    client = kv(strict)

    def tamper_body(request, **_):
        request.body = request.body.replace(b'"kept"', b'"evil"')

    client.meta.events.register_first("before-send.kinesis-video.CreateStream", tamper_body)
    assert refusal(client.create_stream, StreamName="kept")[:2] == (403, "InvalidSignatureException")

    other = kv(strict)

    def tamper_header(request, **_):
        request.headers["Content-Type"] = "application/x-evil"

    other.meta.events.register_first("before-send.kinesis-video.ListStreams", tamper_header)
    assert refusal(other.list_streams)[:2] == (403, "InvalidSignatureException")
    assert kv(strict).list_streams()["StreamInfoList"] == []  # nothing was created


def test_a_skewed_date_is_refused_with_awss_message(strict):
    verifier = strict.emulator.verifier
    verifier.clock = lambda: time.time() + 600  # the client's clock is 10 minutes behind
    status, code, message = refusal(kv(strict).list_streams)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired: ") and message.endswith(" - 5 min.)")
    verifier.clock = lambda: time.time() - 600  # ... 10 minutes ahead
    assert refusal(kv(strict).list_streams)[2].startswith("Signature not yet current: ")
    verifier.clock = lambda: time.time() + 240  # within 5 minutes: fine
    kv(strict).list_streams()


def test_session_tokens(strict):
    good = kv(strict, key=TEMP_KEY, secret=TEMP_SECRET, aws_session_token=TOKEN)
    good.list_streams()
    wrong = kv(strict, key=TEMP_KEY, secret=TEMP_SECRET, aws_session_token="another")
    assert refusal(wrong.list_streams)[:2] == (403, "UnrecognizedClientException")
    missing = kv(strict, key=TEMP_KEY, secret=TEMP_SECRET)
    assert refusal(missing.list_streams)[:2] == (403, "UnrecognizedClientException")
    expired = kv(strict, key="ASIAEXPIRED", secret="x", aws_session_token="old")
    assert refusal(expired.list_streams)[:3] == (
        403, "ExpiredTokenException", "The security token included in the request is expired")


def test_presigned_urls_are_checked_and_expire(strict_server):
    nimble = make_client("nimble", strict_server.base_url, aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    url = nimble.generate_presigned_url("list_studios", ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.json()["studios"] == []
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    assert requests.get(tampered, timeout=10).headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    # Signed 2 minutes ago for 60 seconds: expired
    with greenroom.mock(credentials=CREDENTIALS) as mock:
        mock.emulator.verifier.clock = lambda: time.time() + 120
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        from greenroom.protocol.http import HttpRequest
        answer = mock.emulator.handle(HttpRequest("GET", parts.path, parts.query, {"host": parts.netloc},
                                                  host=parts.netloc))
        assert answer.status == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
        assert json.loads(answer.body)["message"].startswith("Signature expired: ")


def test_the_server_verifies_and_the_default_mode_accepts_anything(strict_server, server):
    kv(strict_server).create_stream(StreamName="strict")
    assert refusal(kv(strict_server, secret="wrong").list_streams)[:2] == (403, "InvalidSignatureException")
    # Without --verify-signatures any key and secret will do
    assert kv(server, key="anything", secret="whatever").list_streams()["StreamInfoList"] == []


def test_put_media_is_verified_with_its_unsigned_payload(strict_server, tmp_path):
    """greenroom's producer signs PutMedia as the KVS SDKs do (headers signed, live body
    UNSIGNED-PAYLOAD): the right key streams, a wrong secret is refused before any media."""
    from greenroom.media.producer import PutMediaError, put_media_file
    from greenroom.media.testsrc import synthetic_video
    control = kv(strict_server)
    control.create_stream(StreamName="cam", DataRetentionInHours=1)
    _wait_active(control, "cam")
    endpoint = control.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"]
    video = tmp_path / "clip.mkv"
    video.write_bytes(synthetic_video(seconds=2))
    result = put_media_file(endpoint, "cam", str(video), access_key=KEY, secret_key=SECRET)
    assert result.of_type("PERSISTED") or result.of_type("RECEIVED")
    with pytest.raises(PutMediaError) as refused:
        put_media_file(endpoint, "cam", str(video), access_key=KEY, secret_key="wrong")
    assert "403" in str(refused.value) and "InvalidSignatureException" in str(refused.value)


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_signatures_pass(strict_server):
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                   "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    environment.pop("AWS_SESSION_TOKEN", None)

    def aws(*args):
        return subprocess.run(["aws", "--endpoint-url", strict_server.base_url, *args],
                              capture_output=True, text=True, env=environment, timeout=60)

    created = aws("kinesisvideo", "create-stream", "--stream-name", "from-cli")
    assert created.returncode == 0, created.stderr
    listed = aws("kinesisvideo", "list-streams")
    assert [s["StreamName"] for s in json.loads(listed.stdout)["StreamInfoList"]] == ["from-cli"]
    environment["AWS_SECRET_ACCESS_KEY"] = "wrong"
    refused = aws("kinesisvideo", "list-streams")
    assert refused.returncode != 0 and "InvalidSignatureException" in refused.stderr


JS_CLIENT = r"""
const { KinesisVideoClient, CreateStreamCommand, ListStreamsCommand } = require("@aws-sdk/client-kinesis-video");
const [endpoint, key, secret] = process.argv.slice(1);  // node -e: no script path
const client = new KinesisVideoClient({ endpoint, region: "us-east-1",
  credentials: { accessKeyId: key, secretAccessKey: secret } });
(async () => {
  try {
    await client.send(new CreateStreamCommand({ StreamName: "from-js", DataRetentionInHours: 1 }));
    const listed = await client.send(new ListStreamsCommand({}));
    console.log(JSON.stringify({ names: listed.StreamInfoList.map((s) => s.StreamName) }));
  } catch (error) {
    console.log(JSON.stringify({ error: error.name, status: error.$metadata && error.$metadata.httpStatusCode }));
  }
})();
"""


def test_js_sdk_v3_signatures_pass(strict_server):
    module = PLAYERS_DIR / "node_modules" / "@aws-sdk" / "client-kinesis-video"
    if shutil.which("node") is None or not module.is_dir():
        reason = f"node and {module} (run `npm ci` in tests/players) are needed"
        if REQUIRE_PLAYERS:
            pytest.fail(reason)
        pytest.skip(reason)

    def run(secret):
        done = subprocess.run(["node", "-e", JS_CLIENT, strict_server.base_url, KEY, secret], cwd=PLAYERS_DIR,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert run(SECRET) == {"names": ["from-js"]}
    assert run("wrong") == {"error": "InvalidSignatureException", "status": 403}


def test_verify_signatures_needs_readable_credentials(tmp_path):
    def serve(*args):
        return subprocess.run([sys.executable, "-m", "greenroom.cli", "serve", "--port", "0", "--ephemeral", *args],
                              capture_output=True, text=True, timeout=60)

    without = serve("--verify-signatures")
    assert without.returncode != 0 and without.stderr.strip().count("\n") == 0 and "--credentials" in without.stderr
    missing = serve("--verify-signatures", "--credentials", str(tmp_path / "nope.json"))
    assert missing.returncode != 0 and "nope.json" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "bad.json").write_text('[{"accessKeyId": "A"}]')
    bad = serve("--verify-signatures", "--credentials", str(tmp_path / "bad.json"))
    assert bad.returncode != 0 and "secretAccessKey" in bad.stderr and "Traceback" not in bad.stderr


def _plain_request(path: str):
    from greenroom.protocol.http import HttpRequest
    return HttpRequest("POST", path, "", {"content-type": "application/json"}, b"{}", host="localhost")


def _wait_active(client, name: str) -> None:
    deadline = time.monotonic() + 20
    while client.describe_stream(StreamName=name)["StreamInfo"]["Status"] != "ACTIVE":
        assert time.monotonic() < deadline, "the stream did not become ACTIVE"
        time.sleep(0.1)


def test_put_media_signed_over_the_empty_body_hash_passes(strict_server):
    """Producers that sign PutMedia without X-Amz-Content-SHA256 sign the empty body's hash in
    its place (the live body cannot be hashed up front): accepted, the headers still checked."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from greenroom.media.testsrc import synthetic_video
    control = kv(strict_server)
    control.create_stream(StreamName="cam", DataRetentionInHours=1)
    _wait_active(control, "cam")
    endpoint = control.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"]
    video = synthetic_video(seconds=1)

    def put(secret):
        request = AWSRequest("POST", f"{endpoint}/putMedia", data=b"", headers={
            "x-amzn-stream-name": "cam", "x-amzn-fragment-timecode-type": "RELATIVE",
            "x-amzn-producer-start-timestamp": f"{time.time():.3f}"})
        SigV4Auth(Credentials(KEY, secret), "kinesisvideo", "us-east-1").add_auth(request)
        assert "X-Amz-Content-SHA256" not in request.headers
        return requests.post(f"{endpoint}/putMedia", data=iter([video]), headers=dict(request.headers), timeout=30)

    accepted = put(SECRET)
    assert accepted.status_code == 200 and '"EventType":"PERSISTED"' in accepted.text
    refused = put("wrong")
    assert refused.status_code == 403 and refused.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
