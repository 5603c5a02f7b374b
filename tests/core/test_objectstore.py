"""The S3 stand-in (core.objectstore): objects in a local directory, or through boto3 to an
S3-compatible endpoint (moto's server, started here, is the independent S3)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import boto3
import pytest
import requests

from greenroom.core.objectstore import ObjectStore, ObjectStoreError


def test_objects_are_files_at_bucket_slash_key(tmp_path):
    objects = ObjectStore(tmp_path / "s3")
    objects.put("recordings", "a/b/index.m3u8", b"#EXTM3U\n", content_type="application/x-mpegURL")
    objects.put("recordings", "a/b/1.ts", b"\x47" * 188)
    assert (tmp_path / "s3" / "recordings" / "a" / "b" / "index.m3u8").read_bytes() == b"#EXTM3U\n"
    assert objects.get("recordings", "a/b/1.ts") == b"\x47" * 188
    assert objects.keys("recordings") == ["a/b/1.ts", "a/b/index.m3u8"]
    assert objects.keys("recordings", "a/b/i") == ["a/b/index.m3u8"]
    assert objects.keys("other") == []
    objects.put("recordings", "a/b/1.ts", b"again")           # overwritten, as on S3
    assert objects.get("recordings", "a/b/1.ts") == b"again"
    assert not [path for path in (tmp_path / "s3").rglob(".put-*")]  # no temporary file left


@pytest.mark.parametrize("bucket,key", [("Upper", "k"), ("ab", "k"), ("b", "k"), ("good-bucket", "../escape"),
                                        ("good-bucket", "/absolute"), ("good-bucket", "a/./b"),
                                        ("good-bucket", ""), ("good-bucket", "x" * 1025), ("a..b", "k")])
def test_names_s3_refuses_are_refused(tmp_path, bucket, key):
    objects = ObjectStore(tmp_path)
    with pytest.raises(ObjectStoreError):
        objects.put(bucket, key, b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_object_is_an_error(tmp_path):
    with pytest.raises(ObjectStoreError, match="no object s3://bucket-1/nothing"):
        ObjectStore(tmp_path).get("bucket-1", "nothing")


def test_without_a_directory_a_temporary_one_is_made_on_first_write():
    objects = ObjectStore()
    objects.put("bucket-1", "k", b"v")
    assert (objects.directory / "bucket-1" / "k").read_bytes() == b"v"


@pytest.fixture
def moto_server():
    """moto's S3 server in a subprocess (on a free port), its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_objects_go_through_boto3_to_an_s3_endpoint(moto_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="recordings")
    objects = ObjectStore(endpoint_url=moto_server)
    objects.put("recordings", "stage/1/media/hls/multivariant.m3u8", b"#EXTM3U\n",
                content_type="application/x-mpegURL")
    objects.put("recordings", "stage/1/events/recording-started.json", b"{}")
    got = s3.get_object(Bucket="recordings", Key="stage/1/media/hls/multivariant.m3u8")
    assert got["Body"].read() == b"#EXTM3U\n"
    assert got["ContentType"] == "application/x-mpegURL"
    assert objects.get("recordings", "stage/1/events/recording-started.json") == b"{}"
    assert objects.keys("recordings", "stage/1/") == ["stage/1/events/recording-started.json",
                                                      "stage/1/media/hls/multivariant.m3u8"]
    with pytest.raises(ObjectStoreError, match="NoSuchBucket"):
        objects.put("no-such-bucket", "k", b"v")


def test_serve_says_where_objects_go(launch, tmp_path):
    server = launch("--ephemeral", "--s3-dir", str(tmp_path / "objects"))
    assert f"S3 objects: {tmp_path / 'objects'}" in server.log()
