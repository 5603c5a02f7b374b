"""Nimble Studio session streams: lifecycle, the URL that points at greenroom, expiry."""
from __future__ import annotations

import json

from support import Driver

from nimble_support import (ACCOUNT, PERSISTENT, REGION, error_of, nimble, ready_launch_profile,
                            ready_session, ready_studio)  # noqa: F401


def _fetch(nimble, url):
    status, _, body = nimble.fetch(url)
    return status, json.loads(body)


def test_stream_lifecycle_and_url(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, image_id = ready_launch_profile(nimble, studio_id)
    session = ready_session(nimble, studio_id, profile_id, ownedBy="artist")
    session_id = session["sessionId"]
    stream = nb.create_streaming_session_stream(studioId=studio_id, sessionId=session_id,
                                                expirationInSeconds=600)["stream"]
    stream_id = stream["streamId"]
    assert (stream["state"], stream["statusCode"]) == ("CREATE_IN_PROGRESS", "STREAM_CREATE_IN_PROGRESS")
    assert "url" not in stream and stream["ownedBy"] == "artist" and stream["createdBy"] == ACCOUNT
    assert (stream["expiresAt"] - stream["createdAt"]).total_seconds() == 600
    nimble.advance(1)
    ready = nb.get_streaming_session_stream(studioId=studio_id, sessionId=session_id, streamId=stream_id)["stream"]
    assert (ready["state"], ready["statusCode"]) == ("READY", "STREAM_READY")
    url = ready["url"]
    assert f"/_greenroom/nimble/streams/{REGION}/{ACCOUNT}/{stream_id}?token=" in url
    if nimble.mode == "server":
        assert url.startswith("http://127.0.0.1:")  # where the caller reached greenroom
    status, body = _fetch(nimble, url)
    assert status == 200, body
    assert (body["sessionId"], body["streamId"], body["ec2InstanceType"], body["streamingImageId"]) == (
        session_id, stream_id, "g4dn.xlarge", image_id)
    status, body = _fetch(nimble, url.replace("token=", "token=x"))
    assert status == 403 and "token" in body["message"]
    nimble.advance(599)
    expired = nb.get_streaming_session_stream(studioId=studio_id, sessionId=session_id, streamId=stream_id)["stream"]
    assert (expired["state"], expired["statusCode"]) == ("DELETED", "STREAM_DELETED")
    status, body = _fetch(nimble, url)
    assert status == 403 and "expired" in body["message"]


def test_stream_rules(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id, **PERSISTENT)
    session_id = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["sessionId"]
    assert error_of(nb.create_streaming_session_stream, studioId=studio_id, sessionId=session_id)["Code"] == \
        "ConflictException"  # still being created
    nimble.advance(1)
    for seconds in (59, 3601):
        problem = error_of(nb.create_streaming_session_stream, studioId=studio_id, sessionId=session_id,
                           expirationInSeconds=seconds)
        assert problem["Code"] == "ValidationException" and "expirationInSeconds" in problem["message"]
    stream = nb.create_streaming_session_stream(studioId=studio_id, sessionId=session_id)["stream"]
    assert (stream["expiresAt"] - stream["createdAt"]).total_seconds() == 120  # the default
    nimble.advance(1)
    url = nb.get_streaming_session_stream(studioId=studio_id, sessionId=session_id,
                                          streamId=stream["streamId"])["stream"]["url"]
    # Stopping the session ends its streams.
    nb.stop_streaming_session(studioId=studio_id, sessionId=session_id)
    assert nb.get_streaming_session_stream(studioId=studio_id, sessionId=session_id,
                                           streamId=stream["streamId"])["stream"]["state"] == "DELETED"
    assert _fetch(nimble, url)[0] == 403
    nimble.advance(1)
    problem = error_of(nb.create_streaming_session_stream, studioId=studio_id, sessionId=session_id)
    assert problem["Code"] == "ValidationException" and "STOPPED" in problem["message"]
    missing = error_of(nb.get_streaming_session_stream, studioId=studio_id, sessionId=session_id, streamId="nope")
    assert missing["status"] == 404 and missing["context"]["resourceId"] == "nope"


def test_failed_stream(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    session_id = ready_session(nimble, studio_id, profile_id)["sessionId"]
    nimble.arm_fault("CreateStreamingSessionStream", "NETWORK_CONNECTION_ERROR")
    stream_id = nb.create_streaming_session_stream(studioId=studio_id, sessionId=session_id)["stream"]["streamId"]
    nimble.advance(1)
    stream = nb.get_streaming_session_stream(studioId=studio_id, sessionId=session_id, streamId=stream_id)["stream"]
    assert (stream["state"], stream["statusCode"]) == ("CREATE_FAILED", "NETWORK_CONNECTION_ERROR")
    assert "url" not in stream


def test_stream_url_carries_the_port_for_a_port_less_host(server):
    """AWS SDKs send Host without a port: the stream URL still names the listener's port, and works."""
    import requests

    env = Driver.over_http(server, service="nimble", region=REGION, portless=True)
    studio_id = ready_studio(env)
    profile_id, _ = ready_launch_profile(env, studio_id)
    session_id = ready_session(env, studio_id, profile_id)["sessionId"]
    stream_id = env.client().create_streaming_session_stream(studioId=studio_id, sessionId=session_id)["stream"]["streamId"]
    env.advance(1)
    url = env.client().get_streaming_session_stream(studioId=studio_id, sessionId=session_id, streamId=stream_id)["stream"]["url"]
    assert url.startswith(server.base_url + "/_greenroom/nimble/streams/"), (url, server.base_url)
    assert requests.get(url, timeout=10).json()["streamId"] == stream_id
