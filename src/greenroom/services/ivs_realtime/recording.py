"""Individual participant recording (a stage's ``autoParticipantRecordingConfiguration`` with a
storage configuration), driven by participation's publishing events.

STARTING when a participant starts publishing, ACTIVE after ``ivs-realtime.recording.start``;
STOPPING when it stops, STOPPED after ``ivs-realtime.recording.stop`` or the configuration's
``recordingReconnectWindowSeconds``, whichever is longer; publishing again while STOPPING resumes
the same recording (same prefix). [inferred] A participant that never recorded shows DISABLED.
What is recorded here is the recording's state and where it goes; ``recording_media`` writes
the media (HLS, thumbnails, metadata) of participants publishing over WHIP while this state says so.
"""
from __future__ import annotations

from ...core.lifecycle import Step, applies, revise, transition
from . import tables
from .common import PARTICIPANT, STORAGE_CONFIGURATION, Env, arn_id, events, transition_env
from .participation import is_replica, participant_by_key, participant_key, save

RECORDING_IN_PROGRESS = ("STARTING", "ACTIVE", "STOPPING")

# The recording's steps, in the participant's "recording" lane (its other timers are independent).
SETTLE = "ivs-realtime.recording.settle"
STARTED = Step("STARTING", {"recordingState": "ACTIVE"}, delay="ivs-realtime.recording.start",
               field="recordingState", lane="recording", action=SETTLE)
STOPPED = Step("STOPPING", {"recordingState": "STOPPED"}, field="recordingState", lane="recording", action=SETTLE)


def _recording_bucket(env: Env, stage: dict | None, participant: dict) -> str | None:
    """The bucket this participant's publishing is recorded to; None if it is not recorded."""
    if stage is None:
        return None
    configuration = stage["autoParticipantRecordingConfiguration"]
    storage_arn = configuration.get("storageConfigurationArn")
    if not storage_arn:
        return None
    if is_replica(participant) and not configuration.get("recordParticipantReplicas", True):
        return None
    storage_id = arn_id(env, storage_arn, "storage-configuration")
    storage = env.resources.get(STORAGE_CONFIGURATION, storage_id) if storage_id else None
    return storage["s3"]["bucketName"] if storage else None


@events.subscribe("publishing.started")
def start_recording(env: Env, stage: dict | None, participant: dict) -> None:
    bucket = _recording_bucket(env, stage, participant)
    if bucket is None:
        return
    private = participant["_"]
    revise(participant, STARTED.lane)
    if participant["recordingState"] == "STOPPING":
        participant["recordingState"] = "ACTIVE"  # back within the reconnect window: same recording
        save(env, participant)
        return
    participant["recordingState"] = "STARTING"
    participant["recordingS3BucketName"] = bucket
    participant["recordingS3Prefix"] = (
        f"{private['stageId']}/{private['sessionId']}/{participant['participantId']}/{int(env.now)}")
    save(env, participant)
    STARTED.schedule(env, PARTICIPANT, participant_key(participant), participant)


@events.subscribe("publishing.stopped")
def stop_recording(env: Env, stage: dict | None, participant: dict) -> None:
    if participant["recordingState"] not in ("STARTING", "ACTIVE"):
        return
    revise(participant, STOPPED.lane)
    participant["recordingState"] = "STOPPING"
    save(env, participant)
    window = 0
    if stage is not None:
        window = stage["autoParticipantRecordingConfiguration"].get("recordingReconnectWindowSeconds", 0)
    due = env.now + max(env.delay("ivs-realtime.recording.stop"), window)
    STOPPED.schedule(env, PARTICIPANT, participant_key(participant), participant, at=due)


@transition(SETTLE)
def _settle_recording(resources, kind, key, args, due_at) -> None:
    """``update`` for participants, which live in their own table."""
    env = transition_env(resources, due_at, args)
    participant = participant_by_key(env, key)
    if applies(participant, args):
        participant.update(args["set"])
        save(env, participant)


def recording_in_progress(env: Env, session_id: str) -> bool:
    return any(tables.count_participants(env.conn, env.account, env.region, session_id, recording_state=state)
               for state in RECORDING_IN_PROGRESS)
