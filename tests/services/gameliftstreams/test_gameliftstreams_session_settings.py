"""StartStreamSession/GetStreamSession members of the newest model: RoleArn,
DisplayConfiguration, ApplicationStartedAt, StreamingStartedAt, StreamingEndedAt and the
assumeRoleFailed status reason, on the manual clock."""
from __future__ import annotations

import datetime as dt

import pytest

OWN_ROLE = "arn:aws:iam::000000000000:role/game-session"
OTHER_ACCOUNT_ROLE = "arn:aws:iam::111122223333:role/game-session"
DISPLAY = {"Resolution": {"Width": 1920, "Height": 1080}}


def test_role_and_display_are_kept_and_timestamps_follow_the_session(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    started = gls.start_session(group, app, RoleArn=OWN_ROLE, DisplayConfiguration=DISPLAY)
    created = started["CreatedAt"]
    assert started["RoleArn"] == OWN_ROLE and started["DisplayConfiguration"] == DISPLAY
    assert not {"ApplicationStartedAt", "StreamingStartedAt", "StreamingEndedAt"} & set(started)
    gls.advance(1)
    active = gls.stream_session(group, started)
    assert active["Status"] == "ACTIVE"
    assert active["RoleArn"] == OWN_ROLE and active["DisplayConfiguration"] == DISPLAY
    assert active["ApplicationStartedAt"] == created + dt.timedelta(seconds=1)
    assert "StreamingStartedAt" not in active
    listed = c.list_stream_sessions(Identifier=group["Id"])["Items"][0]
    assert listed["RoleArn"] == OWN_ROLE


def test_streaming_timestamps(gls, webrtc):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    offer, peer = webrtc.offer()
    session = gls.start_session(group, app, offer, DisplayConfiguration={"Resolution": {"Width": 320, "Height": 4096}})
    created = session["CreatedAt"]
    gls.advance(1)
    assert gls.stream_session(group, session)["ApplicationStartedAt"] == created + dt.timedelta(seconds=1)
    gls.advance(2)
    gls.session_action("connect", session["Arn"])
    gls.advance(3)
    gls.session_action("disconnect", session["Arn"])  # streaming has not ended: the client may reconnect
    connected = gls.stream_session(group, session)
    assert connected["StreamingStartedAt"] == created + dt.timedelta(seconds=3)
    assert "StreamingEndedAt" not in connected
    c.terminate_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session["Arn"])
    gls.advance(1)
    ended = gls.stream_session(group, session)
    assert ended["Status"] == "TERMINATED"
    assert ended["StreamingStartedAt"] == created + dt.timedelta(seconds=3)
    assert ended["StreamingEndedAt"] == created + dt.timedelta(seconds=7)
    assert ended["ApplicationStartedAt"] == created + dt.timedelta(seconds=1)


def test_a_role_that_cannot_be_assumed_ends_in_error(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    session = gls.start_session(group, app, RoleArn=OTHER_ACCOUNT_ROLE)
    assert session["Status"] == "ACTIVATING" and session["RoleArn"] == OTHER_ACCOUNT_ROLE
    gls.advance(1)
    failed = gls.stream_session(group, session)
    assert (failed["Status"], failed["StatusReason"]) == ("ERROR", "assumeRoleFailed")
    assert "ApplicationStartedAt" not in failed and "StreamingStartedAt" not in failed


@pytest.mark.parametrize("change, member", [
    ({"RoleArn": "arn:aws:iam::000000000000:user/someone"}, "RoleArn"),
    ({"DisplayConfiguration": {"Resolution": {"Width": 319, "Height": 1080}}}, "DisplayConfiguration.Resolution.Width"),
    ({"DisplayConfiguration": {"Resolution": {"Width": 1920, "Height": 4097}}}, "DisplayConfiguration.Resolution.Height"),
    ({"DisplayConfiguration": {"Resolution": {"Width": 1920}}}, "DisplayConfiguration.Resolution.Height"),
])
def test_role_and_display_are_validated(gls, change, member):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    with pytest.raises(c.exceptions.ValidationException, match=member.replace(".", r"\.")):
        gls.start_session(group, app, **change)
