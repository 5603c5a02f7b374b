"""The client-side stand-ins over HTTP: POST /_greenroom/gameliftstreams/sessions/{arnOrId}/{action}."""
from __future__ import annotations

import socket
from urllib.parse import quote, urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests

UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}
ROUTE = "/_greenroom/gameliftstreams/sessions/{}/{}"


def _active_session(server, region="us-east-1", **client_options):
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    c = server.client("gameliftstreams", region=region, **client_options)
    app = c.create_application(Description="game", RuntimeEnvironment=UBUNTU, ExecutablePath="game",
                               ApplicationSourceUri="s3://bucket/game")
    server.admin("POST", "clock", {"advance": 2}).raise_for_status()
    group = c.create_stream_group(Description="g", StreamClass="gen5n_high", DefaultApplicationIdentifier=app["Id"])
    session = c.start_stream_session(Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
                                     SignalRequest="NO_CLIENT_CONNECTION")
    server.admin("POST", "clock", {"advance": 1}).raise_for_status()
    return c, group, session


def _post(server, session, action, headers=None):
    return requests.post(server.base_url + ROUTE.format(quote(session, safe=""), action), headers=headers, timeout=10)


def test_actions_by_arn(server):
    c, group, session = _active_session(server)
    response = _post(server, session["Arn"], "exit")
    assert response.status_code == 200
    body = response.json()
    assert body["Arn"] == session["Arn"] and body["StreamGroupId"] == group["Id"]
    assert (body["Status"], body["StatusReason"]) == ("TERMINATED", "applicationExit")
    assert isinstance(body["LastUpdatedAt"], float)
    again = _post(server, session["Arn"], "exit")
    assert again.status_code == 409 and "TERMINATED" in again.json()["message"]


def test_bare_id_uses_the_default_account_and_region(server):
    _, _, session = _active_session(server)
    session_id = session["Arn"].rsplit("/", 1)[1]
    assert _post(server, session_id, "exit").json()["Status"] == "TERMINATED"


def test_bare_id_uses_the_sigv4_scope_when_signed(server):
    _, _, session = _active_session(server, region="eu-central-1",
                                    aws_access_key_id="111122223333", aws_secret_access_key="x")
    session_id = session["Arn"].rsplit("/", 1)[1]
    assert _post(server, session_id, "exit").status_code == 404  # not in the default scope
    url = server.base_url + ROUTE.format(session_id, "exit")
    request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=b"")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("111122223333", "x"),
                            "gameliftstreams", "eu-central-1").add_auth(request)
    response = _post(server, session_id, "exit", headers=dict(request.headers))
    assert response.status_code == 200 and response.json()["StatusReason"] == "applicationExit"


def test_unknown_sessions_and_actions(server):
    _, _, session = _active_session(server)
    assert _post(server, "ABCDEFGHIJKLM", "connect").status_code == 404
    unknown = _post(server, session["Arn"], "dance")
    assert unknown.status_code == 404 and "connect" in unknown.json()["message"]
    assert _post(server, "arn:aws:gameliftstreams:us-east-1:000000000000:streamgroup/sg-1", "exit").status_code == 400
    assert requests.get(server.base_url + ROUTE.format("x", "exit"), timeout=10).status_code == 405


def test_no_content_answers_have_no_body(server):
    _, group, session = _active_session(server)
    url = urlsplit(server.base_url)
    path = f"/streamgroups/{group['Id']}/streamsessions/{session['Arn'].rsplit('/', 1)[1]}"
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(f"DELETE {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: 0\r\n"
                           "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/"
                           "gameliftstreams/aws4_request\r\n\r\n".encode())
        connection.settimeout(0.5)
        answer = b""
        try:
            while chunk := connection.recv(65536):  # everything the server sends, until it pauses
                answer += chunk
        except TimeoutError:
            pass
    assert answer.startswith(b"HTTP/1.1 204 ")
    assert answer.endswith(b"\r\n\r\n")  # headers only: nothing after them
