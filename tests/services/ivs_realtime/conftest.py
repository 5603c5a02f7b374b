"""Fixtures of the IVS Real-Time tests.

``rt`` runs a test against the HTTP server and in process (both with a manual clock): a
``support.Driver`` whose clients default to ``ivs-realtime``, playing the clients through
greenroom's routes with ``join(token, ...)``, ``act(participant, action, ...)``,
``ingest(stream_key, ...)``, ``set_quotas(...)``, ``jwks()``; a refused client action raises
``Refused`` with the HTTP status and the JSON body the route answers.
"""
from __future__ import annotations

import pytest

from support import both_modes


@pytest.fixture(params=["server", "mock"])
def rt(request):
    """The same test over HTTP and in process, each with a fresh state and a manual clock."""
    yield from both_modes(request, service="ivs-realtime")
