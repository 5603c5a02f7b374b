"""Helpers the IVS Real-Time tests share (keys, self-signed tokens, error messages)."""
from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import support
from support import DEFAULT_KEY, Refused  # noqa: F401  (re-exported for the IVS tests)


ACCOUNT = "000000000000"   # what greenroom makes of the test clients' access key
REGION = "us-east-1"


def make_client(service: str, endpoint_url: str | None = None, *, region: str = REGION,
                access_key: str = DEFAULT_KEY):
    """A boto3 client without client-side validation: greenroom must refuse bad input itself."""
    return support.make_client(service, endpoint_url, region, aws_access_key_id=access_key)


def message(error_info) -> str:
    """An error's message: IVS Real-Time sends it as ``exceptionMessage``, which botocore puts
    beside ``Error`` (its ``Message`` stays empty for that member name)."""
    response = error_info.value.response
    return response.get("exceptionMessage") or response["Error"].get("Message", "")


def p384_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def public_pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def self_signed(key, key_arn: str, stage_arn: str, *, participant_id: str = "self-1", iat: float | None = None,
                lifetime: float = 3600, capabilities=(True, True), **claims) -> str:
    """A token signed with our own key, as the user guide's self-signed tokens are."""
    issued = int(iat if iat is not None else time.time())
    payload = {
        "exp": issued + lifetime, "iat": issued, "jti": participant_id, "resource": stage_arn,
        "topic": stage_arn.rsplit("/", 1)[1], "events_url": "wss://example/events", "whip_url": "https://example/whip",
        "capabilities": {"allow_publish": capabilities[0], "allow_subscribe": capabilities[1]},
        "attributes": {}, "version": "1.0", **claims,
    }
    return jwt.encode(payload, key, algorithm="ES384", headers={"kid": key_arn, "typ": "JWT"})


def all_pages(call, result_key: str, page_size: int, **kwargs) -> list:
    """Every item of a list operation, page by page; checks each page's size and that no
    item repeats."""
    items, token, pages = [], None, 0
    while True:
        page = call(maxResults=page_size, **kwargs, **({"nextToken": token} if token else {}))
        assert len(page[result_key]) <= page_size
        items += page[result_key]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert pages > 1, "the listing fit one page: the test does not exercise pagination"
    keys = [repr(sorted(item.items())) if isinstance(item, dict) else item for item in items]
    assert len(keys) == len(set(keys)), "an item was listed twice"
    return items
