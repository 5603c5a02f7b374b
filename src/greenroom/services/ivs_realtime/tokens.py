"""Participant tokens: CreateParticipantToken, the per-account signing key, the JWKS that
publishes it, and the verification a join performs (service-issued and self-signed tokens).

Service-issued tokens are JWTs signed ES384 with a P-384 key greenroom keeps per account (created
on first use, kept in the store, so tokens stay valid across restarts). Header
``{"alg": "ES384", "typ": "JWT", "kid": "<key id>"}`` -- the real service writes ``alg: KMS``;
greenroom uses the standard name so any JWT library verifies them with the published key:

    GET /_greenroom/ivs-realtime/jwks?account=123456789012   -> {"keys": [<EC P-384 JWK>]}

Claims: ``exp``, ``iat``, ``jti`` (= participant id), ``resource`` (stage ARN), ``topic`` (stage
id), ``events_url``, ``whip_url``, ``capabilities`` (``allow_publish``, ``allow_subscribe``),
``user_id``, ``attributes``, ``version`` ("1.0").

Self-signed tokens (ImportPublicKey) carry ``kid`` = the public key's ARN and the same claims;
they are checked only when used to join: ES384 only, signature by that (still imported) key of
the stage's account and region, ``exp`` at most 14 days after ``iat``, ``jti`` 1-64 of
``[A-Za-z0-9_-]``, ``user_id`` at most 128 characters, attributes at most 1 KB, ``topic`` = the
stage id, ``version`` "1.0" when present. [inferred] ``events_url``/``whip_url`` are not required.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ...core.context import RequestContext
from ...core.ids import parse_arn
from ...core.operations import operation
from ...core.routes import HttpError, http_route
from . import tables
from .common import (
    PUBLIC_KEY, REVOCATION, SERVICE, TOKEN, check_attributes, find_stage, iso, stage_endpoints,
)

ALGORITHM = "ES384"
TOKEN_VERSION = "1.0"
DEFAULT_DURATION_MINUTES = 720
DEFAULT_CAPABILITIES = ("PUBLISH", "SUBSCRIBE")
MAX_SELF_SIGNED_LIFETIME = 14 * 24 * 3600
_JTI = re.compile(r"[A-Za-z0-9_-]{1,64}")


# ------------------------------------------------------------------------- signing key

@functools.lru_cache(maxsize=256)
def _private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _key_id(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "greenroom-" + hashlib.sha256(der).hexdigest()[:24]


def account_signing_key(conn, account: str, now: float) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """(kid, private key) of the account's token-signing key, created on first use."""
    found = tables.signing_key(conn, account)
    if found is None:
        key = ec.generate_private_key(ec.SECP384R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        tables.insert_signing_key_once(conn, account, _key_id(key.public_key()), pem, now)
        found = tables.signing_key(conn, account)  # another process may have won the race
    key_id, pem = found
    return key_id, _private_key(pem)


def jwks(emulator, account: str, region: str = "us-east-1") -> dict:
    """The JWKS holding the public half of an account's token-signing key."""
    with emulator.context(SERVICE, "Jwks", account, region) as ctx:
        key_id, key = account_signing_key(ctx.conn, account, ctx.now)
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": key_id, "alg": ALGORITHM, "use": "sig"}]}


@http_route("GET", "/_greenroom/ivs-realtime/jwks")
def jwks_route(emulator, request):
    """``?account=<12 digits>`` (default: the server's default account); ``region`` is accepted
    and ignored (the key is per account)."""
    query = {name: values[-1] for name, values in request.query().items()}
    account = query.get("account") or emulator.default_account
    if not (len(account) == 12 and account.isdigit()):
        raise HttpError(400, f"account must be a 12-digit account id, not {account!r}")
    return jwks(emulator, account, query.get("region") or "us-east-1")


# ------------------------------------------------------------------------- issuing

def issue_token(ctx: RequestContext, stage_id: str, stage: dict, config: dict) -> dict:
    """Sign a participant token for a stage (CreateParticipantToken, CreateStage's tokens)."""
    attributes = config.get("attributes") or {}
    check_attributes(attributes)
    requested = config.get("capabilities")
    capabilities = list(dict.fromkeys(requested)) if requested is not None else list(DEFAULT_CAPABILITIES)
    duration = config.get("duration", DEFAULT_DURATION_MINUTES)
    participant_id = ctx.ids.alphanumeric(12)
    issued_at = int(ctx.now)
    expires_at = issued_at + duration * 60
    endpoints = stage_endpoints(ctx, stage["_"]["whipId"])
    claims = {
        "exp": expires_at,
        "iat": issued_at,
        "jti": participant_id,
        "resource": stage["arn"],
        "topic": stage_id,
        "events_url": endpoints["events"],
        "whip_url": endpoints["whip"],
        "capabilities": {"allow_publish": "PUBLISH" in capabilities,
                         "allow_subscribe": "SUBSCRIBE" in capabilities},
        "user_id": config.get("userId", ""),
        "attributes": attributes,
        "version": TOKEN_VERSION,
    }
    key_id, key = account_signing_key(ctx.conn, ctx.account, ctx.now)
    token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": key_id, "typ": "JWT"})
    issued = {
        "participantId": participant_id,
        "token": token,
        "userId": config.get("userId"),
        "attributes": attributes if "attributes" in config else None,
        "duration": duration,
        "capabilities": capabilities,
        "expirationTime": iso(expires_at),
    }
    # Known participant ids let DisconnectParticipant revoke a token not yet used.
    ctx.resources.insert(TOKEN, participant_id, {"participantId": participant_id, "stageArn": stage["arn"],
                                                 "expiresAt": expires_at}, parent=stage_id)
    return {key: value for key, value in issued.items() if value is not None}


@operation(SERVICE, "CreateParticipantToken")
def create_participant_token(ctx: RequestContext, req: dict) -> dict:
    stage_id, stage = find_stage(ctx, req["stageArn"])
    return {"participantToken": issue_token(ctx, stage_id, stage, req)}


# ------------------------------------------------------------------------- verification

class TokenRefused(Exception):
    """A token a join cannot accept; ``status`` and ``code`` are what the join stand-in answers."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class TokenClaims:
    participant_id: str
    stage_arn: str
    account: str
    region: str
    stage_id: str
    user_id: str
    attributes: dict
    capabilities: tuple[str, ...]
    issued_at: float
    expires_at: float
    key_arn: str | None     # the imported public key of a self-signed token; None if service-issued

    def exchanged_view(self) -> dict:
        """The ExchangedParticipantToken shape (TOKEN_EXCHANGED events; times as epoch seconds,
        which is how events are stored)."""
        return {"capabilities": list(self.capabilities), "attributes": self.attributes,
                "userId": self.user_id, "expirationTime": self.expires_at}


def read_unverified(token: str) -> tuple[dict, dict, dict]:
    """(header, claims, stage ARN parts) before verification: which account, region and key."""
    if not isinstance(token, str) or not token:
        raise TokenRefused(400, "INVALID_TOKEN", "A participant token (JWT) is required")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise TokenRefused(400, "INVALID_TOKEN", f"The token is not a valid JWT: {error}") from None
    resource = claims.get("resource")
    parts = parse_arn(resource) if isinstance(resource, str) else None
    if parts is None or parts["service"] != "ivs" or parts["resource_type"] != "stage" or not parts["resource_id"]:
        raise TokenRefused(400, "INVALID_TOKEN", f"The token's resource claim is not a stage ARN: {resource!r}")
    return header, claims, parts


def verify(ctx: RequestContext, token: str, header: dict, parts: dict) -> TokenClaims:
    """Check signature, key, claims and expiry (against greenroom's clock) of a token whose
    stage is in ``ctx``'s account and region."""
    if header.get("alg") != ALGORITHM:
        raise TokenRefused(400, "INVALID_TOKEN", f"Tokens must be signed {ALGORITHM}, not {header.get('alg')!r}")
    kid = header.get("kid")
    key_arn = None
    service_kid, service_key = account_signing_key(ctx.conn, ctx.account, ctx.now)
    if kid == service_kid:
        public_key = service_key.public_key()
    else:
        key_arn = kid if isinstance(kid, str) else ""
        public_key = _imported_key(ctx, key_arn)
    try:
        claims = jwt.decode(token, public_key, algorithms=[ALGORITHM], options={
            "verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
            "verify_iss": False, "verify_sub": False, "verify_jti": False,
        })
    except jwt.InvalidSignatureError:
        raise TokenRefused(401, "INVALID_SIGNATURE",
                           f"The token's signature does not verify with key {kid}") from None
    except jwt.PyJWTError as error:
        raise TokenRefused(400, "INVALID_TOKEN", f"The token is not a valid JWT: {error}") from None
    verified = _checked_claims(claims, parts, key_arn)
    if verified.expires_at <= ctx.now:
        raise TokenRefused(401, "TOKEN_EXPIRED",
                           f"The token expired at {iso(verified.expires_at).isoformat()}")
    return verified


def _imported_key(ctx: RequestContext, key_arn: str):
    key_parts = parse_arn(key_arn)
    if (key_parts is None or key_parts["resource_type"] != "public-key"
            or key_parts["account"] != ctx.account or key_parts["region"] != ctx.region):
        raise TokenRefused(401, "UNKNOWN_KEY",
                           f"The token's kid {key_arn!r} names no public key of the stage's account and region")
    stored = ctx.resources.get(PUBLIC_KEY, key_parts["resource_id"])
    if stored is None:
        raise TokenRefused(401, "UNKNOWN_KEY", f"The public key {key_arn} does not exist (or was deleted)")
    return serialization.load_pem_public_key(stored["_"]["pem"].encode())


def _checked_claims(claims: dict, parts: dict, key_arn: str | None) -> TokenClaims:
    def invalid(message: str) -> TokenRefused:
        return TokenRefused(400, "INVALID_TOKEN", message)

    for name in ("exp", "iat"):
        if isinstance(claims.get(name), bool) or not isinstance(claims.get(name), (int, float)):
            raise invalid(f"The token's {name} claim must be a number (epoch seconds)")
    if key_arn is not None and claims["exp"] - claims["iat"] > MAX_SELF_SIGNED_LIFETIME:
        raise invalid("A self-signed token's exp may be at most 14 days after its iat")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not _JTI.fullmatch(jti):
        raise invalid("The token's jti must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -")
    if claims.get("topic") != parts["resource_id"]:
        raise invalid(f"The token's topic must be the stage id {parts['resource_id']}")
    user_id = claims.get("user_id", "")
    if not isinstance(user_id, str) or len(user_id) > 128:
        raise invalid("The token's user_id must be a string of at most 128 characters")
    attributes = claims.get("attributes", {})
    if not isinstance(attributes, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
        raise invalid("The token's attributes must map strings to strings")
    try:
        check_attributes(attributes)
    except Exception as error:  # ServiceError: the same rule, worded for a token
        raise invalid(f"The token's {error}") from None
    capabilities = claims.get("capabilities")
    if not isinstance(capabilities, dict) or not all(isinstance(v, bool) for v in capabilities.values()):
        raise invalid("The token's capabilities must be an object of allow_publish/allow_subscribe booleans")
    if "version" in claims and claims["version"] != TOKEN_VERSION:
        raise invalid(f"The token's version must be {TOKEN_VERSION!r}")
    granted = tuple(name for name, claim in (("PUBLISH", "allow_publish"), ("SUBSCRIBE", "allow_subscribe"))
                    if capabilities.get(claim))
    return TokenClaims(
        participant_id=jti, stage_arn=claims["resource"], account=parts["account"],
        region=parts["region"], stage_id=parts["resource_id"], user_id=user_id,
        attributes=attributes, capabilities=granted, issued_at=claims["iat"],
        expires_at=claims["exp"], key_arn=key_arn,
    )


# ------------------------------------------------------------------------- revocation

def revoke(resources, stage_id: str, participant_id: str, now: float) -> None:
    """DisconnectParticipant: this participant (token) may not join the stage again."""
    revocation_id = f"{stage_id}/{participant_id}"
    if resources.get(REVOCATION, revocation_id) is None:
        resources.insert(REVOCATION, revocation_id, {"participantId": participant_id, "revokedAt": now},
                         parent=stage_id)


def revoke_token(resources, token_id: str, now: float) -> None:
    """RevokeConnectionToken: the token (its ``jti``) may not join any stage again."""
    revocation_id = f"token/{token_id}"  # stage ids have no slash: no clash with the per-stage ids
    if resources.get(REVOCATION, revocation_id) is None:
        resources.insert(REVOCATION, revocation_id, {"participantId": token_id, "revokedAt": now})


def is_revoked(resources, stage_id: str, participant_id: str) -> bool:
    return (resources.get(REVOCATION, f"{stage_id}/{participant_id}") is not None
            or resources.get(REVOCATION, f"token/{participant_id}") is not None)
