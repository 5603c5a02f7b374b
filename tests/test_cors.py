"""CORS, wire level: every model operation and media route answers a preflight, and every answer
to a request with Origin (errors included, streaming routes included) carries
Access-Control-Allow-Origin and Access-Control-Expose-Headers, once; an answer to a request
without Origin carries neither (a GET's says Vary: Origin). A real browser checks the same in
tests/services/kinesisvideo/test_kinesisvideo_cors.py."""
from __future__ import annotations

import pytest
import requests

ORIGIN = "http://app.example:3000"
SIGV4 = "AWS4-HMAC-SHA256 Credential=AKIDGREENROOMTEST/20260101/{region}/{service}/aws4_request, " \
        "SignedHeaders=host, Signature=0"
# What the AWS SDK for JavaScript v3 sends from a page (x-amz-user-agent, amz-sdk-*), and one more.
REQUESTED = "authorization,content-type,x-amz-date,x-amz-user-agent,amz-sdk-invocation-id,amz-sdk-request," \
            "x-amz-content-sha256,x-amzn-stream-name,x-stages-code,x-evil"
EXPOSED = {"x-amzn-requestid", "x-amzn-errortype", "location", "link", "etag"}

# (method, path) of model operations of each service and of the media routes.
PREFLIGHTED = [
    ("POST", "/describeStream"),                             # kinesisvideo
    ("POST", "/getDataEndpoint"),
    ("POST", "/getHLSStreamingSessionURL"),                  # kinesis-video-archived-media
    ("POST", "/getMedia"),                                   # kinesis-video-media
    ("POST", "/GetStage"),                                   # ivs-realtime
    ("GET", "/applications"),                                # gameliftstreams
    ("DELETE", "/2020-08-01/studios/s-1"),                   # nimble
    ("POST", "/putMedia"),                                   # streaming route
    ("GET", "/hls/v1/getHLSMasterPlaylist.m3u8"),            # media routes
    ("GET", "/hls/v1/getHLSMediaPlaylist.m3u8"),
    ("GET", "/dash/v1/getDASHManifest.mpd"),
    ("GET", "/_greenroom/health"),
]


@pytest.mark.parametrize("method, path", PREFLIGHTED)
def test_preflight_is_answered(server, method, path):
    answer = requests.options(server.base_url + path, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": REQUESTED},
        timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert method in answer.headers["Access-Control-Allow-Methods"].split(", ")
    allowed = set(answer.headers["Access-Control-Allow-Headers"].split(", "))
    assert allowed == set(REQUESTED.split(",")) - {"x-evil"}   # the browser will refuse x-evil
    assert int(answer.headers["Access-Control-Max-Age"]) > 0


def test_private_network_preflight(server):
    answer = requests.options(server.base_url + "/describeStream", headers={
        "Origin": "https://public.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Private-Network": "true"}, timeout=10)
    assert answer.headers["Access-Control-Allow-Private-Network"] == "true"


def assert_cors(answer: requests.Response) -> None:
    raw = answer.raw.headers
    assert raw.getlist("Access-Control-Allow-Origin") == ["*"], answer.headers  # exactly once
    exposed = {name.strip().lower() for name in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert EXPOSED <= exposed, exposed


def signed(service: str, region: str = "us-east-1") -> dict:
    return {"Authorization": SIGV4.format(service=service, region=region), "Origin": ORIGIN,
            "Content-Type": "application/json"}


def test_every_answer_carries_cors_headers(server):
    base = server.base_url
    server.client("kinesisvideo").create_stream(StreamName="cam")
    ok = requests.post(f"{base}/describeStream", json={"StreamName": "cam"}, headers=signed("kinesisvideo"), timeout=10)
    assert ok.status_code == 200
    assert_cors(ok)
    missing = requests.post(f"{base}/describeStream", json={"StreamName": "nope"}, headers=signed("kinesisvideo"),
                            timeout=10)
    assert missing.status_code == 404 and missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert_cors(missing)
    invalid = requests.post(f"{base}/GetStage", json={"arn": "not-an-arn"}, headers=signed("ivs"), timeout=10)
    assert invalid.status_code == 400
    assert_cors(invalid)
    unknown = requests.get(f"{base}/no/such/path", headers={"Origin": ORIGIN}, timeout=10)
    assert unknown.status_code == 404
    assert_cors(unknown)
    wrong_method = requests.delete(f"{base}/_greenroom/health", headers={"Origin": ORIGIN}, timeout=10)
    assert wrong_method.status_code == 405
    assert_cors(wrong_method)
    # A streaming route refusing a request, and a media route that sets its own CORS header.
    refused = requests.post(f"{base}/putMedia", data=b"", headers={**signed("kinesisvideo"),
                                                                   "x-amzn-stream-name": "nope"}, timeout=10)
    assert refused.status_code >= 400
    assert_cors(refused)
    playlist = requests.get(f"{base}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=expired",
                            headers={"Origin": ORIGIN}, timeout=10)
    assert playlist.status_code >= 400
    assert_cors(playlist)


def assert_no_cors(answer: requests.Response, method: str) -> None:
    names = {name.lower() for name in answer.raw.headers}
    assert not {name for name in names if name.startswith("access-control-")}, answer.headers
    assert answer.raw.headers.getlist("Vary") == (["Origin"] if method in ("GET", "HEAD") else []), answer.headers


def test_answers_without_origin_carry_no_cors_headers(server):
    """Not a CORS request: SDKs and tools, and a browser's same-origin requests."""
    base = server.base_url
    server.client("kinesisvideo").create_stream(StreamName="cam")
    without_origin = {key: value for key, value in signed("kinesisvideo").items() if key != "Origin"}
    ok = requests.post(f"{base}/describeStream", json={"StreamName": "cam"}, headers=without_origin, timeout=10)
    assert ok.status_code == 200
    assert_no_cors(ok, "POST")
    missing = requests.post(f"{base}/describeStream", json={"StreamName": "nope"}, headers=without_origin,
                            timeout=10)
    assert missing.status_code == 404
    assert_no_cors(missing, "POST")
    refused = requests.post(f"{base}/putMedia", data=b"", headers={**without_origin, "x-amzn-stream-name": "nope"},
                            timeout=10)
    assert refused.status_code >= 400
    assert_no_cors(refused, "POST")
    for method, path in (("GET", "/_greenroom/health"), ("GET", "/no/such/path"),
                         ("GET", "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=expired"),
                         ("HEAD", "/_greenroom/health"), ("DELETE", "/_greenroom/health")):
        answer = requests.request(method, base + path, timeout=10)
        assert_no_cors(answer, method)


def test_options_without_preflight_headers_is_routed_as_usual(server):
    """Only a browser's preflight is answered as one; a bare OPTIONS is an ordinary request."""
    answer = requests.options(server.base_url + "/_greenroom/health", headers={"Origin": ORIGIN}, timeout=10)
    assert answer.status_code == 405
    assert_cors(answer)
