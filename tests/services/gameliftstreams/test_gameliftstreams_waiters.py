"""botocore's GameLift Streams waiters with their default settings: in seconds against the server
with a real clock, at once under a manual clock moved ahead by the test."""
from __future__ import annotations

import time

import botocore.exceptions
import pytest

UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}


def test_waiters_with_a_real_clock(server):
    c = server.client("gameliftstreams")
    started = time.monotonic()
    app = c.create_application(Description="game", RuntimeEnvironment=UBUNTU, ExecutablePath="game",
                               ApplicationSourceUri="s3://bucket/game")
    c.get_waiter("application_ready").wait(Identifier=app["Id"])
    group = c.create_stream_group(Description="g", StreamClass="gen5n_high", DefaultApplicationIdentifier=app["Id"])
    c.get_waiter("stream_group_active").wait(Identifier=group["Id"])
    session = c.start_stream_session(Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
                                     SignalRequest="NO_CLIENT_CONNECTION")
    c.get_waiter("stream_session_active").wait(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    c.delete_stream_group(Identifier=group["Id"])
    # A fresh client after each 204 answer: the engine sends 204s with a body (see
    # test_gameliftstreams_client_routes.test_no_content_answers_have_no_body), which breaks
    # the next answer on the same keep-alive connection.
    server.client("gameliftstreams").get_waiter("stream_group_deleted").wait(Identifier=group["Id"])
    c.delete_application(Identifier=app["Id"])
    server.client("gameliftstreams").get_waiter("application_deleted").wait(Identifier=app["Id"])
    assert time.monotonic() - started < 15


def test_waiters_under_a_manual_clock(gls):
    c = gls.client()
    app = c.create_application(Description="game", RuntimeEnvironment=UBUNTU, ExecutablePath="game",
                               ApplicationSourceUri="s3://bucket/game")
    started = time.monotonic()
    gls.advance(1.5)
    c.get_waiter("application_ready").wait(Identifier=app["Id"])
    gls.set_delays({"gameliftstreams.streamgroup.activate": 60, "gameliftstreams.streamgroup.delete": 60})
    group = c.create_stream_group(Description="g", StreamClass="gen5n_high", DefaultApplicationIdentifier=app["Id"])
    gls.advance(60)
    c.get_waiter("stream_group_active").wait(Identifier=group["Id"])
    session = c.start_stream_session(Identifier=group["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
                                     SignalRequest="NO_CLIENT_CONNECTION")
    gls.advance(1)
    c.get_waiter("stream_session_active").wait(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    c.delete_stream_group(Identifier=group["Id"])
    gls.advance(60)
    c.get_waiter("stream_group_deleted").wait(Identifier=group["Id"])
    c.delete_application(Identifier=app["Id"])
    gls.advance(1)
    c.get_waiter("application_deleted").wait(Identifier=app["Id"])
    assert time.monotonic() - started < 1.5  # no waiter ever slept


def test_waiters_fail_on_failure_states(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app, stream_class="gen5n_ultra", LocationConfigurations=[
        {"LocationName": "us-east-1", "AlwaysOnCapacity": 0, "MaximumCapacity": 0}])
    session = gls.start_session(group, app)
    gls.advance(10)  # no capacity: placement times out
    with pytest.raises(botocore.exceptions.WaiterError, match="failure state"):
        c.get_waiter("stream_session_active").wait(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    gls.set_delays({"gameliftstreams.streamgroup.delete": 60})
    c.delete_stream_group(Identifier=group["Id"])
    with pytest.raises(botocore.exceptions.WaiterError, match="failure state"):
        c.get_waiter("stream_group_active").wait(Identifier=group["Id"])
