"""Amazon Nimble Studio (``nimble``), from the model greenroom ships."""

MODULES: tuple[str, ...] = ()

DELAYS: dict[str, float] = {}
