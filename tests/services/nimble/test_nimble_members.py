"""Nimble Studio studio members and launch profile members (personas, pages, rules)."""
from __future__ import annotations

from nimble_support import error_of, nimble, ready_launch_profile, ready_studio  # noqa: F401

STORE = "d-9067000000"


def test_studio_members(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    for start in (0, 20):  # at most 20 members a call
        nb.put_studio_members(studioId=studio_id, identityStoreId=STORE, members=[
            {"principalId": f"user-{i:02d}", "persona": "ADMINISTRATOR"} for i in range(start, min(start + 20, 25))])
    member = nb.get_studio_member(studioId=studio_id, principalId="user-03")["member"]
    assert member == {"identityStoreId": STORE, "persona": "ADMINISTRATOR", "principalId": "user-03"}
    first = nb.list_studio_members(studioId=studio_id)
    assert len(first["members"]) == 20 and first["nextToken"]  # a membership list holds at most 20
    pages = list(nb.get_paginator("list_studio_members").paginate(studioId=studio_id, PaginationConfig={"PageSize": 10}))
    assert [m["principalId"] for p in pages for m in p["members"]] == [f"user-{i:02d}" for i in range(25)]
    nb.delete_studio_member(studioId=studio_id, principalId="user-03")
    problem = error_of(nb.get_studio_member, studioId=studio_id, principalId="user-03")
    assert problem["status"] == 404 and problem["context"]["resourceId"] == "user-03"
    assert error_of(nb.delete_studio_member, studioId=studio_id, principalId="user-03")["status"] == 404


def test_member_rules(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    persona = error_of(nb.put_studio_members, studioId=studio_id, identityStoreId=STORE,
                       members=[{"principalId": "u", "persona": "USER"}])
    assert persona["Code"] == "ValidationException" and "ADMINISTRATOR" in persona["message"]
    twice = error_of(nb.put_studio_members, studioId=studio_id, identityStoreId=STORE,
                     members=[{"principalId": "u", "persona": "ADMINISTRATOR"}] * 2)
    assert "more than once" in twice["message"]
    too_many = error_of(nb.put_studio_members, studioId=studio_id, identityStoreId=STORE,
                        members=[{"principalId": f"u{i}", "persona": "ADMINISTRATOR"} for i in range(21)])
    assert "length less than or equal to 20" in too_many["message"]
    assert error_of(nb.put_studio_members, studioId="nope", identityStoreId=STORE,
                    members=[{"principalId": "u", "persona": "ADMINISTRATOR"}])["status"] == 404


def test_launch_profile_members(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    other_id, _ = ready_launch_profile(nimble, studio_id)
    nb.put_launch_profile_members(studioId=studio_id, launchProfileId=profile_id, identityStoreId=STORE,
                                  members=[{"principalId": "artist-1", "persona": "USER"},
                                           {"principalId": "artist-2", "persona": "USER"}])
    member = nb.get_launch_profile_member(studioId=studio_id, launchProfileId=profile_id, principalId="artist-1")["member"]
    assert (member["persona"], member["identityStoreId"]) == ("USER", STORE)
    updated = nb.update_launch_profile_member(studioId=studio_id, launchProfileId=profile_id,
                                              principalId="artist-2", persona="USER")["member"]
    assert updated["principalId"] == "artist-2"
    listed = nb.list_launch_profile_members(studioId=studio_id, launchProfileId=profile_id, maxResults=1)
    assert [m["principalId"] for m in listed["members"]] == ["artist-1"] and listed["nextToken"]
    # ListLaunchProfiles finds the profiles a principal is a member of.
    mine = nb.list_launch_profiles(studioId=studio_id, principalId="artist-1")["launchProfiles"]
    assert [p["launchProfileId"] for p in mine] == [profile_id]
    assert len(nb.list_launch_profiles(studioId=studio_id)["launchProfiles"]) == 2
    assert error_of(nb.put_launch_profile_members, studioId=studio_id, launchProfileId=profile_id,
                    identityStoreId=STORE, members=[{"principalId": "x", "persona": "ADMINISTRATOR"}])[
        "Code"] == "ValidationException"
    nb.delete_launch_profile_member(studioId=studio_id, launchProfileId=profile_id, principalId="artist-1")
    assert error_of(nb.get_launch_profile_member, studioId=studio_id, launchProfileId=profile_id,
                    principalId="artist-1")["status"] == 404
    assert error_of(nb.update_launch_profile_member, studioId=studio_id, launchProfileId=other_id,
                    principalId="artist-2", persona="USER")["status"] == 404
    # Membership cannot change while the launch profile is being changed.
    nb.update_launch_profile(studioId=studio_id, launchProfileId=profile_id, name="renamed")
    busy = error_of(nb.put_launch_profile_members, studioId=studio_id, launchProfileId=profile_id,
                    identityStoreId=STORE, members=[{"principalId": "artist-3", "persona": "USER"}])
    assert busy["Code"] == "ConflictException"
