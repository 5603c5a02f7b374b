"""Nimble Studio waiters: every waiter of the model succeeds (at once under a manual clock, on
its second poll in real time), and their failure states stop them."""
from __future__ import annotations

import time

import pytest
from botocore.exceptions import WaiterError

from greenroom.protocol.models import MODELS_DIR
from nimble_support import (PERSISTENT, REGION, built_in_image, create_component, create_launch_profile,
                            create_studio, nimble, ready_launch_profile, ready_studio,
                            stream_configuration)  # noqa: F401

# waiter -> the lifecycle delay it waits out
WAITED_DELAYS = {
    "StudioReady": "nimble.studio.create", "StudioDeleted": "nimble.studio.delete",
    "StudioComponentReady": "nimble.studio_component.create",
    "StudioComponentDeleted": "nimble.studio_component.delete",
    "StreamingImageReady": "nimble.streaming_image.create", "StreamingImageDeleted": "nimble.streaming_image.delete",
    "LaunchProfileReady": "nimble.launch_profile.create", "LaunchProfileDeleted": "nimble.launch_profile.delete",
    "StreamingSessionReady": "nimble.streaming_session.create",
    "StreamingSessionStopped": "nimble.streaming_session.stop",
    "StreamingSessionDeleted": "nimble.streaming_session.delete",
    "StreamingSessionStreamReady": "nimble.streaming_session_stream.create",
}


def _instantly(waiter, **arguments):
    """Wait with the waiter's default settings; under a manual clock the first poll must do."""
    started = time.monotonic()
    waiter.wait(**arguments)
    assert time.monotonic() - started < 1, "the waiter had to poll again"


def test_every_waiter_under_a_manual_clock(nimble):
    nb = nimble.client()
    assert set(nb.waiter_names) == {
        "launch_profile_deleted", "launch_profile_ready", "streaming_image_deleted", "streaming_image_ready",
        "streaming_session_deleted", "streaming_session_ready", "streaming_session_stopped",
        "streaming_session_stream_ready", "studio_component_deleted", "studio_component_ready",
        "studio_deleted", "studio_ready"}
    studio_id = create_studio(nb, "waits")["studioId"]
    nimble.advance(1)
    _instantly(nb.get_waiter("studio_ready"), studioId=studio_id)
    component_id = create_component(nb, studio_id)["studioComponentId"]
    image_id = nb.create_streaming_image(studioId=studio_id, name="img", ec2ImageId="ami-0123456789abcdef0")[
        "streamingImage"]["streamingImageId"]
    nimble.advance(1)
    _instantly(nb.get_waiter("studio_component_ready"), studioId=studio_id, studioComponentId=component_id)
    _instantly(nb.get_waiter("streaming_image_ready"), studioId=studio_id, streamingImageId=image_id)
    profile_id = create_launch_profile(nb, studio_id, [component_id], [image_id],
                                       streamConfiguration=stream_configuration([image_id], **PERSISTENT))["launchProfileId"]
    nimble.advance(1)
    _instantly(nb.get_waiter("launch_profile_ready"), studioId=studio_id, launchProfileId=profile_id)
    session_id = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["sessionId"]
    nimble.advance(1)
    _instantly(nb.get_waiter("streaming_session_ready"), studioId=studio_id, sessionId=session_id)
    stream_id = nb.create_streaming_session_stream(studioId=studio_id, sessionId=session_id)["stream"]["streamId"]
    nimble.advance(1)
    _instantly(nb.get_waiter("streaming_session_stream_ready"), studioId=studio_id, sessionId=session_id,
               streamId=stream_id)
    nb.stop_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    _instantly(nb.get_waiter("streaming_session_stopped"), studioId=studio_id, sessionId=session_id)
    nb.start_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    _instantly(nb.get_waiter("streaming_session_ready"), studioId=studio_id, sessionId=session_id)
    nb.delete_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    _instantly(nb.get_waiter("streaming_session_deleted"), studioId=studio_id, sessionId=session_id)
    nb.delete_launch_profile(studioId=studio_id, launchProfileId=profile_id)
    nimble.advance(1)
    _instantly(nb.get_waiter("launch_profile_deleted"), studioId=studio_id, launchProfileId=profile_id)
    nb.delete_streaming_image(studioId=studio_id, streamingImageId=image_id)
    nb.delete_studio_component(studioId=studio_id, studioComponentId=component_id)
    nimble.advance(1)
    _instantly(nb.get_waiter("streaming_image_deleted"), studioId=studio_id, streamingImageId=image_id)
    _instantly(nb.get_waiter("studio_component_deleted"), studioId=studio_id, studioComponentId=component_id)
    nb.delete_studio(studioId=studio_id)
    nimble.advance(1)
    _instantly(nb.get_waiter("studio_deleted"), studioId=studio_id)


def test_waiters_stop_at_failure_states(nimble):
    nb = nimble.client()
    nimble.arm_fault("CreateStudio", "AWS_STS_REGION_DISABLED")
    failed_studio = create_studio(nb, "failing")["studioId"]
    nimble.advance(1)
    with pytest.raises(WaiterError, match="terminal failure"):
        nb.get_waiter("studio_ready").wait(studioId=failed_studio)
    studio_id = ready_studio(nimble)
    image = built_in_image(nb, studio_id)
    bad_profile = create_launch_profile(nb, studio_id, [create_component(nb, studio_id)["studioComponentId"]],
                                        [image["streamingImageId"]], ec2SubnetIds=["nowhere"])["launchProfileId"]
    nimble.advance(1)
    with pytest.raises(WaiterError, match="terminal failure"):
        nb.get_waiter("launch_profile_ready").wait(studioId=studio_id, launchProfileId=bad_profile)
    profile_id, _ = ready_launch_profile(nimble, studio_id, **PERSISTENT)
    session_id = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["sessionId"]
    nimble.advance(1)
    nb.stop_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    nimble.arm_fault("StartStreamingSession", "INSUFFICIENT_CAPACITY")
    nb.start_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    with pytest.raises(WaiterError, match="terminal failure"):
        nb.get_waiter("streaming_session_ready").wait(studioId=studio_id, sessionId=session_id)
    nimble.arm_fault("DeleteStreamingSession", "INTERNAL_ERROR")
    nb.delete_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    with pytest.raises(WaiterError, match="terminal failure"):
        nb.get_waiter("streaming_session_deleted").wait(studioId=studio_id, sessionId=session_id)


def test_default_delays_are_shorter_than_every_waiters_poll(server):
    import json
    waiters = json.loads((MODELS_DIR / "nimble" / "2020-08-01" / "waiters-2.json").read_text())["waiters"]
    assert set(waiters) == set(WAITED_DELAYS)
    delays = server.admin("GET", "delays").json()
    for name, waiter in waiters.items():
        assert delays[WAITED_DELAYS[name]] <= waiter["delay"], name


def test_studio_ready_in_real_time_with_default_settings(server):
    nb = server.client("nimble", region=REGION)
    studio_id = create_studio(nb, "realtime")["studioId"]
    started = time.monotonic()
    nb.get_waiter("studio_ready").wait(studioId=studio_id)  # polls every 2 s; the studio takes 1 s
    assert time.monotonic() - started < 3.5
    assert nb.get_studio(studioId=studio_id)["studio"]["state"] == "READY"
