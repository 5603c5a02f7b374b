"""The S3 stand-in: where greenroom writes what an AWS service would write to a customer's S3
bucket (IVS participant recordings, GameLift Streams session exports...).

greenroom emulates no S3. Objects go to a local directory (``--s3-dir``, by default
``<data dir>/s3``), one file per object at ``<dir>/<bucket>/<key>``; or, with
``--s3-endpoint-url``, through boto3 to that S3-compatible endpoint (MinIO, moto's server,
LocalStack, AWS itself), with the credentials boto3 finds in its usual places.

Writes are atomic per object (a temporary file renamed over the key), so a reader never sees
half an object and several greenroom processes may write the same key (last one wins, as on S3).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import tempfile
import threading
from pathlib import Path, PurePosixPath

# boto3 is needed only with an endpoint (extra "boto3"), and imported only then: importing it
# cost a fifth of the server's start.
HAVE_BOTO3 = importlib.util.find_spec("boto3") is not None

# S3's bucket naming rules (3-63 characters, lower-case letters, digits, dots and hyphens,
# starting and ending with a letter or digit).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MAX_KEY_BYTES = 1024


class ObjectStoreError(Exception):
    """An object that cannot be written or read (bad name, missing object, endpoint refusal)."""


class ObjectStore:
    def __init__(self, directory: Path | str | None = None, endpoint_url: str | None = None,
                 region: str = "us-east-1"):
        """``directory``: where objects go without an endpoint (None: a temporary directory,
        made on first use, for the in-process mock and tests)."""
        if endpoint_url is not None and not HAVE_BOTO3:
            raise ObjectStoreError("--s3-endpoint-url needs boto3 (pip install 'greenroom[boto3]')")
        self.endpoint_url = endpoint_url
        self._directory = Path(directory) if directory is not None else None
        self._region = region
        self._client = None
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        with self._lock:
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix="greenroom-s3-"))
            return self._directory

    def describe(self) -> str:
        return self.endpoint_url or str(self.directory)

    # ------------------------------------------------------------------ writing
    def put(self, bucket: str, key: str, data: bytes, content_type: str | None = None) -> None:
        _check(bucket, key)
        if self.endpoint_url is not None:
            extra = {"ContentType": content_type} if content_type else {}
            self._call("put_object", Bucket=bucket, Key=key, Body=bytes(data), **extra)
            return
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    # ------------------------------------------------------------------ reading
    def get(self, bucket: str, key: str) -> bytes:
        _check(bucket, key)
        if self.endpoint_url is not None:
            return self._call("get_object", Bucket=bucket, Key=key)["Body"].read()
        try:
            return self._path(bucket, key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectStoreError(f"no object s3://{bucket}/{key}") from None

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """The keys under ``prefix`` in ``bucket``, sorted."""
        _check_bucket(bucket)
        if self.endpoint_url is not None:
            keys = []
            for page in self._client_for().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", [])]
            return sorted(keys)
        root = self.directory / bucket
        if not root.is_dir():
            return []
        found = (path.relative_to(root).as_posix() for path in root.rglob("*")
                 if path.is_file() and not path.name.startswith(".put-"))
        return sorted(key for key in found if key.startswith(prefix))

    # ------------------------------------------------------------------ helpers
    def _path(self, bucket: str, key: str) -> Path:
        return self.directory / bucket / PurePosixPath(key)

    def _client_for(self):
        with self._lock:
            if self._client is None:
                boto3 = importlib.import_module("boto3")
                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=self.endpoint_url,
                    region_name=os.environ.get("AWS_DEFAULT_REGION", self._region))
            return self._client

    def _call(self, method: str, **params):
        try:
            return getattr(self._client_for(), method)(**params)
        except Exception as error:  # botocore's ClientError, connection errors: one message
            raise ObjectStoreError(f"{method} s3://{params['Bucket']}/{params['Key']} at "
                                   f"{self.endpoint_url}: {error}") from None


def _check_bucket(bucket: str) -> None:
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ObjectStoreError(f"invalid bucket name {bucket!r}")


def _check(bucket: str, key: str) -> None:
    """Names S3 would refuse, and keys that would leave the bucket's directory."""
    _check_bucket(bucket)
    if not key or len(key.encode()) > _MAX_KEY_BYTES or "\x00" in key:
        raise ObjectStoreError(f"invalid object key {key[:100]!r}")
    # S3 would take these; as files they would collapse or climb out of the bucket.
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ObjectStoreError(f"object key {key[:100]!r} is not a plain path")

