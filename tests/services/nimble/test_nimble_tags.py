"""Nimble Studio tags: every taggable resource by ARN, and ARNs that name nothing."""
from __future__ import annotations

from nimble_support import (ACCOUNT, PERSISTENT, REGION, built_in_image, error_of, nimble,
                            ready_launch_profile, ready_session, ready_studio)  # noqa: F401


def test_tag_every_kind_of_resource(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble, tags={"created": "yes"})
    profile_id, _ = ready_launch_profile(nimble, studio_id, sessionBackup={"mode": "AUTOMATIC", "maxBackupsToRetain": 1},
                                         **PERSISTENT)
    session = ready_session(nimble, studio_id, profile_id)
    nb.stop_streaming_session(studioId=studio_id, sessionId=session["sessionId"])
    nimble.advance(1)
    arns = [
        nb.get_studio(studioId=studio_id)["studio"]["arn"],
        nb.list_studio_components(studioId=studio_id)["studioComponents"][0]["arn"],
        nb.create_streaming_image(studioId=studio_id, name="i", ec2ImageId="ami-0123456789abcdef0")["streamingImage"]["arn"],
        nb.get_launch_profile(studioId=studio_id, launchProfileId=profile_id)["launchProfile"]["arn"],
        session["arn"],
        nb.list_streaming_session_backups(studioId=studio_id)["streamingSessionBackups"][0]["arn"],
    ]
    assert nb.list_tags_for_resource(resourceArn=arns[0])["tags"] == {"created": "yes"}
    for arn in arns:
        nb.tag_resource(resourceArn=arn, tags={"project": "moon", "stage": "dev"})
        nb.untag_resource(resourceArn=arn, tagKeys=["stage", "absent"])
        assert nb.list_tags_for_resource(resourceArn=arn)["tags"].get("project") == "moon"
        assert "stage" not in nb.list_tags_for_resource(resourceArn=arn)["tags"]
    assert nb.get_studio(studioId=studio_id)["studio"]["tags"] == {"created": "yes", "project": "moon"}
    assert nb.get_streaming_session(studioId=studio_id, sessionId=session["sessionId"])["session"]["tags"] == {
        "project": "moon"}


def test_arns_that_name_nothing(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    missing = f"arn:aws:nimble:{REGION}:{ACCOUNT}:launch-profile/AAAAAAAAAAAAAAAAAAAAAA"
    problem = error_of(nb.list_tags_for_resource, resourceArn=missing)
    assert problem["status"] == 404 and problem["context"] == {"resourceId": missing}
    studio_arn = nb.get_studio(studioId=studio_id)["studio"]["arn"]
    for arn in (studio_arn.replace(REGION, "eu-west-1"), studio_arn.replace(ACCOUNT, "111122223333"),
                f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/abc", f"arn:aws:nimble:{REGION}:{ACCOUNT}:widget/x"):
        assert error_of(nb.tag_resource, resourceArn=arn, tags={"a": "b"})["status"] == 404
    assert error_of(nb.tag_resource, resourceArn="not-an-arn", tags={"a": "b"})["Code"] == "ValidationException"
    amazon = built_in_image(nb, studio_id)["arn"]
    assert error_of(nb.tag_resource, resourceArn=amazon, tags={"a": "b"})["Code"] == "AccessDeniedException"
    assert error_of(nb.untag_resource, resourceArn=studio_arn)["Code"] == "ValidationException"  # tagKeys required
