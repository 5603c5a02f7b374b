"""Amazon GameLift Streams (``gameliftstreams``): applications, stream groups, stream sessions
whose WebRTC offers are answered by live aiortc peers streaming a generated application
(``streaming``: input format, lifecycle from the connection), tags, and client-side stand-ins
(``client_actions``).

Stream-group delays default to 0: the botocore waiters StreamGroupActive and StreamGroupDeleted
poll every 30 s, so a group is ACTIVE (or gone) by their first poll. Set the delays with
``POST /_greenroom/delays`` to watch ACTIVATING, UPDATING_LOCATIONS and DELETING.
"""

MODULES: tuple[str, ...] = (
    "applications",
    "stream_groups",
    "stream_sessions",
    "stream_urls",
    "tags",
    "client_actions",
)

DAY = 86400.0

DELAYS: dict[str, float] = {
    "gameliftstreams.application.initialize": 0.5,   # INITIALIZED -> PROCESSING
    "gameliftstreams.application.process": 1.0,      # PROCESSING -> READY
    "gameliftstreams.application.replicate": 1.0,    # a location's ReplicationStatus REPLICATING -> COMPLETED
    "gameliftstreams.application.delete": 1.0,       # DELETING -> gone
    "gameliftstreams.streamgroup.activate": 0.0,     # ACTIVATING -> ACTIVE
    "gameliftstreams.streamgroup.location.activate": 0.0,  # an added location ACTIVATING -> ACTIVE
    "gameliftstreams.streamgroup.location.remove": 0.0,    # a location REMOVING -> gone
    "gameliftstreams.streamgroup.delete": 0.0,       # DELETING -> gone
    "gameliftstreams.streamgroup.expire": 365 * DAY,  # ExpiresAt: ACTIVE -> EXPIRED
    "gameliftstreams.session.activate": 1.0,         # placed session ACTIVATING -> ACTIVE
    "gameliftstreams.session.placement_timeout": 10.0,  # unplaced ACTIVATING -> ERROR placementTimeout
    "gameliftstreams.session.reconnect": 0.5,        # RECONNECTING -> ACTIVE
    "gameliftstreams.session.terminate": 1.0,        # TERMINATING -> TERMINATED
    "gameliftstreams.session.idle_timeout": 3600.0,  # CONNECTED without input -> TERMINATED idleTimeout
    "gameliftstreams.session.export": 1.0,           # export PENDING -> SUCCEEDED after the session ends
}
