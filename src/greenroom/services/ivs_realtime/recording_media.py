"""Individual participant recording's media: a publishing participant whose stage has an
``autoParticipantRecordingConfiguration`` with a storage configuration is recorded as HLS with
thumbnails into that configuration's bucket, through ``emulator.objects`` (core.objectstore).

``recording`` (the participation model's part) decides *whether* and *where* (recordingState STARTING/ACTIVE/STOPPING/
STOPPED, ``recordingS3BucketName``, ``recordingS3Prefix`` =
``{stageId}/{sessionId}/{participantId}/{epoch}``, the reconnect window, replicas); this module
makes the objects while the state says so. Under the prefix, as the IVS user guide lays it out:

    events/recording-started.json   when recording starts
    events/recording-ended.json     when it ends (the participant's recordingState STOPPED)
    media/hls/multivariant.m3u8, media/hls/high/playlist.m3u8, media/hls/high/{n}.ts
    media/thumbnails/high/{n}.jpg             (thumbnailConfiguration INTERVAL, SEQUENTIAL)
    media/latest_thumbnail/high/thumb.jpg     (INTERVAL, LATEST; overwritten)

Segments last ``hlsConfiguration.targetSegmentDurationSeconds``; thumbnails come every
``thumbnailConfiguration.targetIntervalSeconds`` of recorded time. mediaTypes AUDIO_ONLY records
sound only; NONE records no HLS (thumbnails still, when configured) [inferred].
A publisher that comes back within ``recordingReconnectWindowSeconds`` continues the same
recording (same prefix, after an ``EXT-X-DISCONTINUITY``); a replica is recorded in its
destination stage (with that stage's configuration) unless ``recordParticipantReplicas`` is
false -- both decided by participation, followed here.

[inferred] The metadata documents' members (``version``, ``stage_arn``, ``session_id``,
``participant_id``, ``recording_started_at``/``recording_ended_at``, ``recording_status``,
``media`` with ``hls``/``thumbnails``/``latest_thumbnail`` paths and renditions, ``duration_ms``)
follow the user guide's description of IVS recording metadata; segment names (``{n}.ts``) and
the MPEG-TS/H.264/AAC format are greenroom's choice.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.clock import iso_utc_ms
from ...core.objectstore import ObjectStoreError
from ...media.hls_recording import HlsRecorder, ThumbnailPlan
from . import tables
from .common import REPLICA, SERVICE, STAGE
from .recording import RECORDING_IN_PROGRESS

if TYPE_CHECKING:  # aiortc loads with the first peer (media.rtc)
    from ...media.sfu import Publication

log = logging.getLogger("greenroom.ivs_realtime")

CHECK_SECONDS = 1.0
RECORDING = ("STARTING", "ACTIVE")


@dataclass(frozen=True)
class Wanted:
    """A recording the store says should be running for a publication."""

    stage_arn: str
    session_id: str
    participant_id: str
    bucket: str
    prefix: str
    configuration: dict


def wanted_recordings(emulator, account: str, region: str, stage_id: str, session_id: str,
                      participant_id: str) -> list[Wanted]:
    """The participant's own recording and its replicas' (other stages), if recording."""
    found = []
    with emulator.context(SERVICE, "Recordings", account, region) as ctx:
        places = [(stage_id, session_id)]
        for _, replica in ctx.resources.list(REPLICA, parent=f"{stage_id}/{participant_id}",
                                             where={"replicationState": "ACTIVE"}):
            places.append((replica["_"]["destinationStageId"], replica["destinationSessionId"]))
        for place_stage, place_session in places:
            participant = tables.get_participant(ctx.conn, account, region, place_session, participant_id)
            stage = ctx.resources.get(STAGE, place_stage)
            if (participant is None or stage is None or participant.get("recordingState") not in RECORDING
                    or not participant.get("recordingS3Prefix")):
                continue
            found.append(Wanted(stage["arn"], place_session, participant_id, participant["recordingS3BucketName"],
                                participant["recordingS3Prefix"], stage["autoParticipantRecordingConfiguration"]))
    return found


def recording_state(emulator, account: str, region: str, session_id: str, participant_id: str) -> tuple:
    with emulator.context(SERVICE, "RecordingState", account, region) as ctx:
        participant = tables.get_participant(ctx.conn, account, region, session_id, participant_id)
    if participant is None:
        return None, None
    return participant.get("recordingState"), participant.get("recordingS3Prefix")


# (bucket, prefix) -> the recording being made in this process.
RECORDINGS: dict[tuple[str, str], "Recording"] = {}


class Recording:
    def __init__(self, emulator, account: str, region: str, wanted: Wanted):
        self.emulator, self.account, self.region, self.wanted = emulator, account, region, wanted
        configuration = wanted.configuration
        media_types = (configuration.get("mediaTypes") or ["AUDIO_VIDEO"])[0]
        thumbnails = configuration.get("thumbnailConfiguration") or {}
        plan = None
        if thumbnails.get("recordingMode") == "INTERVAL" and media_types != "AUDIO_ONLY":
            storage = thumbnails.get("storage") or ["SEQUENTIAL"]
            plan = ThumbnailPlan(float(thumbnails.get("targetIntervalSeconds", 60)),
                                 sequential="SEQUENTIAL" in storage, latest="LATEST" in storage)
        self.media_types = media_types
        self.recorder = HlsRecorder(self._write_media,
                                    segment_seconds=float((configuration.get("hlsConfiguration") or {}).get(
                                        "targetSegmentDurationSeconds", 6)),
                                    video=media_types == "AUDIO_VIDEO",
                                    audio=media_types in ("AUDIO_VIDEO", "AUDIO_ONLY"),
                                    thumbnails=plan)
        self.started_at = emulator.clock.now()
        self.publication: Publication | None = None
        self.attachments = 0
        self.taps: list = []
        self.watcher: asyncio.Future | None = None

    # ---- objects
    def _put(self, name: str, data: bytes, content_type: str) -> None:
        try:
            self.emulator.objects.put(self.wanted.bucket, f"{self.wanted.prefix}/{name}", data, content_type)
        except ObjectStoreError as error:
            log.warning("participant recording %s: %s", self.wanted.prefix, error)

    def _write_media(self, name: str, data: bytes, content_type: str) -> None:
        self._put(f"media/{name}", data, content_type)

    def _metadata(self, status: str, **extra) -> bytes:
        media = {}
        if self.media_types != "NONE":
            media["hls"] = {"path": "media/hls", "playlist": "multivariant.m3u8",
                            "renditions": [{"path": "high", "playlist": "playlist.m3u8", **extra.pop("rendition", {})}],
                            **extra.pop("hls", {})}
        plan = self.recorder.thumbnails
        if plan is not None and plan.sequential:
            media["thumbnails"] = {"path": "media/thumbnails", "renditions": [{"path": "high"}]}
        if plan is not None and plan.latest:
            media["latest_thumbnail"] = {"path": "media/latest_thumbnail", "renditions": [{"path": "high"}]}
        document = {
            "version": "v1",
            "stage_arn": self.wanted.stage_arn,
            "session_id": self.wanted.session_id,
            "participant_id": self.wanted.participant_id,
            "recording_started_at": iso_utc_ms(self.started_at),
            "recording_status": status,
            "media": media,
            **extra,
        }
        return json.dumps(document, indent=2).encode()

    # ---- lifecycle (event loop)
    async def start(self) -> None:
        await asyncio.to_thread(self._put, "events/recording-started.json",
                                self._metadata("RECORDING_STARTED"), "application/json")
        self.watcher = asyncio.ensure_future(self._watch())

    def attach(self, publication: Publication) -> None:
        """Record this publication's media (again, after a pause: a discontinuity)."""
        if self.publication is publication:
            return
        self.detach()
        if self.attachments:
            self.recorder.resume()
        self.attachments += 1
        self.publication = publication
        for kind, source in publication.sources.items():
            feed = self.recorder.video if kind == "video" else self.recorder.audio
            name = source.codec.name

            def tap(frame, feed=feed, name=name):
                feed(name, frame.data, frame.timestamp)
            source.taps.append(tap)
            self.taps.append((source, tap))
            if kind == "video":
                source.request_keyframe()  # decoding starts at a keyframe

    def detach(self) -> None:
        for source, tap in self.taps:
            if tap in source.taps:
                source.taps.remove(tap)
        self.taps, self.publication = [], None

    async def _watch(self) -> None:
        """Until the participant's recording is no longer in progress (STOPPED after the
        reconnect window, or gone), then finish."""
        try:
            while True:
                await asyncio.sleep(CHECK_SECONDS)
                if self.publication is not None and self.publication.closed:
                    self.detach()
                state, prefix = await asyncio.to_thread(recording_state, self.emulator, self.account, self.region,
                                                        self.wanted.session_id, self.wanted.participant_id)
                if state not in RECORDING_IN_PROGRESS or prefix != self.wanted.prefix:
                    break
        finally:
            self.detach()
            RECORDINGS.pop((self.wanted.bucket, self.wanted.prefix), None)
            await asyncio.to_thread(self._finish)

    def _finish(self) -> None:
        summary = self.recorder.finish()
        extra = {"recording_ended_at": iso_utc_ms(self.emulator.clock.now())}
        if self.media_types != "NONE":
            extra["hls"] = {"duration_ms": int(summary.duration * 1000)}
            if summary.width:
                extra["rendition"] = {"resolution_width": summary.width, "resolution_height": summary.height}
        self._put("events/recording-ended.json", self._metadata("RECORDING_ENDED", **extra), "application/json")


async def keep_recordings(live, publication: Publication) -> None:
    """While ``publication`` lives: the recordings the store wants for it run and record it."""
    notifier = live.emulator.store.notifier
    while not publication.closed and not live.ended:
        version = notifier.version(live.topic)
        wanted = await asyncio.to_thread(wanted_recordings, live.emulator, live.account, live.region,
                                         live.stage_id, live.session_id, live.participant_id)
        for item in wanted:
            recording = RECORDINGS.get((item.bucket, item.prefix))
            if recording is None:
                recording = RECORDINGS[(item.bucket, item.prefix)] = Recording(
                    live.emulator, live.account, live.region, item)
                await recording.start()
            if not publication.closed:
                recording.attach(publication)
        await notifier.wait(live.topic, CHECK_SECONDS, since=version)
