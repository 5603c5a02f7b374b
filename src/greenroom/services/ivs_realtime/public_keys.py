"""Public keys for self-signed participant tokens: ImportPublicKey, GetPublicKey,
ListPublicKeys, DeletePublicKey.

Only an EC P-384 public key in PEM (SubjectPublicKeyInfo, ``-----BEGIN PUBLIC KEY-----``) is
accepted; anything else is a ValidationException saying what was found instead. The
fingerprint is 16 colon-separated hex bytes: [inferred] the MD5 digest of the key's DER
encoding. [inferred] Importing a key already imported (same fingerprint) is a
ConflictException. Tokens signed with a key are verified when they are used to join (see
``tokens``); a deleted key's tokens are refused from then on.
"""
from __future__ import annotations

import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ...core.context import RequestContext
from ...core.operations import operation
from .common import (DEFAULT_PAGE_SIZE, PUBLIC_KEY, PUBLIC_KEY_RECORD, SERVICE, errors, find, new_resource)
from .quotas import quota

_PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+?\r?\n-----END PUBLIC KEY-----")
REQUIRED_CURVE = "secp384r1"


def _key_kind(key) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA ({key.key_size}-bit)"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def parse_public_key(material: str) -> tuple[str, bytes]:
    """(the PEM block, its DER encoding) of an EC P-384 public key, or ValidationException."""
    found = _PEM_BLOCK.search(material)
    if found is None:
        raise errors.Validation("publicKeyMaterial must contain a PEM-encoded public key "
                                "(-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)")
    pem = found.group(0).replace("\r\n", "\n")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, UnsupportedAlgorithm):
        raise errors.Validation("publicKeyMaterial is not a valid PEM-encoded public key (SubjectPublicKeyInfo)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != REQUIRED_CURVE:
        raise errors.Validation(f"publicKeyMaterial must be an ECDSA P-384 ({REQUIRED_CURVE}) public key, "
                                f"not {_key_kind(key)}")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, der


def fingerprint(der: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in hashlib.md5(der).digest())


@operation(SERVICE, "ImportPublicKey")
def import_public_key(ctx: RequestContext, req: dict) -> dict:
    pem, der = parse_public_key(req["publicKeyMaterial"])
    key_fingerprint = fingerprint(der)
    duplicate = ctx.resources.list(PUBLIC_KEY, where={"fingerprint": key_fingerprint}, limit=1)
    if duplicate:
        raise errors.Conflict(f"This public key is already imported as {duplicate[0][1]['arn']}")
    ctx.resources.require_room(PUBLIC_KEY, quota(ctx.resources, "public_keys"), lambda limit: errors.ServiceQuotaExceeded(
        f"The account already has {limit} public keys in {ctx.region}"))
    key_id, document = new_resource(ctx, "public-key", req, publicKeyMaterial=req["publicKeyMaterial"],
                                    fingerprint=key_fingerprint, _={"pem": pem})
    ctx.resources.insert(PUBLIC_KEY, key_id, document)
    return {"publicKey": PUBLIC_KEY_RECORD.view(document)}


PUBLIC_KEY_RECORD.get_operation(
    SERVICE, "GetPublicKey", "publicKey", lambda ctx, req: find(ctx, PUBLIC_KEY, "public-key", req["arn"])[1])


PUBLIC_KEY_RECORD.list_operation(SERVICE, "ListPublicKeys", default_size=DEFAULT_PAGE_SIZE)


@operation(SERVICE, "DeletePublicKey")
def delete_public_key(ctx: RequestContext, req: dict) -> dict:
    key_id, _ = find(ctx, PUBLIC_KEY, "public-key", req["arn"])
    ctx.resources.delete(PUBLIC_KEY, key_id)
    return {}
