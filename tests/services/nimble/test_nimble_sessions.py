"""Nimble Studio streaming sessions: lifecycle, stop/start, timers, backups, filters, pages, quota."""
from __future__ import annotations

from nimble_support import (ACCOUNT, PERSISTENT, REGION, error_of, nimble, ready_launch_profile,
                            ready_session, ready_studio)  # noqa: F401


def _get(nb, studio_id, session_id):
    return nb.get_streaming_session(studioId=studio_id, sessionId=session_id)["session"]


def test_create_defaults_ready_and_delete(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, image_id = ready_launch_profile(nimble, studio_id)
    session = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id, tags={"shot": "010"})["session"]
    session_id = session["sessionId"]
    assert len(session_id) == 22
    assert session["arn"] == f"arn:aws:nimble:{REGION}:{ACCOUNT}:streaming-session/{session_id}"
    assert (session["state"], session["statusCode"]) == ("CREATE_IN_PROGRESS", "STREAMING_SESSION_CREATE_IN_PROGRESS")
    assert (session["streamingImageId"], session["ec2InstanceType"]) == (image_id, "g4dn.xlarge")  # the first ones
    assert session["ownedBy"] == session["createdBy"] == ACCOUNT and session["tags"] == {"shot": "010"}
    assert (session["sessionPersistenceMode"], session["backupMode"], session["maxBackupsToRetain"]) == (
        "DEACTIVATED", "DEACTIVATED", 0)
    assert "automaticTerminationMode" not in session and "volumeConfiguration" not in session
    # Without persistence a session cannot stop: it is terminated at its maximum length (690 minutes).
    assert "stopAt" not in session
    assert (session["terminateAt"] - session["createdAt"]).total_seconds() == 1 + 690 * 60
    nimble.advance(1)
    ready = _get(nb, studio_id, session_id)
    assert (ready["state"], ready["statusCode"]) == ("READY", "STREAMING_SESSION_READY")
    deleting = nb.delete_streaming_session(studioId=studio_id, sessionId=session_id)["session"]
    assert (deleting["state"], deleting["statusCode"]) == ("DELETE_IN_PROGRESS", "STREAMING_SESSION_DELETE_IN_PROGRESS")
    assert error_of(nb.delete_streaming_session, studioId=studio_id, sessionId=session_id)["Code"] == "ConflictException"
    nimble.advance(1)
    deleted = _get(nb, studio_id, session_id)
    assert (deleted["state"], deleted["statusCode"]) == ("DELETED", "STREAMING_SESSION_DELETED")
    nimble.advance(3600)
    problem = error_of(nb.get_streaming_session, studioId=studio_id, sessionId=session_id)
    assert problem["status"] == 404 and problem["context"] == {"resourceId": session_id}


def test_creation_rules(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, image_id = ready_launch_profile(nimble, studio_id)
    windows = nb.list_streaming_images(studioId=studio_id, owner="amazon")["streamingImages"][0]["streamingImageId"]
    create = lambda **kw: nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id, **kw)  # noqa: E731
    assert "does not allow streaming image" in error_of(create, streamingImageId=windows)["message"]
    assert "does not allow instance type g5.xlarge" in error_of(create, ec2InstanceType="g5.xlarge")["message"]
    assert "enum value set" in error_of(create, ec2InstanceType="t3.micro")["message"]
    assert error_of(nb.create_streaming_session, studioId=studio_id,
                    launchProfileId="AAAAAAAAAAAAAAAAAAAAAA")["Code"] == "ResourceNotFoundException"
    chosen = create(ec2InstanceType="g4dn.2xlarge", ownedBy="artist-7")["session"]
    assert (chosen["ec2InstanceType"], chosen["ownedBy"], chosen["createdBy"]) == ("g4dn.2xlarge", "artist-7", ACCOUNT)
    # A launch profile being changed launches nothing.
    nb.update_launch_profile(studioId=studio_id, launchProfileId=profile_id, name="x")
    assert error_of(create)["Code"] == "ConflictException"


def test_stop_is_refused_without_a_stopped_length(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    session = ready_session(nimble, studio_id, profile_id)
    problem = error_of(nb.stop_streaming_session, studioId=studio_id, sessionId=session["sessionId"])
    assert problem["Code"] == "ValidationException" and "maxStoppedSessionLengthInMinutes is 0" in problem["message"]
    assert _get(nb, studio_id, session["sessionId"])["state"] == "READY"  # nothing changed


def test_max_session_length_terminates_without_stopping(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id, maxSessionLengthInMinutes=30)
    session_id = ready_session(nimble, studio_id, profile_id)["sessionId"]
    nimble.advance(30 * 60 - 1)
    assert _get(nb, studio_id, session_id)["state"] == "READY"
    nimble.advance(1)
    assert _get(nb, studio_id, session_id)["state"] == "DELETE_IN_PROGRESS"
    nimble.advance(1)
    assert _get(nb, studio_id, session_id)["state"] == "DELETED"


def test_stop_start_and_timers_of_a_persistent_session(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id, maxSessionLengthInMinutes=60, **PERSISTENT)
    session = ready_session(nimble, studio_id, profile_id)
    session_id = session["sessionId"]
    assert (session["sessionPersistenceMode"], session["automaticTerminationMode"]) == ("ACTIVATED", "ACTIVATED")
    assert session["volumeConfiguration"] == {"size": 500, "throughput": 125, "iops": 3000}
    assert (session["stopAt"] - session["createdAt"]).total_seconds() == 1 + 3600
    stopping = nb.stop_streaming_session(studioId=studio_id, sessionId=session_id, volumeRetentionMode="DELETE")["session"]
    assert (stopping["state"], stopping["statusCode"], stopping["stoppedBy"]) == (
        "STOP_IN_PROGRESS", "STREAMING_SESSION_STOP_IN_PROGRESS", ACCOUNT)
    assert stopping["volumeRetentionMode"] == "DELETE" and "stopAt" not in stopping
    # Terminated after 60 minutes STOPPED (maxStoppedSessionLengthInMinutes).
    assert (stopping["terminateAt"] - stopping["stoppedAt"]).total_seconds() == 1 + 3600
    assert error_of(nb.start_streaming_session, studioId=studio_id, sessionId=session_id)["Code"] == "ConflictException"
    nimble.advance(1)
    stopped = _get(nb, studio_id, session_id)
    assert (stopped["state"], stopped["statusCode"]) == ("STOPPED", "STREAMING_SESSION_STOPPED")
    assert error_of(nb.stop_streaming_session, studioId=studio_id, sessionId=session_id)["Code"] == "ValidationException"
    starting = nb.start_streaming_session(studioId=studio_id, sessionId=session_id)["session"]
    assert (starting["state"], starting["statusCode"], starting["startedBy"]) == (
        "START_IN_PROGRESS", "STREAMING_SESSION_START_IN_PROGRESS", ACCOUNT)
    assert (starting["stopAt"] - starting["startedAt"]).total_seconds() == 1 + 3600
    # Once stopped by its maximum length, it will be terminated after the stopped length.
    assert (starting["terminateAt"] - starting["stopAt"]).total_seconds() == 1 + 3600
    nimble.advance(1)
    started = _get(nb, studio_id, session_id)
    assert (started["state"], started["statusCode"]) == ("READY", "STREAMING_SESSION_STARTED")
    # The old termination timer no longer applies; the new maximum length stops the session.
    nimble.advance(3600)
    assert _get(nb, studio_id, session_id)["state"] == "STOP_IN_PROGRESS"
    nimble.advance(1)
    stopped = _get(nb, studio_id, session_id)
    assert stopped["state"] == "STOPPED" and "stoppedBy" not in stopped  # stopped by the service
    nimble.advance(3600 - 1)
    assert _get(nb, studio_id, session_id)["state"] == "STOPPED"
    nimble.advance(1)
    assert _get(nb, studio_id, session_id)["state"] == "DELETE_IN_PROGRESS"
    nimble.advance(1)
    assert _get(nb, studio_id, session_id)["state"] == "DELETED"


def test_persistent_session_without_automatic_termination_stays_stopped(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id, sessionPersistenceMode="ACTIVATED")
    session_id = ready_session(nimble, studio_id, profile_id)["sessionId"]
    nb.stop_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(10 * 24 * 3600)
    stopped = _get(nb, studio_id, session_id)
    assert stopped["state"] == "STOPPED" and "terminateAt" not in stopped
    assert stopped["volumeRetentionMode"] == "RETAIN"


def test_volume_retention_needs_persistence(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id, maxStoppedSessionLengthInMinutes=0)
    session_id = ready_session(nimble, studio_id, profile_id)["sessionId"]
    problem = error_of(nb.stop_streaming_session, studioId=studio_id, sessionId=session_id, volumeRetentionMode="RETAIN")
    assert problem["Code"] == "ValidationException"


def test_backups(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id, sessionBackup={"mode": "AUTOMATIC", "maxBackupsToRetain": 2},
                                         **PERSISTENT)
    session = ready_session(nimble, studio_id, profile_id, tags={"k": "v"})
    session_id = session["sessionId"]
    assert (session["backupMode"], session["maxBackupsToRetain"]) == ("AUTOMATIC", 2)
    for _ in range(3):
        nb.stop_streaming_session(studioId=studio_id, sessionId=session_id)
        nimble.advance(1)
        nb.start_streaming_session(studioId=studio_id, sessionId=session_id)
        nimble.advance(1)
    backups = nb.list_streaming_session_backups(studioId=studio_id)["streamingSessionBackups"]
    assert len(backups) == 2  # the oldest of three was deleted
    newest = backups[-1]
    assert newest["sessionId"] == session_id and newest["launchProfileId"] == profile_id
    assert newest["ownedBy"] == ACCOUNT and newest["tags"] == {"k": "v"} and newest["state"] == "READY"
    assert newest["arn"] == f"arn:aws:nimble:{REGION}:{ACCOUNT}:streaming-session-backup/{newest['backupId']}"
    assert nb.get_streaming_session_backup(studioId=studio_id, backupId=newest["backupId"])[
        "streamingSessionBackup"] == newest
    assert nb.list_streaming_session_backups(studioId=studio_id, ownedBy="someone")["streamingSessionBackups"] == []
    nb.stop_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)  # a fourth backup: the oldest kept one goes
    assert error_of(nb.get_streaming_session_backup, studioId=studio_id, backupId=backups[0]["backupId"])["status"] == 404
    started = nb.start_streaming_session(studioId=studio_id, sessionId=session_id, backupId=newest["backupId"])
    assert started["session"]["startedFromBackupId"] == newest["backupId"]
    other = ready_session(nimble, studio_id, profile_id)["sessionId"]
    nb.stop_streaming_session(studioId=studio_id, sessionId=other)
    nimble.advance(1)
    foreign = error_of(nb.start_streaming_session, studioId=studio_id, sessionId=other, backupId=newest["backupId"])
    assert foreign["Code"] == "ValidationException" and "belongs to streaming session" in foreign["message"]
    assert error_of(nb.start_streaming_session, studioId=studio_id, sessionId=other,
                    backupId="AAAAAAAAAAAAAAAAAAAAAA")["status"] == 404
    assert error_of(nb.get_streaming_session_backup, studioId=studio_id, backupId="nope")["status"] == 404


def test_list_filters_alone_and_together(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    ids = {owner: [nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id, ownedBy=owner)[
        "session"]["sessionId"] for _ in range(3)] for owner in ("ana", "ben")}

    def listed(**filters):
        return [s["sessionId"] for p in nb.get_paginator("list_streaming_sessions").paginate(studioId=studio_id, **filters)
                for s in p["sessions"]]

    assert listed() == ids["ana"] + ids["ben"]
    assert listed(ownedBy="ben") == ids["ben"]
    assert listed(createdBy=ACCOUNT) == ids["ana"] + ids["ben"]
    assert listed(createdBy="someone-else") == []
    wanted = [ids["ana"][2], ids["ben"][0], "doesnotexist"]
    assert listed(sessionIds=",".join(wanted)) == [ids["ana"][2], ids["ben"][0]]
    assert listed(sessionIds=f" {ids['ana'][0]} , {ids['ana'][1]} ") == ids["ana"][:2]
    assert listed(sessionIds=",".join(wanted), ownedBy="ana", createdBy=ACCOUNT) == [ids["ana"][2]]
    assert listed(sessionIds=ids["ben"][1], ownedBy="ana") == []


def test_pages_without_duplicates_or_gaps(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    created = [nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id,
                                           ownedBy=f"user{i % 3}")["session"]["sessionId"] for i in range(27)]
    pages = list(nb.get_paginator("list_streaming_sessions").paginate(studioId=studio_id))
    assert [len(p["sessions"]) for p in pages] == [10, 10, 7]
    assert [s["sessionId"] for p in pages for s in p["sessions"]] == created
    # MaxItems and StartingToken resume exactly where the last page stopped.
    first = nb.get_paginator("list_streaming_sessions").paginate(
        studioId=studio_id, PaginationConfig={"MaxItems": 13}).build_full_result()
    assert [s["sessionId"] for s in first["sessions"]] == created[:13]
    rest = nb.get_paginator("list_streaming_sessions").paginate(
        studioId=studio_id, PaginationConfig={"StartingToken": first["NextToken"]}).build_full_result()
    assert [s["sessionId"] for s in rest["sessions"]] == created[13:]
    # Sessions that disappear or appear between pages neither repeat nor vanish.
    page = nb.list_streaming_sessions(studioId=studio_id)
    nimble.advance(1)
    for gone in (created[0], created[15]):
        nb.delete_streaming_session(studioId=studio_id, sessionId=gone)
    nimble.advance(1 + 3600)  # DELETED, then forgotten
    newest = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["sessionId"]
    after = [s["sessionId"] for p in nb.get_paginator("list_streaming_sessions").paginate(
        studioId=studio_id, PaginationConfig={"StartingToken": page["nextToken"]}) for s in p["sessions"]]
    assert after == created[10:15] + created[16:] + [newest]
    # A token belongs to its filters.
    wrong = error_of(nb.list_streaming_sessions, studioId=studio_id, ownedBy="user1", nextToken=page["nextToken"])
    assert wrong["Code"] == "ValidationException"


def test_quota_counts_until_deleted(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    sessions = [nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["sessionId"]
                for _ in range(25)]
    problem = error_of(nb.create_streaming_session, studioId=studio_id, launchProfileId=profile_id)
    assert problem["Code"] == "ServiceQuotaExceededException" and problem["status"] == 402
    nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id, ownedBy="someone-else")
    nimble.advance(1)
    nb.delete_streaming_session(studioId=studio_id, sessionId=sessions[0])
    assert error_of(nb.create_streaming_session, studioId=studio_id, launchProfileId=profile_id)["status"] == 402
    nimble.advance(1)  # DELETED now
    nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)


def test_armed_failures(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id, **PERSISTENT)
    nimble.arm_fault("CreateStreamingSession", "INSUFFICIENT_CAPACITY")
    failed = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id)["session"]["sessionId"]
    nimble.advance(1)
    failed_session = _get(nb, studio_id, failed)
    assert (failed_session["state"], failed_session["statusCode"]) == ("CREATE_FAILED", "INSUFFICIENT_CAPACITY")
    assert error_of(nb.stop_streaming_session, studioId=studio_id, sessionId=failed)["Code"] == "ValidationException"
    session_id = ready_session(nimble, studio_id, profile_id)["sessionId"]
    nimble.arm_fault("StopStreamingSession", "NETWORK_INTERFACE_ERROR")
    nb.stop_streaming_session(studioId=studio_id, sessionId=session_id)
    nimble.advance(1)
    assert _get(nb, studio_id, session_id)["state"] == "STOP_FAILED"
    other = ready_session(nimble, studio_id, profile_id)["sessionId"]
    nb.stop_streaming_session(studioId=studio_id, sessionId=other)
    nimble.advance(1)
    nimble.arm_fault("StartStreamingSession", "AMI_VALIDATION_ERROR")
    nb.start_streaming_session(studioId=studio_id, sessionId=other)
    nimble.advance(1)
    started = _get(nb, studio_id, other)
    assert (started["state"], started["statusCode"]) == ("START_FAILED", "AMI_VALIDATION_ERROR")
    nimble.arm_fault("DeleteStreamingSession", "INTERNAL_ERROR")
    nb.delete_streaming_session(studioId=studio_id, sessionId=other)
    nimble.advance(1)
    assert _get(nb, studio_id, other)["state"] == "DELETE_FAILED"
    for session in (failed, session_id, other):  # failed sessions can all be deleted
        nb.delete_streaming_session(studioId=studio_id, sessionId=session)
    nimble.advance(1)
    assert {_get(nb, studio_id, s)["state"] for s in (failed, session_id, other)} == {"DELETED"}


def test_client_token_creates_one_session(nimble):
    nb = nimble.client()
    studio_id = ready_studio(nimble)
    profile_id, _ = ready_launch_profile(nimble, studio_id)
    first = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id, clientToken="abc")["session"]
    again = nb.create_streaming_session(studioId=studio_id, launchProfileId=profile_id, clientToken="abc")["session"]
    assert again["sessionId"] == first["sessionId"]
    assert len(nb.list_streaming_sessions(studioId=studio_id)["sessions"]) == 1
    assert error_of(nb.create_streaming_session, studioId=studio_id, launchProfileId=profile_id, ownedBy="x",
                    clientToken="abc")["Code"] == "ValidationException"
