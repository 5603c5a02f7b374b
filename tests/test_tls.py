"""``greenroom serve --tls`` / ``--tls-port``: clients someone else wrote (boto3, the AWS CLI, the
AWS SDK for JavaScript v3 in Node, the ``websockets`` client, Python's ssl, Chromium) reach every
service over HTTPS/WSS trusting only the CA greenroom printed; the CA is made once per data
directory; ``--tls-name``, ``--tls-cert/--tls-key`` and ``greenroom ca-path``."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import websockets

from support import PLAYERS_DIR, BrowserPage, make_client, need, portless_client

SERVICES = {
    "kinesisvideo": lambda c: c.list_streams()["StreamInfoList"],
    "kinesis-video-archived-media": None,   # exercised through a stream below
    "ivs-realtime": lambda c: c.list_stages()["stages"],
    "gameliftstreams": lambda c: c.list_stream_groups()["Items"],
    "nimble": lambda c: c.list_studios()["studios"],
}


@pytest.fixture
def tls_server(launch, tmp_path):
    """A server with a plain listener and an HTTPS one, its CA in a data directory of the test's."""
    return launch("--data-dir", str(tmp_path / "data"), "--tls-port", "0")


def port_of(url: str) -> int:
    return urlsplit(url).port


def test_both_listeners_and_the_ca(tls_server, tmp_path):
    assert tls_server.base_url.startswith("http://127.0.0.1:")
    assert tls_server.tls_url.startswith("https://127.0.0.1:")
    assert tls_server.ca_file == str(tmp_path / "data" / "tls" / "ca.pem")
    plain = requests.get(tls_server.base_url + "/_greenroom/health", timeout=10)
    secure = requests.get(tls_server.tls_url + "/_greenroom/health", verify=tls_server.ca_file, timeout=10)
    assert plain.json() == secure.json()
    with pytest.raises(requests.exceptions.SSLError):   # nothing but the CA makes it trusted
        requests.get(tls_server.tls_url + "/_greenroom/health", timeout=10)
    printed = subprocess.run([sys.executable, "-m", "greenroom.cli", "ca-path", "--data-dir", str(tmp_path / "data")],
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0 and printed.stdout.strip() == tls_server.ca_file
    spki = subprocess.run([sys.executable, "-m", "greenroom.cli", "ca-path", "--spki", "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, timeout=60).stdout.strip()
    assert f"--ignore-certificate-errors-spki-list={spki}" in tls_server.log()


def test_certificate_names_and_chain(tls_server):
    """localhost, 127.0.0.1 and ::1 are in the certificate; the CA follows it in the chain."""
    from cryptography import x509
    port = port_of(tls_server.tls_url)
    context = ssl.create_default_context(cafile=tls_server.ca_file)
    for name in ("localhost", "127.0.0.1"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=name) as secure:
                leaf = x509.load_der_x509_certificate(secure.getpeercert(binary_form=True))
                assert secure.version() in ("TLSv1.2", "TLSv1.3")
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "::1"} <= {str(address) for address in names.get_values_for_type(x509.IPAddress)}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="not-greenroom.example")
    if shutil.which("openssl"):
        shown = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-showcerts"],
                               input="", capture_output=True, text=True, timeout=30).stdout
        assert shown.count("BEGIN CERTIFICATE") == 2 and "greenroom local CA" in shown


def test_boto3_calls_every_service_over_https(tls_server):
    for service, call in SERVICES.items():
        if call is not None:
            assert call(make_client(service, tls_server.tls_url, verify=tls_server.ca_file)) == []
    kv = make_client("kinesisvideo", tls_server.tls_url, verify=tls_server.ca_file)
    kv.create_stream(StreamName="cam")
    # The data endpoint is the HTTPS listener, port included even for a port-less Host.
    assert kv.get_data_endpoint(StreamName="cam", APIName="LIST_FRAGMENTS")["DataEndpoint"] == tls_server.tls_url
    portless = portless_client("kinesisvideo", tls_server.tls_url, verify=tls_server.ca_file)
    endpoint = portless.get_data_endpoint(StreamName="cam", APIName="LIST_FRAGMENTS")["DataEndpoint"]
    assert endpoint == tls_server.tls_url
    # ... while a plain-HTTP caller gets the plain listener.
    plain = make_client("kinesisvideo", tls_server.base_url)
    assert plain.get_data_endpoint(StreamName="cam", APIName="GET_MEDIA")["DataEndpoint"] == tls_server.base_url
    archived = make_client("kinesis-video-archived-media", endpoint, verify=tls_server.ca_file)
    everything = {"FragmentSelectorType": "SERVER_TIMESTAMP",
                  "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": 4_000_000_000}}
    assert archived.list_fragments(StreamName="cam", FragmentSelector=everything)["Fragments"] == []


def test_aws_cli_trusts_the_ca_through_aws_ca_bundle(tls_server, tmp_path):
    need(shutil.which("aws") is not None, "the AWS CLI")
    env = {**os.environ, "AWS_CA_BUNDLE": tls_server.ca_file, "AWS_ACCESS_KEY_ID": "123456789012",
           "AWS_SECRET_ACCESS_KEY": "any", "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    done = subprocess.run(["aws", "--endpoint-url", tls_server.tls_url, "kinesisvideo", "create-stream",
                           "--stream-name", "from-cli", "--output", "json"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["StreamARN"].startswith("arn:aws:kinesisvideo:us-east-1:123456789012:stream/from-cli/")


def wait_active(kv, stream: str) -> None:
    """Past the stream's CREATING delay (the server runs on the real clock)."""
    deadline = time.monotonic() + 10
    while kv.describe_stream(StreamName=stream)["StreamInfo"]["Status"] != "ACTIVE":
        assert time.monotonic() < deadline, "the stream did not become ACTIVE"
        time.sleep(0.1)


def ingest_over_https(server, monkeypatch, access_key: str = "AKIDGREENROOMTEST") -> list[dict]:
    """Stream "cam" (2 s of H.264) made and filled over HTTPS: boto3 trusting the CA, then
    greenroom's own producer trusting it through SSL_CERT_FILE (Python's ssl defaults)."""
    from greenroom.media.producer import put_media_bytes
    sys.path.insert(0, str(Path(__file__).parent / "services" / "kinesisvideo"))
    from support import video_body
    kv = make_client("kinesisvideo", server.tls_url, verify=server.ca_file, aws_access_key_id=access_key)
    kv.create_stream(StreamName="cam", DataRetentionInHours=1)
    wait_active(kv, "cam")
    monkeypatch.setenv("SSL_CERT_FILE", server.ca_file)
    return put_media_bytes(server.tls_url, list(video_body(2.0)), stream_name="cam", timecode_type="RELATIVE",
                           producer_start_ms=1_700_000_000_000, access_key=access_key,
                           secret_key="any").acks


def test_put_media_over_https_trusting_ssl_cert_file(tls_server, monkeypatch):
    acks = ingest_over_https(tls_server, monkeypatch)
    assert [ack["EventType"] for ack in acks].count("PERSISTED") == 2, acks
    # ... and GetMedia (boto3, kinesis-video-media) reads it back over HTTPS.
    kv = make_client("kinesisvideo", tls_server.tls_url, verify=tls_server.ca_file)
    endpoint = kv.get_data_endpoint(StreamName="cam", APIName="GET_MEDIA")["DataEndpoint"]
    media = make_client("kinesis-video-media", endpoint, verify=tls_server.ca_file)
    answer = media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})
    assert answer["ContentType"] == "video/webm"
    assert answer["Payload"].read(4) == bytes.fromhex("1a45dfa3")   # an EBML header
    answer["Payload"].close()


def test_put_media_command_over_https(tls_server):
    """The README's line: ``greenroom kvs put-media`` (boto3, then Python's ssl) trusting the CA."""
    sys.path.insert(0, str(Path(__file__).parent / "services" / "kinesisvideo"))
    from support import video_path
    kv = make_client("kinesisvideo", tls_server.base_url)
    kv.create_stream(StreamName="cam", DataRetentionInHours=1)
    wait_active(kv, "cam")
    env = {**os.environ, "AWS_CA_BUNDLE": tls_server.ca_file, "SSL_CERT_FILE": tls_server.ca_file,
           "AWS_ACCESS_KEY_ID": "AKIDGREENROOMTEST", "AWS_SECRET_ACCESS_KEY": "any", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-m", "greenroom.cli", "kvs", "put-media", "--endpoint", tls_server.tls_url,
                           "--stream", "cam", video_path(2.0, 25)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["EventType"] for line in done.stdout.splitlines()].count("PERSISTED") == 2


def test_aws_sdk_for_javascript_v3_calls_every_service_over_https(tls_server, monkeypatch):
    """Node trusts greenroom's CA through NODE_EXTRA_CA_CERTS; nothing else is configured."""
    need(shutil.which("node") is not None, "node")
    need((PLAYERS_DIR / "node_modules" / "@aws-sdk" / "client-kinesis-video").is_dir(),
         "the AWS SDK for JavaScript v3 (run `npm ci` in tests/players)")
    assert "ERROR" not in str(ingest_over_https(tls_server, monkeypatch, access_key="123456789012"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    done = subprocess.run(["node", str(PLAYERS_DIR / "aws_sdk_calls.mjs"), tls_server.tls_url, "cam"],
                          env={**env, "NODE_EXTRA_CA_CERTS": tls_server.ca_file}, capture_output=True, text=True,
                          timeout=90, cwd=PLAYERS_DIR)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    tls_port = port_of(tls_server.tls_url)
    assert result["describe"] == "from-node"
    assert result["dataEndpoint"] == tls_server.tls_url
    assert result["signaling"] == {"WSS": f"wss://127.0.0.1:{tls_port}", "HTTPS": tls_server.tls_url}
    assert result["fragments"] == 2
    assert result["mediaContentType"] == "video/webm" and result["mediaHead"] == "1a45dfa3"
    assert result["stage"]["whip"].startswith(tls_server.tls_url + "/")
    assert result["stage"]["events"].startswith(f"wss://127.0.0.1:{tls_port}/")
    assert result["streamGroups"] == 0 and result["studios"] == 0


def test_wss_with_a_subprotocol(tls_server):
    context = ssl.create_default_context(cafile=tls_server.ca_file)

    async def talk():
        url = tls_server.tls_url.replace("https://", "wss://") + "/_greenroom/echo"
        async with websockets.connect(url, ssl=context, subprotocols=["participant-token"]) as ws:
            hello = json.loads(await ws.recv())
            await ws.send("over tls")
            return ws.subprotocol, hello, await ws.recv()

    subprotocol, hello, echoed = asyncio.run(asyncio.wait_for(talk(), 20))
    assert subprotocol == hello["subprotocol"] == "participant-token"
    assert hello["url"] == tls_server.tls_url and echoed == "over tls"


def test_the_ca_is_made_once_per_data_directory(launch, tmp_path):
    data = str(tmp_path / "data")
    first = launch("--data-dir", data, "--tls")
    assert first.base_url.startswith("https://") and first.tls_url == first.base_url
    ca = Path(first.ca_file).read_bytes()
    chain = sorted(Path(first.ca_file).parent.glob("server-*.pem"))
    first.stop()
    second = launch("--data-dir", data, "--tls")
    assert second.ca_file == first.ca_file and Path(second.ca_file).read_bytes() == ca
    assert sorted(Path(first.ca_file).parent.glob("server-*.pem")) == chain   # the server certificate kept too
    assert requests.get(second.base_url + "/_greenroom/health", verify=first.ca_file, timeout=10).ok


def test_ephemeral_servers_keep_the_ca_in_the_default_data_directory(launch, tmp_path):
    """State in memory, but the CA users trust must outlive the process: $XDG_DATA_HOME/greenroom."""
    home = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    first, second = launch.many([["--ephemeral", "--tls-port", "0"], ["--ephemeral", "--tls"]], env=home)
    expected = str(tmp_path / "xdg" / "greenroom" / "tls" / "ca.pem")
    assert first.ca_file == second.ca_file == expected   # two processes at once made one CA
    printed = subprocess.run([sys.executable, "-m", "greenroom.cli", "ca-path"], capture_output=True, text=True,
                             timeout=60, env={**os.environ, **home})
    assert printed.stdout.strip() == expected
    for url in (first.tls_url, second.base_url):
        assert requests.get(url + "/_greenroom/health", verify=expected, timeout=10).ok


def test_tls_name_is_in_the_certificate_and_answered_in_urls(launch, tmp_path):
    server = launch("--data-dir", str(tmp_path / "data"), "--tls", "--tls-name", "kvs.test")
    port = port_of(server.base_url)
    context = ssl.create_default_context(cafile=server.ca_file)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="kvs.test") as secure:
            assert secure.getpeercert()["subjectAltName"][0] == ("DNS", "localhost")
    kv = portless_client("kinesisvideo", server.base_url, host="kvs.test", verify=server.ca_file)
    kv.create_stream(StreamName="cam")
    assert kv.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"] == f"https://kvs.test:{port}"


def test_your_own_certificate(launch, tmp_path):
    need(shutil.which("openssl") is not None, "openssl")
    cert, key = tmp_path / "own.pem", tmp_path / "own-key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=own.test",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    server = launch("--ephemeral", "--tls-cert", str(cert), "--tls-key", str(key))
    assert server.base_url.startswith("https://") and server.ca_file == ""
    assert requests.get(server.base_url + "/_greenroom/health", verify=str(cert), timeout=10).ok


@pytest.mark.parametrize("arguments, complaint", [
    (["--tls", "--tls-port", "0"], "give one"),
    (["--tls-cert", "missing.pem"], "go together"),
    (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "no such file"),
])
def test_tls_options_are_checked(launch, arguments, complaint):
    with pytest.raises(RuntimeError, match=complaint):
        launch("--ephemeral", *arguments)


def test_chromium_trusts_the_ca_by_its_key(tls_server):
    """Chromium's --ignore-certificate-errors-spki-list with the CA's key hash (the CA is in the
    chain greenroom sends): a page calls greenroom over HTTPS."""
    script = """<script>
    fetch(%s + "/_greenroom/health").then(function (r) { return r.json(); })
      .then(function (health) { report({status: health.status}); })
      .catch(function (error) { report({failure: String(error)}); });
    </script>""" % json.dumps(tls_server.tls_url)
    flag = next(word for word in tls_server.log().split() if word.startswith("--ignore-certificate-errors-spki-list="))
    with BrowserPage(script, chromium_args=(flag.rstrip(";"),)) as page:
        result = page.wait(lambda seen: bool(seen))[0]
    assert result == {"status": "ok"}


@pytest.mark.parametrize("which", ["server", "https_server"])
def test_the_shared_server_answers_over_both_schemes(request, which):
    """The session's server listens plain and TLS: URLs handed out follow the caller's scheme."""
    server = request.getfixturevalue(which)
    scheme = urlsplit(server.base_url).scheme
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    kv = server.client("kinesisvideo")
    kv.create_stream(StreamName="cam")
    channel = kv.create_signaling_channel(ChannelName="door")["ChannelARN"]
    server.admin("POST", "clock", {"advance": 5}).raise_for_status()
    assert kv.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"] == server.base_url
    endpoints = kv.get_signaling_channel_endpoint(
        ChannelARN=channel, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS"], "Role": "MASTER"})
    assert endpoints["ResourceEndpointList"][0]["ResourceEndpoint"] == \
        server.base_url.replace(f"{scheme}://", {"http": "ws://", "https": "wss://"}[scheme])


def test_server_certificate_is_made_again_before_it_expires(tmp_path, monkeypatch):
    """Kept while valid for more than RENEW_BEFORE_DAYS, then replaced (same CA); a new set of
    names gets its own certificate."""
    from greenroom import tls
    first = tls.server_files(tmp_path)
    assert tls.server_files(tmp_path) == first and first[0].read_bytes() == tls.server_files(tmp_path)[0].read_bytes()
    kept = first[0].read_bytes()
    monkeypatch.setattr(tls, "RENEW_BEFORE_DAYS", tls.SERVER_DAYS + 1)   # as if it were about to expire
    renewed = tls.server_files(tmp_path)
    assert renewed == first and renewed[0].read_bytes() != kept
    assert renewed[0].read_bytes().endswith(tls.ca_path(tmp_path).read_bytes())   # leaf, then the CA
    assert tls.server_files(tmp_path, ["kvs.test"])[0] != first[0]
