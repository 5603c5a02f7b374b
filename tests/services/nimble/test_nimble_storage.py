"""Nimble Studio on both stores (a SQLite file and PostgreSQL): filters, pages, ARNs and
lifecycles read the JSON documents the same way, and survive a restart."""
from __future__ import annotations

from nimble_support import REGION, PERSISTENT, create_component, create_launch_profile, create_studio, \
    built_in_image, stream_configuration


def test_state_and_lifecycles_on_both_stores_across_a_restart(launch, db_url):
    server = launch("--db-url", db_url)
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    nb = server.client("nimble", region=REGION)
    studio = create_studio(nb, "stored", tags={"site": "lon"})
    studio_id = studio["studioId"]
    server.admin("POST", "clock", {"advance": 1}).raise_for_status()
    component_id = create_component(nb, studio_id)["studioComponentId"]
    image = built_in_image(nb, studio_id)
    profile_id = create_launch_profile(nb, studio_id, [component_id], [image["streamingImageId"]],
                                       streamConfiguration=stream_configuration([image["streamingImageId"]],
                                                                                **PERSISTENT))["launchProfileId"]
    server.admin("POST", "clock", {"advance": 1}).raise_for_status()
    nb.accept_eulas(studioId=studio_id, eulaIds=image["eulaIds"])
    sessions = [nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id, ownedBy=f"u{i % 2}")[
        "session"]["sessionId"] for i in range(12)]
    server.stop()

    server = launch("--db-url", db_url)  # the same store, a new process
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    nb = server.client("nimble", region=REGION)
    assert nb.get_studio(studioId=studio_id)["studio"]["state"] == "READY"
    assert nb.list_tags_for_resource(resourceArn=studio["arn"])["tags"] == {"site": "lon"}
    pages = list(nb.get_paginator("list_streaming_sessions").paginate(studioId=studio_id, ownedBy="u1"))
    assert [s["sessionId"] for p in pages for s in p["sessions"]] == sessions[1::2]
    assert [s["sessionId"] for s in nb.list_streaming_sessions(
        studioId=studio_id, sessionIds=f"{sessions[0]},{sessions[3]}", createdBy="000000000000")["sessions"]] == \
        [sessions[0], sessions[3]]
    # The new process's clock starts from real time, which the old one's manual clock was ahead of.
    server.admin("POST", "clock", {"advance": 10}).raise_for_status()
    assert {s["state"] for s in nb.list_streaming_sessions(studioId=studio_id)["sessions"]} == {"READY"}
    nb.stop_streaming_session(studioId=studio_id, sessionId=sessions[0])
    server.admin("POST", "clock", {"advance": 1}).raise_for_status()
    assert nb.get_streaming_session(studioId=studio_id, sessionId=sessions[0])["session"]["state"] == "STOPPED"
    # The stopped session is terminated after maxStoppedSessionLengthInMinutes (60).
    server.admin("POST", "clock", {"advance": 3601}).raise_for_status()
    assert nb.get_streaming_session(studioId=studio_id, sessionId=sessions[0])["session"]["state"] == "DELETED"
