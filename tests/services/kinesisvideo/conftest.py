"""Fixtures of the Kinesis Video tests (helpers are in kvs_support.py): each a ``support.Driver``
with a manual clock; ``put_media`` is PutMedia over HTTP for the server, ``put_media_in_process``
in process."""
from __future__ import annotations

import pytest

from support import Driver, both_modes

# A GetMedia read to its end waits for data that may come (3 s with no producer connected):
# shorter here, so every test that reads a stream to its end does not wait 3 s. The tests of
# that wait set it back.
READ_TO_THE_END = {"kinesisvideo.getmedia.no_data_timeout": 0.3}


@pytest.fixture(params=["server", "mock"])
def kvs(request):
    """Kinesis Video on the HTTP server and in process."""
    for driver in both_modes(request):
        if driver.mode == "server":
            driver.set_delays(READ_TO_THE_END)
        yield driver


@pytest.fixture
def mock_kvs():
    """In process only (greenroom.mock())."""
    driver = Driver.in_process()
    yield driver
    driver.close()


def _over_http(server) -> Driver:
    driver = Driver.over_http(server)
    driver.set_delays(READ_TO_THE_END)
    return driver


@pytest.fixture(params=["http", "https"])
def http_kvs(request, server, monkeypatch):
    """The HTTP server only (streaming PutMedia, live tails), through its plain listener and
    through its TLS one (boto3 clients and greenroom's producer trusting greenroom's CA: the
    producer through AWS_CA_BUNDLE, as the command line does)."""
    if request.param == "https":
        server = request.getfixturevalue("https_server")
        monkeypatch.setenv("AWS_CA_BUNDLE", server.ca_file)
    return _over_http(server)


@pytest.fixture
def plain_http_kvs(server):
    """The HTTP server through its plain listener only (tests of the command line, say)."""
    return _over_http(server)
