"""What AWS's own producer SDKs (PIC/producer-c through curl, kvssink) need from PutMedia on the
wire, checked with clients that see the bytes: raw sockets reading the chunked framing, curl.

- each acknowledgement in its own HTTP chunk (PIC's parser takes one per chunk);
- ``Expect: 100-continue`` answered before the client sends the body;
- fragment metadata framed as the SDK frames it (one Tags element per pair, then
  AWS_KINESISVIDEO_END_OF_FRAGMENT) read back whole;
- CreateStream then PutMedia at once (the SDK's flow) streams without an error;
- a stalled upload ends with an ERROR for the fragment cut off.
"""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from urllib.parse import urlsplit

import pytest

from greenroom.media import ebml
from kvs_support import documents, fake_cluster, header, tags_of
from support import portless_client

AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIDGREENROOMTEST/20240101/us-east-1/kinesisvideo/aws4_request, "
                 "SignedHeaders=host, Signature=0")


def events(acks):
    return [(ack["EventType"], ack.get("FragmentTimecode"), ack.get("ErrorId")) for ack in acks]


def request_head(base_url: str, stream: str = "cam", *, expect: bool = False, portless: bool = False) -> bytes:
    host = urlsplit(base_url).hostname if portless else urlsplit(base_url).netloc
    lines = ["POST /putMedia HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked",
             "Connection: close", f"x-amzn-stream-name: {stream}", "x-amzn-fragment-timecode-type: ABSOLUTE",
             "x-amzn-fragment-acknowledgment-required: 1", f"Authorization: {AUTHORIZATION}",
             "X-Amz-Content-SHA256: UNSIGNED-PAYLOAD"]
    if expect:
        lines.append("Expect: 100-continue")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def connect(kvs) -> socket.socket:
    """A socket to the server, through TLS (trusting greenroom's CA) for an https:// one."""
    parts = urlsplit(kvs.base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if parts.scheme == "https":
        sock = ssl.create_default_context(cafile=kvs.ca_file).wrap_socket(sock, server_hostname=parts.hostname)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    received = bytearray()
    while data := sock.recv(65536):
        received += data
    return bytes(received)


def split_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, rest


def http_chunks(body: bytes) -> list[bytes]:
    """The data of each chunk of a chunked body, parsed by hand (the framing is what is tested)."""
    chunks = []
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return chunks
        chunks.append(body[:size])
        assert body[size:size + 2] == b"\r\n", "a chunk must end with CRLF"
        body = body[size + 2:]


# ---------------------------------------------------------------------------- one ack per chunk

def test_each_acknowledgement_is_its_own_http_chunk(http_kvs):
    """Three fragments arrive in one piece, so their acknowledgements are produced together;
    still every HTTP chunk holds exactly one acknowledgement (PIC binds the upload handle to the
    first acknowledgement of each chunk and drops the others)."""
    http_kvs.create_active_stream()
    sock = connect(http_kvs)
    body = header() + fake_cluster(0) + fake_cluster(1000) + fake_cluster(2000)
    sock.sendall(request_head(http_kvs.base_url) + chunk(body) + b"0\r\n\r\n")
    status, headers, rest = split_response(read_until_closed(sock))
    sock.close()
    assert status.startswith("HTTP/1.1 200")
    assert headers["transfer-encoding"] == "chunked"
    pieces = http_chunks(rest)
    acks = []
    for piece in pieces:
        text = piece.decode()
        assert text.endswith("\n") and text.count("\n") == 1, f"not one acknowledgement per chunk: {text!r}"
        acks.append(json.loads(text))
    assert events(acks) == [(kind, timecode, None) for timecode in (0, 1000, 2000)
                            for kind in ("BUFFERING", "RECEIVED", "PERSISTED")]


# ---------------------------------------------------------------------------- 100-continue

def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response head (up to its blank line) and whatever came after it."""
    received = bytearray()
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    return head, rest


def test_expect_100_continue_is_answered_before_the_body(http_kvs):
    """A client that sends ``Expect: 100-continue`` and waits for ``100 Continue`` before it
    sends the body (as curl does, for up to a second) gets it, then the 200 and the acks."""
    http_kvs.create_active_stream()
    sock = connect(http_kvs)
    sock.sendall(request_head(http_kvs.base_url, expect=True))
    head, rest = read_head(sock)   # nothing of the body has been sent yet
    assert head == b"HTTP/1.1 100 Continue"
    sock.sendall(chunk(header() + fake_cluster(0)) + b"0\r\n\r\n")
    status, _, body = split_response(rest + read_until_closed(sock))
    sock.close()
    assert status.startswith("HTTP/1.1 200")
    acks = [json.loads(piece) for piece in http_chunks(body)]
    assert events(acks) == [("BUFFERING", 0, None), ("RECEIVED", 0, None), ("PERSISTED", 0, None)]


def test_a_refused_put_media_gets_no_100_continue(http_kvs):
    sock = connect(http_kvs)
    sock.sendall(request_head(http_kvs.base_url, stream="nope", expect=True))
    head, _ = read_head(sock)
    sock.close()
    assert head.split(b"\r\n")[0].startswith(b"HTTP/1.1 404")


def test_curl_gets_100_continue(http_kvs, tmp_path):
    """curl (what the C producer SDK sends with) waits for 100 Continue before the body (curl
    adds the header itself for large or unknown-size uploads; a small file needs it asked for)."""
    http_kvs.create_active_stream()
    media = tmp_path / "body.mkv"
    media.write_bytes(header() + fake_cluster(0) + fake_cluster(1000))
    started = time.monotonic()
    done = subprocess.run(
        ["curl", "-sS", "-v", "--no-buffer", "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue",
         "-H", "x-amzn-stream-name: cam",
         "-H", "x-amzn-fragment-timecode-type: ABSOLUTE", "-H", f"Authorization: {AUTHORIZATION}",
         "--expect100-timeout", "10", "--data-binary", f"@{media}", f"{http_kvs.base_url}/putMedia",
         *(["--cacert", http_kvs.ca_file] if http_kvs.ca_file else [])],
        capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "> Expect: 100-continue" in done.stderr
    assert "< HTTP/1.1 100 Continue" in done.stderr
    # curl waited for the 100 (it would have waited 10 s without one).
    assert elapsed < 10
    acks = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2


# ---------------------------------------------------------------------------- fragment metadata

def sdk_fragment(timecode: int, metadata: list[tuple[str, str]]) -> bytes:
    """A cluster as the producer SDK frames it: one Tags element per metadata pair, then a
    Tags element with AWS_KINESISVIDEO_END_OF_FRAGMENT."""
    return (fake_cluster(timecode, end_of_fragment=False)
            + b"".join(ebml.tags([pair]) for pair in metadata)
            + ebml.tags([("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")]))


def test_sdk_framed_metadata_is_read_back_whole(kvs):
    kvs.create_active_stream()
    first = [("camera", "front"), ("lens", "wide"), ("motion", "true")]
    second = [("camera", "front"), ("lens", "tele")]
    acks = kvs.put_media([header(), sdk_fragment(0, first), sdk_fragment(1000, second)], stream_name="cam",
                   timecode_type="ABSOLUTE")
    numbers = [a["FragmentNumber"] for a in acks if a["EventType"] == "RECEIVED"]
    assert len(numbers) == 2 and all(a["EventType"] != "ERROR" for a in acks)
    archived = kvs.client("kinesis-video-archived-media")
    payload = archived.get_media_for_fragment_list(StreamName="cam", Fragments=numbers)["Payload"].read()
    read_back = [tags_of(document)[0] for document in documents(payload)]
    for tags, sent, number in zip(read_back, (first, second), numbers, strict=True):
        assert tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] == number
        assert {name: value for name, value in tags.items() if not name.startswith("AWS_")} == dict(sent)


def test_metadata_limit_counts_every_tags_element(kvs):
    kvs.create_active_stream()
    acks = kvs.put_media([header(), sdk_fragment(0, [(f"key{i}", "v") for i in range(11)])], stream_name="cam",
                   timecode_type="ABSOLUTE")
    assert events(acks)[-1] == ("ERROR", 0, 4009)


# ---------------------------------------------------------------------------- create, then stream

def test_put_media_right_after_create_stream(kvs):
    """The SDK's flow: DescribeStream (not found), CreateStream, GetDataEndpoint, PutMedia at
    once, with no wait for ACTIVE: it streams with no error event, and the stream is ACTIVE."""
    kv = kvs.client("kinesisvideo")
    with pytest.raises(kv.exceptions.ResourceNotFoundException):
        kv.describe_stream(StreamName="sdk")
    kv.create_stream(StreamName="sdk", DataRetentionInHours=2)
    kv.get_data_endpoint(StreamName="sdk", APIName="PUT_MEDIA")
    acks = kvs.put_media([header(), fake_cluster(0), fake_cluster(1000)], stream_name="sdk", timecode_type="ABSOLUTE")
    assert events(acks) == [(kind, timecode, None) for timecode in (0, 1000)
                            for kind in ("BUFFERING", "RECEIVED", "PERSISTED")]
    assert kv.describe_stream(StreamName="sdk")["StreamInfo"]["Status"] == "ACTIVE"
    kvs.advance(5)  # the creation's scheduled end changes nothing now
    assert kv.describe_stream(StreamName="sdk")["StreamInfo"]["Status"] == "ACTIVE"
    assert len(kvs.fragments("sdk", kind="SERVER_TIMESTAMP")) == 2


def test_stream_being_deleted_is_not_active(kvs):
    arn = kvs.create_active_stream()
    kvs.client("kinesisvideo").delete_stream(StreamARN=arn)  # DELETING for a second
    acks = kvs.put_media([header(), fake_cluster(0)], stream_name="cam", timecode_type="ABSOLUTE")
    assert events(acks) == [("ERROR", 0, 4008)]


# ---------------------------------------------------------------------------- port-less Host

def test_sdk_flow_with_a_port_less_host(http_kvs):
    """AWS's C/C++ SDKs send ``Host`` without a port: CreateStream, GetDataEndpoint(PUT_MEDIA),
    PutMedia at the endpoint handed out (Host still port-less), then GetMedia there."""
    trust = {"verify": http_kvs.ca_file} if http_kvs.ca_file else {}
    kv = portless_client("kinesisvideo", http_kvs.base_url, **trust)
    kv.create_stream(StreamName="cam", DataRetentionInHours=1)
    endpoint = kv.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"]
    assert endpoint == http_kvs.base_url  # the scheme and port the caller used, not port 80 or 443
    sock = connect(http_kvs)
    sock.sendall(request_head(endpoint, portless=True, expect=True))
    head, rest = read_head(sock)
    assert head == b"HTTP/1.1 100 Continue"
    sock.sendall(chunk(header() + fake_cluster(0) + fake_cluster(1000)) + b"0\r\n\r\n")
    status, _, body = split_response(rest + read_until_closed(sock))
    sock.close()
    acks = [json.loads(piece) for piece in http_chunks(body)]
    assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2
    get_endpoint = kv.get_data_endpoint(StreamName="cam", APIName="GET_MEDIA")["DataEndpoint"]
    media = portless_client("kinesis-video-media", get_endpoint, **trust)
    payload = media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    numbers = [tags_of(document)[0]["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] for document in documents(payload)]
    assert numbers == [a["FragmentNumber"] for a in acks if a["EventType"] == "RECEIVED"]


# ---------------------------------------------------------------------------- stalled uploads

def test_stalled_upload_ends_with_an_error_for_the_fragment(http_kvs):
    """The client stops in the middle of a cluster and sends nothing more: IDLE, then ERROR 4000
    naming the fragment cut off, then the response ends; the fragment before it stays."""
    http_kvs.create_active_stream()
    http_kvs.set_delays({"kinesisvideo.putmedia.idle_interval": 0.1, "kinesisvideo.putmedia.idle_timeout": 0.5})
    sock = connect(http_kvs)
    cut_off = fake_cluster(1000)
    sock.sendall(request_head(http_kvs.base_url) + chunk(header() + fake_cluster(0) + cut_off[:len(cut_off) // 2]))
    status, _, body = split_response(read_until_closed(sock))  # the server ends it; the client never does
    sock.close()
    assert status.startswith("HTTP/1.1 200")
    acks = [json.loads(piece) for piece in http_chunks(body)]
    kinds = events(acks)
    assert kinds[:4] == [("BUFFERING", 0, None), ("RECEIVED", 0, None), ("PERSISTED", 0, None),
                         ("BUFFERING", 1000, None)]
    assert set(kinds[4:-1]) == {("IDLE", None, None)}
    assert kinds[-1] == ("ERROR", 1000, 4000)
    assert acks[-1]["FragmentNumber"] == acks[3]["FragmentNumber"]
    assert len(http_kvs.fragments(kind="SERVER_TIMESTAMP")) == 1


def test_stalled_upload_between_fragments_keeps_the_last_one(http_kvs):
    """A stall after a whole cluster that no end-of-fragment tag closed: the fragment is stored
    and acknowledged, then the response ends without an error."""
    http_kvs.create_active_stream()
    http_kvs.set_delays({"kinesisvideo.putmedia.idle_interval": 0.1, "kinesisvideo.putmedia.idle_timeout": 0.5})
    sock = connect(http_kvs)
    # A Tags element without the end-of-fragment marker ends the cluster, not the fragment.
    body = header() + fake_cluster(0, end_of_fragment=False) + ebml.tags([("camera", "front")])
    sock.sendall(request_head(http_kvs.base_url) + chunk(body))
    status, _, rest = split_response(read_until_closed(sock))
    sock.close()
    kinds = [kind for kind, _, _ in events(json.loads(piece) for piece in http_chunks(rest))]
    assert kinds[0] == "BUFFERING" and kinds[-2:] == ["RECEIVED", "PERSISTED"]
    assert set(kinds[1:-2]) == {"IDLE"}
    assert len(http_kvs.fragments(kind="SERVER_TIMESTAMP")) == 1
