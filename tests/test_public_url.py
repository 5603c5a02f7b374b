"""Every URL greenroom hands out comes from core.public_url: the caller's scheme and host with the
listener's real port when Host carries none (AWS's C/C++ SDKs send a port-less Host), never an
unknown Host reflected, ``--public-url`` when given, X-Forwarded-* only from ``--trusted-proxy``."""
from __future__ import annotations

import base64
import json
import socket
from urllib.parse import urlsplit

import pytest

from support import make_client, portless_client


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def handed_out(client_for, advance) -> dict[str, str]:
    """The URLs KVS and IVS Real-Time hand out to clients made by ``client_for(service)``."""
    kv = client_for("kinesisvideo")
    kv.create_stream(StreamName="cam")
    channel = kv.create_signaling_channel(ChannelName="door")["ChannelARN"]
    advance(5)
    urls = {"data": kv.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"]}
    endpoints = kv.get_signaling_channel_endpoint(
        ChannelARN=channel, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"], "Role": "MASTER"})
    for entry in endpoints["ResourceEndpointList"]:
        urls[f"signaling {entry['Protocol']}"] = entry["ResourceEndpoint"]
    ivs = client_for("ivs-realtime")
    created = ivs.create_stage(name="stage", participantTokenConfigurations=[{"capabilities": ["PUBLISH"]}])
    for name, url in created["stage"]["endpoints"].items():
        urls[f"stage {name}"] = url
    claims = claims_of(created["participantTokens"][0]["token"])
    urls["token whip_url"], urls["token events_url"] = claims["whip_url"], claims["events_url"]
    return urls


def advancing(server):
    """A clock-advancing function for a server (its clock made manual first)."""
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    return lambda seconds: server.admin("POST", "clock", {"advance": seconds}).raise_for_status()


def test_a_port_less_host_gets_urls_with_the_listeners_port(server):
    """The KVS producer SDK's Host has no port: every URL must still carry the one it dialled."""
    port = urlsplit(server.base_url).port
    urls = handed_out(lambda service: portless_client(service, server.base_url), advancing(server))
    assert urls["data"] == f"http://127.0.0.1:{port}"
    assert urls["signaling HTTPS"] == f"http://127.0.0.1:{port}"
    assert urls["signaling WSS"] == f"ws://127.0.0.1:{port}"
    assert urls["stage whip"].startswith(f"http://127.0.0.1:{port}/_greenroom/ivs-realtime/whip/")
    assert urls["stage events"] == f"ws://127.0.0.1:{port}/_greenroom/ivs-realtime/events"
    assert urls["stage rtmps"] == f"rtmps://127.0.0.1:{port}/app/"
    assert (urls["token whip_url"], urls["token events_url"]) == (urls["stage whip"], urls["stage events"])


def test_a_port_less_localhost_keeps_its_name(server):
    port = urlsplit(server.base_url).port
    kv = portless_client("kinesisvideo", server.base_url, host="localhost")
    kv.create_stream(StreamName="cam")
    assert kv.get_data_endpoint(StreamName="cam", APIName="GET_MEDIA")["DataEndpoint"] == f"http://localhost:{port}"


def test_an_unknown_host_is_not_reflected(server):
    """A Host naming neither this server nor a configured name gets the address the connection
    reached instead (no DNS-rebinding or cache-poisoning reflection)."""
    port = urlsplit(server.base_url).port
    for host in ("evil.example", "evil.example:666"):
        urls = handed_out(lambda service: portless_client(service, server.base_url, host=host), advancing(server))
        assert all("evil" not in url for url in urls.values()), urls
        assert urls["data"] == f"http://127.0.0.1:{port}"
        server.admin("POST", "reset").raise_for_status()


def test_a_raw_request_without_a_port_in_host(server):
    """Wire level: an HTTP/1.1 request written by hand, ``Host: 127.0.0.1``."""
    port = urlsplit(server.base_url).port
    server.client("kinesisvideo").create_stream(StreamName="cam")
    body = b'{"StreamName": "cam", "APIName": "GET_HLS_STREAMING_SESSION_URL"}'
    request = (b"POST /getDataEndpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Authorization: AWS4-HMAC-SHA256 Credential=AKIDGREENROOMTEST/20260101/us-east-1/kinesisvideo/"
               b"aws4_request, SignedHeaders=host, Signature=0\r\nConnection: close\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(payload) == {"DataEndpoint": f"http://127.0.0.1:{port}"}


def test_public_url_option_wins(launch):
    server = launch("--ephemeral", "--public-url", "https://kvs.local:4443")
    for client_for in (lambda s: make_client(s, server.base_url), lambda s: portless_client(s, server.base_url)):
        urls = handed_out(client_for, advancing(server))
        assert urls["data"] == urls["signaling HTTPS"] == "https://kvs.local:4443"
        assert urls["signaling WSS"] == "wss://kvs.local:4443"
        assert urls["stage events"] == urls["token events_url"] == "wss://kvs.local:4443/_greenroom/ivs-realtime/events"
        assert urls["stage whip"].startswith("https://kvs.local:4443/_greenroom/ivs-realtime/whip/")
        server.admin("POST", "reset").raise_for_status()


def test_public_url_option_is_checked(launch):
    with pytest.raises(RuntimeError, match="public-url"):
        launch("--ephemeral", "--public-url", "kvs.local:4443")


def forwarded(server, headers: dict) -> str:
    """GetDataEndpoint as a reverse proxy would forward it (from 127.0.0.1, with X-Forwarded-*)."""
    kv = make_client("kinesisvideo", server.base_url)

    def add_headers(request, **_):
        for name, value in headers.items():
            request.headers[name] = value

    kv.meta.events.register("before-sign", add_headers)
    kv.create_stream(StreamName="cam")
    return kv.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"]


PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "media.example.com"}


def test_forwarded_headers_count_from_a_trusted_proxy_only(launch, server):
    assert forwarded(server, PROXY_HEADERS) == server.base_url  # 127.0.0.1 is nobody's proxy here
    proxied = launch("--ephemeral", "--trusted-proxy", "127.0.0.0/8")
    assert forwarded(proxied, PROXY_HEADERS) == "https://media.example.com"
    proxied.admin("POST", "reset").raise_for_status()
    assert forwarded(proxied, {**PROXY_HEADERS, "X-Forwarded-Port": "8443"}) == "https://media.example.com:8443"
    proxied.admin("POST", "reset").raise_for_status()
    assert forwarded(proxied, {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example:9443, b"}) == \
        "https://a.example:9443"
    other = launch("--ephemeral", "--trusted-proxy", "10.0.0.1")
    assert forwarded(other, PROXY_HEADERS) == other.base_url


def test_in_process_urls_are_the_clients_endpoint():
    """The mock has no listener: the client's own endpoint is the address."""
    import greenroom
    with greenroom.mock() as mock:
        mock.clock.freeze()
        urls = handed_out(lambda service: make_client(service, "http://localhost:4566"), mock.clock.advance)
    assert urls["data"] == "http://localhost:4566"
    assert urls["signaling WSS"] == "ws://localhost:4566"
    assert urls["stage events"] == "ws://localhost:4566/_greenroom/ivs-realtime/events"


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", ("127.0.0.1", None)), ("[::1]:4580", ("::1", 4580)), ("::1", ("::1", None)),
    ("localhost:80", ("localhost", 80)), ("a@b", ("", None)), ("x:y", ("", None)),
])
def test_split_host(host, expected):
    from greenroom.core.public_url import split_host
    assert split_host(host) == expected
