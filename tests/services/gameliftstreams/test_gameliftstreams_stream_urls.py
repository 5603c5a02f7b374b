"""GameLift Streams stream URLs: create, get, list, revoke, and using the URL (served by
greenroom), with statuses ACTIVE, EXPIRED, REVOKED and LIMIT_REACHED on the manual clock."""
from __future__ import annotations

import json
import re

import pytest

ROLE = "arn:aws:iam::000000000000:role/url-sessions"


def use(gls, url: str) -> tuple[int, dict]:
    """Open a stream URL as a browser would."""
    status, _, body = gls.fetch(url)
    return status, json.loads(body)


def create(gls, group, app, **extra):
    request = {"Identifier": group["Id"], "ApplicationIdentifier": app["Arn"], "Protocol": "WebRTC",
               "UrlExpiresAfterMinutes": 10, "Locations": ["us-east-1"], **extra}
    return gls.client().create_stream_url(**request)


def test_create_get_and_use_until_the_limit(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    created = create(gls, group, app, UsageLimit=2, Description="for testers", RoleArn=ROLE,
                     DisplayConfiguration={"Resolution": {"Width": 1280, "Height": 720}},
                     AdditionalEnvironmentVariables={"MODE": "demo"}, SessionLengthSeconds=600)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url_id = created["StreamUrlId"]
    assert re.fullmatch(r"su-[A-Za-z0-9]{9}", url_id)
    assert created["Arn"] == f"arn:aws:gameliftstreams:us-east-1:000000000000:streamurl/{group['Id']}/{url_id}"
    assert created["Status"] == "ACTIVE" and "StatusReason" not in created
    assert (created["UsageLimit"], created["RemainingUses"]) == (2, 2)
    assert (created["ExpiresAt"] - created["CreatedAt"]).total_seconds() == 600
    assert created["StreamGroupArn"] == group["Arn"] and created["ApplicationArn"] == app["Arn"]
    assert created["RoleArn"] == ROLE and created["SessionLengthSeconds"] == 600
    assert "/_greenroom/gameliftstreams/streamurls/" in created["StreamUrl"]
    if gls.mode == "server":  # it points at the greenroom that made it
        assert created["StreamUrl"].startswith(c.meta.endpoint_url)

    status, first = use(gls, created["StreamUrl"])
    assert status == 200 and first["RemainingUses"] == 1 and first["StreamUrlStatus"] == "ACTIVE"
    session_arn = first["StreamSessionArn"]
    session = c.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=session_arn)
    assert session["Status"] == "ACTIVATING"
    assert session["RoleArn"] == ROLE and session["SessionLengthSeconds"] == 600
    assert session["AdditionalEnvironmentVariables"] == {"MODE": "demo"}
    assert session["DisplayConfiguration"] == {"Resolution": {"Width": 1280, "Height": 720}}
    gls.advance(1)
    fetched = c.get_stream_url(Identifier=group["Arn"], StreamUrlIdentifier=created["Arn"])
    assert [s["Arn"] for s in fetched["StreamSessions"]] == [session_arn]
    assert fetched["StreamSessions"][0]["Status"] == "ACTIVE"

    status, second = use(gls, created["StreamUrl"])
    assert status == 200 and second["RemainingUses"] == 0 and second["StreamUrlStatus"] == "LIMIT_REACHED"
    status, refused = use(gls, created["StreamUrl"])
    assert status == 403 and "LIMIT_REACHED" in refused["message"]
    fetched = c.get_stream_url(Identifier=group["Id"], StreamUrlIdentifier=url_id)
    assert fetched["Status"] == "LIMIT_REACHED" and len(fetched["StreamSessions"]) == 2
    # A wrong key opens nothing.
    status, _ = use(gls, created["StreamUrl"].split("?key=")[0] + "?key=guess")
    assert status == 404


def test_expiry_on_the_clock(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    created = create(gls, group, app, UrlExpiresAfterMinutes=1)
    gls.advance(59.9)
    assert c.get_stream_url(Identifier=group["Id"], StreamUrlIdentifier=created["StreamUrlId"])["Status"] == "ACTIVE"
    gls.advance(0.1)
    expired = c.get_stream_url(Identifier=group["Id"], StreamUrlIdentifier=created["StreamUrlId"])
    assert expired["Status"] == "EXPIRED" and expired["RemainingUses"] == 1
    status, refused = use(gls, created["StreamUrl"])
    assert status == 403 and "EXPIRED" in refused["message"]


def test_revoke_and_revoke_and_terminate_sessions(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app, stream_class="gen4n_high")
    plain = create(gls, group, app)
    response = c.revoke_stream_url(Identifier=group["Id"], StreamUrlIdentifier=plain["StreamUrlId"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    revoked = c.get_stream_url(Identifier=group["Id"], StreamUrlIdentifier=plain["StreamUrlId"])
    assert (revoked["Status"], revoked["StatusReason"]) == ("REVOKED", "userRevoked")
    status, refused = use(gls, plain["StreamUrl"])
    assert status == 403 and "REVOKED" in refused["message"]

    used = create(gls, group, app, UsageLimit=3)
    _, first = use(gls, used["StreamUrl"])
    gls.advance(1)  # the session is ACTIVE
    c.revoke_stream_url(Identifier=group["Id"], StreamUrlIdentifier=used["Arn"],
                        RevocationMode="REVOKE_AND_TERMINATE_SESSIONS")
    terminating = c.get_stream_url(Identifier=group["Id"], StreamUrlIdentifier=used["StreamUrlId"])
    assert (terminating["Status"], terminating["StatusReason"]) == ("REVOKED", "revokedAndTerminatingSessions")
    assert terminating["StreamSessions"][0]["Status"] == "TERMINATING"
    gls.advance(1)
    done = c.get_stream_url(Identifier=group["Id"], StreamUrlIdentifier=used["StreamUrlId"])
    assert done["StatusReason"] == "revokedAndSessionsTerminated"
    ended = c.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=first["StreamSessionArn"])
    assert (ended["Status"], ended["StatusReason"]) == ("TERMINATED", "apiTerminated")
    with pytest.raises(c.exceptions.ValidationException, match="RevocationMode"):
        c.revoke_stream_url(Identifier=group["Id"], StreamUrlIdentifier=used["StreamUrlId"], RevocationMode="ALL")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.revoke_stream_url(Identifier=group["Id"], StreamUrlIdentifier="su-000000000")


def test_list_with_filters_and_pages(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    other = gls.active_group(app)
    urls = [create(gls, group, app) for _ in range(3)] + [create(gls, other, app)]
    c.revoke_stream_url(Identifier=group["Id"], StreamUrlIdentifier=urls[1]["StreamUrlId"])
    everything = c.list_stream_urls()["Items"]
    assert [item["StreamUrlId"] for item in everything] == [url["StreamUrlId"] for url in urls]
    assert set(everything[0]) <= {"Arn", "StreamUrlId", "StreamUrl", "Status", "StatusReason", "ExpiresAt",
                                  "CreatedAt", "UsageLimit", "RemainingUses", "StreamGroupArn",
                                  "ApplicationArn", "Description"}
    assert [i["StreamUrlId"] for i in c.list_stream_urls(Status="REVOKED")["Items"]] == [urls[1]["StreamUrlId"]]
    in_group = c.list_stream_urls(StreamGroupIdentifier=group["Arn"])["Items"]
    assert [i["StreamUrlId"] for i in in_group] == [url["StreamUrlId"] for url in urls[:3]]
    first = c.list_stream_urls(MaxResults=2)
    second = c.list_stream_urls(MaxResults=2, NextToken=first["NextToken"])
    assert [i["StreamUrlId"] for i in first["Items"] + second["Items"]] == [url["StreamUrlId"] for url in urls]
    assert "NextToken" not in second


def test_deleting_the_group_or_application_revokes(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    url = create(gls, group, app)
    c.delete_stream_group(Identifier=group["Id"])
    gls.advance(0.001)
    listed = c.list_stream_urls()["Items"]
    assert (listed[0]["Status"], listed[0]["StatusReason"]) == ("REVOKED", "streamGroupDeleted")
    status, _ = use(gls, url["StreamUrl"])
    assert status == 403


def test_create_rules(gls):
    c = gls.client()
    app = gls.ready_application()
    group = gls.active_group(app)
    lone = gls.ready_application("not associated")
    with pytest.raises(c.exceptions.ValidationException, match="not associated"):
        create(gls, group, lone)
    with pytest.raises(c.exceptions.ValidationException, match="not a location"):
        create(gls, group, app, Locations=["eu-west-1"])
    with pytest.raises(c.exceptions.ValidationException, match="UrlExpiresAfterMinutes"):
        create(gls, group, app, UrlExpiresAfterMinutes=0)
    with pytest.raises(c.exceptions.ValidationException, match="UsageLimit"):
        create(gls, group, app, UsageLimit=0)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        create(gls, {"Id": "sg-000000000"}, app)
    first = create(gls, group, app, ClientToken="token-0000000000000000000000000001")
    again = create(gls, group, app, ClientToken="token-0000000000000000000000000001")
    assert again["StreamUrlId"] == first["StreamUrlId"]
    with pytest.raises(c.exceptions.ConflictException):
        create(gls, group, app, ClientToken="token-0000000000000000000000000001", Description="other")


def test_list_application_shader_caches(gls):
    c = gls.client()
    app = gls.ready_application()
    assert c.list_application_shader_caches(Identifier=app["Arn"])["Items"] == []
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_application_shader_caches(Identifier="a-000000000")
