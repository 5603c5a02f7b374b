"""One package per emulated service; importing a module registers its operations."""
from __future__ import annotations

import importlib

# Service packages, each exposing ``MODULES`` (its resource modules) and ``DELAYS``.
PACKAGES = ("ivs_realtime", "gameliftstreams", "nimble", "kinesisvideo")


def _packages():
    return [importlib.import_module(f"{__name__}.{name}") for name in PACKAGES]


def load_all() -> None:
    for package in _packages():
        for module in package.MODULES:
            importlib.import_module(f"{package.__name__}.{module}")


def declare_delays(delays) -> None:
    for package in _packages():
        for name, seconds in package.DELAYS.items():
            delays.declare(name, seconds)
