"""Fixtures of the IVS Real-Time tests.

``rt`` runs a test against the HTTP server (client stand-ins through the admin routes) and in
process (the same stand-ins as Python functions on ``greenroom.mock().emulator``), both with a
manual clock. It offers ``client()``, ``advance(s)``, ``join(token, ...)``, ``act(participant,
action, ...)``, ``ingest(stream_key, ...)``, ``set_quotas(...)``, ``jwks()``; a refused client
action raises ``Refused`` with the HTTP status and the JSON body the route answers.
"""
from __future__ import annotations

import pytest

from ivs_realtime_support import ACCOUNT, REGION, Refused, make_client


class _HttpDriver:
    mode = "server"

    def __init__(self, server):
        self.server = server

    def client(self, name: str = "ivs-realtime", **kwargs):
        return make_client(name, self.server.base_url, **kwargs)

    def advance(self, seconds: float) -> None:
        self.server.admin("POST", "clock", {"advance": seconds}).raise_for_status()

    def _post(self, path: str, body: dict) -> dict:
        response = self.server.admin("POST", path, body)
        if response.status_code != 200:
            raise Refused(response.status_code, response.json())
        return response.json()

    def join(self, token: str, protocol: str = "WHIP", **extra) -> dict:
        return self._post("ivs-realtime/join", {"token": token, "protocol": protocol, **extra})

    def act(self, participant_id: str, action: str, **body) -> dict:
        return self._post(f"ivs-realtime/participants/{participant_id}/{action}", body)

    def ingest(self, stream_key: str, protocol: str = "RTMPS") -> dict:
        return self._post("ivs-realtime/ingest", {"streamKey": stream_key, "protocol": protocol})

    def set_quotas(self, **quotas) -> dict:
        response = self.server.admin("POST", "ivs-realtime/quotas",
                                     {"account": ACCOUNT, "region": REGION, "quotas": quotas})
        response.raise_for_status()
        return response.json()["quotas"]

    def jwks(self) -> dict:
        response = self.server.admin("GET", f"ivs-realtime/jwks?account={ACCOUNT}")
        response.raise_for_status()
        return response.json()


class _MockDriver:
    mode = "mock"

    def __init__(self, mock):
        self.mock = mock
        self.emulator = mock.emulator

    def client(self, name: str = "ivs-realtime", **kwargs):
        return make_client(name, **kwargs)

    def advance(self, seconds: float) -> None:
        self.mock.clock.advance(seconds)

    @staticmethod
    def _call(function, *args, **kwargs) -> dict:
        from greenroom.services.ivs_realtime.client_actions import ClientActionError
        try:
            return function(*args, **kwargs)
        except ClientActionError as error:
            raise Refused(error.status, error.body()) from None

    def join(self, token: str, protocol: str = "WHIP", stageArn=None, client=None) -> dict:
        from greenroom.services.ivs_realtime import client_actions
        return self._call(client_actions.join, self.emulator, token, protocol, stage_arn=stageArn, client=client)

    def act(self, participant_id: str, action: str, publisherParticipantId=None, token=None,
            stageArn=None) -> dict:
        from greenroom.services.ivs_realtime import client_actions
        if action in ("subscribe", "unsubscribe"):
            function = getattr(client_actions, action)
            return self._call(function, self.emulator, participant_id, publisherParticipantId, stage_arn=stageArn)
        if action == "exchange-token":
            return self._call(client_actions.exchange_token, self.emulator, participant_id, token, stage_arn=stageArn)
        return self._call(getattr(client_actions, action), self.emulator, participant_id, stage_arn=stageArn)

    def ingest(self, stream_key: str, protocol: str = "RTMPS") -> dict:
        from greenroom.services.ivs_realtime import client_actions
        return self._call(client_actions.ingest, self.emulator, stream_key, protocol)

    def set_quotas(self, **quotas) -> dict:
        from greenroom.services.ivs_realtime.quotas import set_quotas
        return set_quotas(self.emulator, ACCOUNT, REGION, **quotas)

    def jwks(self) -> dict:
        from greenroom.services.ivs_realtime.tokens import jwks
        return jwks(self.emulator, ACCOUNT)


@pytest.fixture(params=["server", "mock"])
def rt(request):
    """The same test over HTTP and in process, each with a fresh state and a manual clock."""
    if request.param == "server":
        server = request.getfixturevalue("server")  # reset, real clock
        server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
        yield _HttpDriver(server)
    else:
        import greenroom
        with greenroom.mock() as mock:
            mock.clock.freeze()
            yield _MockDriver(mock)
