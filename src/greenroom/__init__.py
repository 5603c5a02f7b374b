"""greenroom: AWS's streaming-media services (IVS Real-Time, GameLift Streams, Nimble Studio,
Kinesis Video Streams), locally and wire-compatible with boto3 and the AWS CLI."""

__version__ = "0.1.0"


def mock(*, seed=None, default_account=None):
    """An in-process greenroom for the boto3 clients created inside it (see greenroom.mock)."""
    from .mock import mock as make_mock
    return make_mock(seed=seed, default_account=default_account)
