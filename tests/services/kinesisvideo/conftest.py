"""Fixtures of the Kinesis Video tests (helpers are in kvs_support.py)."""
from __future__ import annotations

import pytest

from kvs_support import Kvs, http_put, make_client

# A GetMedia read to its end waits for data that may come (3 s with no producer connected):
# shorter here, so every test that reads a stream to its end does not wait 3 s. The tests of
# that wait set it back.
READ_TO_THE_END = {"kinesisvideo.getmedia.no_data_timeout": 0.3}


@pytest.fixture(params=["server", "mock"])
def kvs(request):
    """Kinesis Video on the HTTP server and in process, with a manual clock. ``put`` is PutMedia:
    over HTTP for the server, ``put_media_in_process`` for the mock."""
    if request.param == "server":
        server = request.getfixturevalue("server")
        server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
        server.admin("POST", "delays", READ_TO_THE_END).raise_for_status()
        yield Kvs(
            mode="server",
            client=server.client,
            advance=lambda seconds: server.admin("POST", "clock", {"advance": seconds}).raise_for_status(),
            put=lambda body, **options: http_put(server.base_url, body, **options),
            set_delays=lambda delays: server.admin("POST", "delays", delays).raise_for_status(),
            base_url=server.base_url,
        )
    else:
        yield from _in_process()


def _in_process():
    import greenroom
    from greenroom.core.errors import ServiceError
    from greenroom.services.kinesisvideo.put_media import put_media_in_process

    with greenroom.mock() as mock:
        mock.clock.freeze()

        def put(body, **options):
            try:
                return put_media_in_process(mock.emulator, body, **options)
            except ServiceError as error:
                return [{"HttpStatus": 404 if error.code == "ResourceNotFoundException" else 400,
                         "ErrorType": error.code, "Message": error.message}]

        def set_delays(delays):
            for name, seconds in delays.items():
                mock.delays.set(name, seconds)

        clients = {}

        def client(name):
            if name not in clients:  # made inside this mock, once per service
                clients[name] = make_client(name)
            return clients[name]

        yield Kvs(mode="mock", client=client, advance=mock.clock.advance,
                  put=put, set_delays=set_delays, emulator=mock.emulator)


@pytest.fixture
def mock_kvs():
    """In process only (greenroom.mock()), with a manual clock."""
    yield from _in_process()


def _over_http(server) -> Kvs:
    server.admin("POST", "clock", {"mode": "manual"}).raise_for_status()
    server.admin("POST", "delays", READ_TO_THE_END).raise_for_status()
    return Kvs(
        mode="server",
        client=server.client,
        advance=lambda seconds: server.admin("POST", "clock", {"advance": seconds}).raise_for_status(),
        put=lambda body, **options: http_put(server.base_url, body, **options),
        set_delays=lambda delays: server.admin("POST", "delays", delays).raise_for_status(),
        base_url=server.base_url,
        ca_file=server.ca_file if server.base_url.startswith("https://") else "",
    )


@pytest.fixture(params=["http", "https"])
def http_kvs(request, server, monkeypatch):
    """The HTTP server only (streaming PutMedia, live tails), with a manual clock, through its
    plain listener and through its TLS one (boto3 clients and greenroom's producer trusting
    greenroom's CA: the producer through AWS_CA_BUNDLE, as the command line does)."""
    if request.param == "https":
        server = request.getfixturevalue("https_server")
        monkeypatch.setenv("AWS_CA_BUNDLE", server.ca_file)
    return _over_http(server)


@pytest.fixture
def plain_http_kvs(server):
    """The HTTP server through its plain listener only (tests of the command line, say)."""
    return _over_http(server)
