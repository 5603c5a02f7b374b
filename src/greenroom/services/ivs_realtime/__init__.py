"""Amazon IVS Real-Time (``ivs-realtime``)."""

MODULES: tuple[str, ...] = ()

DELAYS: dict[str, float] = {}
