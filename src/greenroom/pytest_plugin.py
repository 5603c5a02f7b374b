"""pytest plugin (installed with greenroom): the ``greenroom`` fixture, an in-process greenroom.

    def test_streams(greenroom):
        kv = greenroom.client("kinesisvideo")
        kv.create_stream(StreamName="cam")
        greenroom.clock.advance(5)
"""
import pytest


@pytest.fixture
def greenroom():
    from greenroom.inprocess import MockGreenroom

    with MockGreenroom() as active:
        yield active
