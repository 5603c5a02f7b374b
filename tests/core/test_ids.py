"""Identifiers (greenroom.core.ids): seeded generators reproduce their ids (``Ids(seed)``,
``greenroom.mock(seed=...)``, ``greenroom serve --seed``), every format is right, and
``parse_arn`` reads ARNs back."""
from __future__ import annotations

import re
import string
import uuid

import greenroom
import pytest

from support import make_client
from greenroom.core.ids import Ids, arn, parse_arn
from greenroom.protocol import models

FORMATS = {
    "alphanumeric": (string.ascii_letters + string.digits, 12),
    "lower_alphanumeric": (string.ascii_lowercase + string.digits, 12),
    "hex": ("0123456789abcdef", 32),
    "base64url": (string.ascii_letters + string.digits + "-_", 22),
}
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def draw(ids: Ids) -> list[str]:
    """A mixed sequence of every kind of id."""
    out = []
    for _ in range(5):
        out += [ids.alphanumeric(20), ids.lower_alphanumeric(8), ids.hex(16), ids.base64url(22), ids.uuid()]
    return out


# ------------------------------------------------------------------------- generators

def test_seeded_generators_are_reproducible():
    assert draw(Ids(7)) == draw(Ids(7))
    assert draw(Ids(7)) != draw(Ids(8))
    assert draw(Ids(0)) == draw(Ids(0))  # 0 is a seed, not "no seed"
    assert draw(Ids(0)) != draw(Ids(None))
    assert draw(Ids()) != draw(Ids())    # unseeded: system randomness

    ids = Ids(7)
    first = draw(ids)
    assert draw(ids) != first            # a generator moves on...
    ids.reseed(7)
    assert draw(ids) == first            # ...and a reseed starts the sequence again
    ids.reseed(None)
    assert draw(ids) != first


@pytest.mark.parametrize("method", sorted(FORMATS))
def test_id_formats(method):
    alphabet, length = FORMATS[method]
    ids = Ids(11)
    values = [getattr(ids, method)(length) for _ in range(400)]
    assert all(len(value) == length and set(value) <= set(alphabet) for value in values)
    assert set("".join(values)) == set(alphabet)  # the whole alphabet is used
    assert len(set(values)) == len(values)
    assert getattr(ids, method)(0) == ""


def test_uuids_are_version_4_rfc_4122():
    for ids in (Ids(3), Ids()):
        values = [ids.uuid() for _ in range(500)]
        assert len(set(values)) == len(values)
        for value in values:
            assert UUID4.fullmatch(value), value
            parsed = uuid.UUID(value)
            assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


# ------------------------------------------------------------------------- through the services

def stream_versions(client_factory, count: int = 4) -> list[str]:
    kv = client_factory("kinesisvideo")
    return [kv.describe_stream(StreamARN=kv.create_stream(StreamName=f"cam-{number}")["StreamARN"])
            ["StreamInfo"]["Version"] for number in range(count)]


def mock_versions(seed):
    with greenroom.mock(seed=seed):
        return stream_versions(lambda name: make_client(name))


def test_mock_and_emulator_seed_makes_ids_reproducible():
    from greenroom.emulator import Emulator

    seeded = mock_versions(42)
    assert seeded == mock_versions(42)
    assert seeded != mock_versions(43)
    assert mock_versions(None) != mock_versions(None)
    assert all(re.fullmatch(r"[a-zA-Z0-9]{20}", version) for version in seeded)
    # An emulator's ids are its Ids(seed): the same sequence as a bare generator.
    emulator = Emulator(None, seed=42)
    try:
        assert draw(emulator.ids) == draw(Ids(42))
    finally:
        emulator.store.engine.dispose()


def test_serve_seed_makes_ids_reproducible(launch):
    quiet = ["--ephemeral", "--log-level", "warning"]
    seeded_a, seeded_b, other, unseeded = launch.many(
        [[*quiet, "--seed", "42"], [*quiet, "--seed", "42"], [*quiet, "--seed", "43"], quiet])
    versions = stream_versions(seeded_a.client)
    assert stream_versions(seeded_b.client) == versions
    assert stream_versions(other.client) != versions
    assert stream_versions(unseeded.client) != versions
    # The server and the in-process mock draw the same ids from the same seed.
    assert mock_versions(42) == versions


def test_stream_arns_follow_the_model(anywhere):
    model = models.service_model("kinesisvideo")
    arn_pattern = model.shape_for("ResourceARN").metadata["pattern"]
    kv = anywhere.client("kinesisvideo", aws_access_key_id="123456789012", region="eu-central-1")
    created = kv.create_stream(StreamName="front-door.cam_1")["StreamARN"]
    info = kv.describe_stream(StreamName="front-door.cam_1")["StreamInfo"]
    assert info["StreamARN"] == created
    assert re.fullmatch(arn_pattern, created)
    creation_ms = round(info["CreationTime"].timestamp() * 1000)
    assert created == f"arn:aws:kinesisvideo:eu-central-1:123456789012:stream/front-door.cam_1/{creation_ms}"
    assert parse_arn(created) == {
        "partition": "aws", "service": "kinesisvideo", "region": "eu-central-1",
        "account": "123456789012", "resource": f"stream/front-door.cam_1/{creation_ms}",
        "resource_type": "stream", "resource_id": f"front-door.cam_1/{creation_ms}",
    }


# ------------------------------------------------------------------------- ARNs

def test_parse_arn():
    assert parse_arn("arn:aws:ivs:us-west-2:123456789012:stage/abcdEFGH1234") == {
        "partition": "aws", "service": "ivs", "region": "us-west-2", "account": "123456789012",
        "resource": "stage/abcdEFGH1234", "resource_type": "stage", "resource_id": "abcdEFGH1234",
    }
    china = parse_arn("arn:aws-cn:gameliftstreams:cn-north-1:123456789012:streamgroup/sg-1AB2C3De4")
    assert (china["partition"], china["region"], china["resource_type"], china["resource_id"]) == \
        ("aws-cn", "cn-north-1", "streamgroup", "sg-1AB2C3De4")
    # Colons and slashes after the account belong to the resource.
    deep = parse_arn("arn:aws:nimble:us-west-2:123456789012:studio/stu-1/component:x")
    assert (deep["resource"], deep["resource_type"], deep["resource_id"]) == \
        ("studio/stu-1/component:x", "studio", "stu-1/component:x")
    # No resource type; no region or account (global resources).
    assert parse_arn("arn:aws:sns:us-east-1:123456789012:topic")["resource_id"] == ""
    bucket = parse_arn("arn:aws:s3:::bucket/key")
    assert (bucket["region"], bucket["account"], bucket["resource_type"], bucket["resource_id"]) == \
        ("", "", "bucket", "key")

    for not_an_arn in ("", "arn", "arn:aws:ivs", "arn:aws:ivs:us-west-2:123456789012",
                       "urn:aws:ivs:us-west-2:123456789012:stage/x", "ARN:aws:ivs:us-west-2:1:stage/x",
                       "stage/abcdEFGH1234"):
        assert parse_arn(not_an_arn) is None, not_an_arn


@pytest.mark.parametrize("service, region, account, resource", [
    ("kinesisvideo", "us-east-1", "000000000000", "stream/cam/1800000000000"),
    ("ivs", "ap-south-1", "123456789012", "stage/AbCd1234"),
    ("nimble", "us-west-2", "123456789012", "studio/stu-abc_DEF-123"),
])
def test_arn_round_trip(service, region, account, resource):
    built = arn(service, region, account, resource)
    assert built == f"arn:aws:{service}:{region}:{account}:{resource}"
    parsed = parse_arn(built)
    assert (parsed["service"], parsed["region"], parsed["account"], parsed["resource"]) == \
        (service, region, account, resource)
    assert parsed["resource_type"] + "/" + parsed["resource_id"] == resource
