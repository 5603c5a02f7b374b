"""Nimble Studio client tokens (X-Amz-Client-Token): a retry with the same token and request
answers the first answer and does nothing again."""
from __future__ import annotations

from greenroom.core.operations import HANDLERS
from greenroom.protocol.models import service_model
from greenroom.services import load_all
from nimble_support import (create_component, error_of, nimble, ready_launch_profile, ready_session,
                            ready_studio)  # noqa: F401


def test_every_operation_with_a_client_token_honours_it():
    load_all()
    model = service_model("nimble")
    with_token = {name for name in model.operation_names
                  if "clientToken" in (model.operation_model(name).input_shape.members
                                       if model.operation_model(name).input_shape else {})}
    assert len(with_token) == 24
    assert {name for name in with_token if hasattr(HANDLERS[("nimble", name)], "__wrapped__")} == with_token


def test_retries_do_not_repeat_work(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    first = create_component(nb, studio_id, clientToken="component-1")
    assert create_component(nb, studio_id, clientToken="component-1") == first
    assert len(nb.list_studio_components(studioId=studio_id)["studioComponents"]) == 1
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    session_id = ready_session(nimble, studio_id, profile_id)["sessionId"]
    stream = nb.create_streaming_session_stream(studioId=studio_id, sessionId=session_id, clientToken="s")["stream"]
    nimble.advance(1)
    replay = nb.create_streaming_session_stream(studioId=studio_id, sessionId=session_id, clientToken="s")["stream"]
    assert replay["streamId"] == stream["streamId"] and replay["state"] == "CREATE_IN_PROGRESS"  # the first answer
    nb.delete_streaming_session(studioId=studio_id, sessionId=session_id, clientToken="d")
    nimble.advance(1)
    # The retry of a delete that was done answers as the delete did, instead of failing.
    assert nb.delete_streaming_session(studioId=studio_id, sessionId=session_id, clientToken="d")[
        "session"]["state"] == "DELETE_IN_PROGRESS"
    assert error_of(nb.delete_streaming_session, studioId=studio_id, sessionId=session_id)["Code"] == \
        "ValidationException"  # a new delete of a DELETED session
