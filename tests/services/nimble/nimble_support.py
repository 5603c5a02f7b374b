"""Shared pieces of the Nimble Studio tests: the ``nimble`` fixture (server and in process,
manual clock, plus greenroom's own routes) and builders for the resources most tests need."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from support import Driver, both_modes

REGION = "us-west-2"
ACCOUNT = "000000000000"  # what the tests' access key (not a 12-digit id) maps to
ROLE = f"arn:aws:iam::{ACCOUNT}:role/studio-admin"
USER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/studio-user"
PROTOCOL = ["2021-03-31"]
SUBNET = "subnet-0123456789abcdef0"


@pytest.fixture(params=["server", "mock"])
def nimble(request):
    """Each test runs against the HTTP server and in process, with a manual clock: a
    ``support.Driver`` whose clients default to Nimble Studio in ``REGION``."""
    yield from both_modes(request, service="nimble", region=REGION)


# ------------------------------------------------------------------------------ builders

def error_of(call, *args, **kwargs) -> dict:
    """Call; it must fail. Returns the parsed error body (Code, message, code, context) and status."""
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    response = raised.value.response
    return {"Code": response["Error"]["Code"], "status": response["ResponseMetadata"]["HTTPStatusCode"],
            "message": response.get("message", response["Error"].get("Message")),
            "code": response.get("code"), "context": response.get("context")}


def create_studio(nb, name: str = "studio", **extra) -> dict:
    return nb.create_studio(studioName=name, displayName=f"{name} display", adminRoleArn=ROLE,
                            userRoleArn=USER_ROLE, **extra)["studio"]


def ready_studio(env: Driver, name: str = "studio", **extra) -> str:
    studio_id = create_studio(env.client(), name, **extra)["studioId"]
    env.advance(1)
    assert env.client().get_studio(studioId=studio_id)["studio"]["state"] == "READY"
    return studio_id


def built_in_image(nb, studio_id: str, platform: str = "LINUX") -> dict:
    images = nb.list_streaming_images(studioId=studio_id, owner="amazon")["streamingImages"]
    return next(image for image in images if image["platform"] == platform)


def create_component(nb, studio_id: str, **extra) -> dict:
    arguments = {"name": "render-farm", "type": "COMPUTE_FARM",
                 "configuration": {"computeFarmConfiguration": {"endpoint": "deadline.example.com:8080"}}}
    arguments.update(extra)
    return nb.create_studio_component(studioId=studio_id, **arguments)["studioComponent"]


def stream_configuration(image_ids, **extra) -> dict:
    return {"clipboardMode": "ENABLED", "ec2InstanceTypes": ["g4dn.xlarge", "g4dn.2xlarge"],
            "streamingImageIds": list(image_ids), **extra}


def create_launch_profile(nb, studio_id: str, component_ids, image_ids, **extra) -> dict:
    arguments = {"name": "workstation", "ec2SubnetIds": [SUBNET], "launchProfileProtocolVersions": PROTOCOL,
                 "studioComponentIds": list(component_ids), "streamConfiguration": stream_configuration(image_ids)}
    arguments.update(extra)
    return nb.create_launch_profile(studioId=studio_id, **arguments)["launchProfile"]


def ready_launch_profile(env: Driver, studio_id: str, accept: bool = True, **configuration) -> tuple[str, str]:
    """A READY launch profile with one component and the built-in Linux image (its EULAs
    accepted unless ``accept`` is False); returns (launch profile id, image id)."""
    component = create_component(env.client(), studio_id)
    image = built_in_image(env.client(), studio_id)
    profile = create_launch_profile(env.client(), studio_id, [component["studioComponentId"]],
                                    [image["streamingImageId"]],
                                    streamConfiguration=stream_configuration([image["streamingImageId"]], **configuration))
    env.advance(1)
    assert env.client().get_launch_profile(studioId=studio_id, launchProfileId=profile["launchProfileId"])[
        "launchProfile"]["state"] == "READY"
    if accept:
        env.client().accept_eulas(studioId=studio_id, eulaIds=image["eulaIds"])
    return profile["launchProfileId"], image["streamingImageId"]


PERSISTENT = {"sessionPersistenceMode": "ACTIVATED", "automaticTerminationMode": "ACTIVATED",
              "maxStoppedSessionLengthInMinutes": 60}


def ready_session(env: Driver, studio_id: str, profile_id: str, **extra) -> dict:
    session = env.client().create_streaming_session(studioId=studio_id, launchProfileId=profile_id, **extra)["session"]
    env.advance(1)
    session = env.client().get_streaming_session(studioId=studio_id, sessionId=session["sessionId"])["session"]
    assert session["state"] == "READY"
    return session
