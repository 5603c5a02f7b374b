"""Public keys and the self-signed participant tokens they verify."""
from __future__ import annotations

import hashlib
import re
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ivs_realtime_support import Refused, all_pages, message, p384_key, public_pem, self_signed


def _pem_of(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_import_get_and_fingerprint(rt):
    ivs = rt.client()
    key = p384_key()
    pem = public_pem(key)
    imported = ivs.import_public_key(publicKeyMaterial=pem, name="signer", tags={"env": "test"})["publicKey"]
    assert re.fullmatch(r"arn:aws:ivs:us-east-1:000000000000:public-key/[a-zA-Z0-9]{12}", imported["arn"])
    assert imported["name"] == "signer" and imported["tags"] == {"env": "test"}
    assert imported["publicKeyMaterial"] == pem
    assert re.fullmatch(r"([0-9a-f]{2}:){15}[0-9a-f]{2}", imported["fingerprint"])
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert imported["fingerprint"].replace(":", "") == hashlib.md5(der).hexdigest()
    assert ivs.get_public_key(arn=imported["arn"])["publicKey"] == imported


@pytest.mark.parametrize("material, found", [
    (_pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "RSA"),
    (_pem_of(ec.generate_private_key(ec.SECP256R1())), "secp256r1"),
    (_pem_of(ed25519.Ed25519PrivateKey.generate()), "Ed25519"),
])
def test_only_p384_keys_are_accepted(rt, material, found):
    ivs = rt.client()
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.import_public_key(publicKeyMaterial=material)
    assert "P-384" in message(error) and found in message(error)
    assert ivs.list_public_keys()["publicKeys"] == []


def test_material_that_is_no_key(rt):
    ivs = rt.client()
    with pytest.raises(ivs.exceptions.ValidationException):  # the model's pattern
        ivs.import_public_key(publicKeyMaterial="hello")
    broken = "-----BEGIN PUBLIC KEY-----\nAAAAAAAA\n-----END PUBLIC KEY-----"
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.import_public_key(publicKeyMaterial=broken)
    assert "not a valid PEM" in message(error)


def test_duplicate_import_conflicts(rt):
    ivs = rt.client()
    pem = public_pem(p384_key())
    first = ivs.import_public_key(publicKeyMaterial=pem)["publicKey"]
    with pytest.raises(ivs.exceptions.ConflictException) as error:
        ivs.import_public_key(publicKeyMaterial=pem.replace("\n", "\r\n"))
    assert first["arn"] in message(error)


def test_list_with_paginator_and_delete(rt):
    ivs = rt.client()
    arns = [ivs.import_public_key(publicKeyMaterial=public_pem(p384_key()), name=f"k{i}")["publicKey"]["arn"]
            for i in range(5)]
    listed = [key["arn"] for page in ivs.get_paginator("list_public_keys").paginate(PaginationConfig={"PageSize": 2})
              for key in page["publicKeys"]]
    assert listed == arns
    assert [k["arn"] for k in all_pages(ivs.list_public_keys, "publicKeys", 2)] == arns
    assert set(ivs.list_public_keys(maxResults=1)["publicKeys"][0]) == {"arn", "name", "tags"}
    ivs.delete_public_key(arn=arns[0])
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.get_public_key(arn=arns[0])
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.delete_public_key(arn=arns[0])
    assert [k["arn"] for k in ivs.list_public_keys()["publicKeys"]] == arns[1:]


def test_public_key_quota(rt):
    ivs = rt.client()
    rt.set_quotas(public_keys=1)
    ivs.import_public_key(publicKeyMaterial=public_pem(p384_key()))
    with pytest.raises(ivs.exceptions.ServiceQuotaExceededException):
        ivs.import_public_key(publicKeyMaterial=public_pem(p384_key()))


def _setup(rt):
    ivs = rt.client()
    key = p384_key()
    key_arn = ivs.import_public_key(publicKeyMaterial=public_pem(key))["publicKey"]["arn"]
    stage = ivs.create_stage()["stage"]
    return ivs, key, key_arn, stage


def test_self_signed_token_joins(rt):
    ivs, key, key_arn, stage = _setup(rt)
    token = self_signed(key, key_arn, stage["arn"], participant_id="viewer-42", user_id="carol",
                        attributes={"team": "blue"}, capabilities=(False, True))
    joined = rt.join(token)
    assert joined["participantId"] == "viewer-42" and joined["userId"] == "carol"
    assert joined["attributes"] == {"team": "blue"} and joined["capabilities"] == ["SUBSCRIBE"]
    participant = ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                      participantId="viewer-42")["participant"]
    assert participant["userId"] == "carol" and participant["state"] == "CONNECTED"
    with pytest.raises(Refused) as refused:  # subscribe-only
        rt.act("viewer-42", "publish")
    assert refused.value.code == "INSUFFICIENT_CAPABILITIES"


def test_self_signed_token_signed_by_the_wrong_key(rt):
    ivs, key, key_arn, stage = _setup(rt)
    with pytest.raises(Refused) as refused:
        rt.join(self_signed(p384_key(), key_arn, stage["arn"]))
    assert refused.value.status == 401 and refused.value.code == "INVALID_SIGNATURE"


def test_deleted_key_tokens_are_refused(rt):
    ivs, key, key_arn, stage = _setup(rt)
    token = self_signed(key, key_arn, stage["arn"], participant_id="first")
    assert rt.join(token)["participantId"] == "first"
    ivs.delete_public_key(arn=key_arn)
    with pytest.raises(Refused) as refused:
        rt.join(self_signed(key, key_arn, stage["arn"], participant_id="second"))
    assert refused.value.status == 401 and refused.value.code == "UNKNOWN_KEY"


def test_self_signed_claim_rules(rt):
    ivs, key, key_arn, stage = _setup(rt)
    now = time.time()
    cases = {
        "lifetime over 14 days": self_signed(key, key_arn, stage["arn"], lifetime=14 * 86400 + 1),
        "jti with a dot": self_signed(key, key_arn, stage["arn"], participant_id="a.b"),
        "jti too long": self_signed(key, key_arn, stage["arn"], participant_id="x" * 65),
        "topic of another stage": self_signed(key, key_arn, stage["arn"], topic="AAAAAAAAAAAA"),
        "user_id too long": self_signed(key, key_arn, stage["arn"], user_id="u" * 129),
        "attributes over 1 KB": self_signed(key, key_arn, stage["arn"], attributes={"k": "v" * 1024}),
        "another version": self_signed(key, key_arn, stage["arn"], version="2.0"),
        "capabilities not booleans": self_signed(key, key_arn, stage["arn"], capabilities="all"),
        "no exp": self_signed(key, key_arn, stage["arn"], exp=None),
    }
    for case, token in cases.items():
        with pytest.raises(Refused) as refused:
            rt.join(token)
        assert (refused.value.status, refused.value.code) == (400, "INVALID_TOKEN"), case
    # Exactly 14 days is fine.
    assert rt.join(self_signed(key, key_arn, stage["arn"], lifetime=14 * 86400, iat=now))["state"] == "CONNECTED"


def test_expired_self_signed_token(rt):
    ivs, key, key_arn, stage = _setup(rt)
    token = self_signed(key, key_arn, stage["arn"], lifetime=60)
    rt.advance(61)
    with pytest.raises(Refused) as refused:
        rt.join(token)
    assert refused.value.status == 401 and refused.value.code == "TOKEN_EXPIRED"


def test_key_of_another_account_is_unknown(rt):
    ivs, key, key_arn, stage = _setup(rt)
    foreign_key_arn = key_arn.replace(":000000000000:", ":123456789012:")
    with pytest.raises(Refused) as refused:
        rt.join(self_signed(key, foreign_key_arn, stage["arn"]))
    assert refused.value.code == "UNKNOWN_KEY"


def test_same_jti_on_two_stages_needs_the_stage(rt):
    ivs, key, key_arn, stage = _setup(rt)
    other = ivs.create_stage()["stage"]
    rt.join(self_signed(key, key_arn, stage["arn"], participant_id="twin"))
    rt.join(self_signed(key, key_arn, other["arn"], participant_id="twin"))
    with pytest.raises(Refused) as refused:
        rt.act("twin", "publish")
    assert refused.value.status == 409 and refused.value.code == "AMBIGUOUS_PARTICIPANT"
    assert rt.act("twin", "publish", stageArn=other["arn"])["publishing"] is True
    assert rt.act("twin", "leave", stageArn=stage["arn"])["state"] == "DISCONNECTED"
    assert rt.act("twin", "unpublish")["publishing"] is False  # only one is connected now
