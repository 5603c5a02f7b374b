"""Amazon IVS Real-Time (``ivs-realtime``): stages, participant tokens, public keys, sessions,
participants and their events, participant replication, compositions, storage, encoder and
ingest configurations, tags and quotas -- plus stand-ins for the client SDKs
(``client_actions``) and admin routes for the token-signing JWKS (``tokens``) and the quotas
(``quotas``)."""

MODULES: tuple[str, ...] = (
    "stages",
    "tokens",
    "public_keys",
    "participation",
    "recording",
    "sessions",
    "replication",
    "compositions",
    "storage_configurations",
    "encoder_configurations",
    "ingest_configurations",
    "tags",
    "quotas",
    "client_actions",
)

DELAYS: dict[str, float] = {
    # A session ends this long after its last participant left (AWS: "a few minutes").
    "ivs-realtime.session.end": 2.0,
    # Individual participant recording: STARTING -> ACTIVE, and STOPPING -> STOPPED (at least
    # the stage's recordingReconnectWindowSeconds).
    "ivs-realtime.recording.start": 1.0,
    "ivs-realtime.recording.stop": 1.0,
    # Compositions: STARTING -> ACTIVE, STOPPING -> STOPPED.
    "ivs-realtime.composition.start": 1.0,
    "ivs-realtime.composition.stop": 1.0,
    # A composition stops this long after its stage emptied (or started empty). AWS's documented
    # 60 s is kept: it is a timeout users build flows around, not a lifecycle anyone waits for.
    "ivs-realtime.composition.idle": 60.0,
}
