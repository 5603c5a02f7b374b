"""Amazon GameLift Streams (``gameliftstreams``)."""

MODULES: tuple[str, ...] = ()

DELAYS: dict[str, float] = {}
