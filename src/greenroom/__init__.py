"""greenroom: AWS's streaming-media services (IVS Real-Time, GameLift Streams, Nimble Studio,
Kinesis Video Streams), locally and wire-compatible with boto3 and the AWS CLI."""

__version__ = "0.1.0"


def mock(*, seed=None, default_account=None, db_url=None, credentials=None):
    """An in-process greenroom for the boto3 clients created inside it (see greenroom.inprocess);
    its state is in memory unless ``db_url`` names a store (sqlite:///file, postgresql://...).
    With ``credentials`` (a credentials file or its parsed list) every request's SigV4 signature
    is verified against those keys, as ``greenroom serve --verify-signatures`` does."""
    from .inprocess import MockGreenroom
    return MockGreenroom(seed=seed, default_account=default_account, db_url=db_url, credentials=credentials)


def __getattr__(name):
    # Imported on first use: `import greenroom` (e.g. by the pytest plugin) stays cheap.
    if name in ("MockGreenroom", "NotEmulatedError"):
        from . import inprocess
        return getattr(inprocess, name)
    raise AttributeError(f"module 'greenroom' has no attribute {name!r}")
