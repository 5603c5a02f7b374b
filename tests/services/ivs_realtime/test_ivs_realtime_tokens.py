"""Participant tokens: real ES384 JWTs signed with a per-account key published as JWKS, and
the checks a join makes (signature, expiry, stage, revocation, capabilities)."""
from __future__ import annotations

import base64
import json
import re

import jwt
import pytest
import requests

from ivs_realtime_support import Refused, message, p384_key


def _stage(rt, **kwargs):
    return rt.client().create_stage(**kwargs)["stage"]


def test_token_is_a_jwt_verifiable_with_the_published_key(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"], userId="alice", duration=30,
                                          attributes={"seat": "3"}, capabilities=["SUBSCRIBE"])["participantToken"]
    assert re.fullmatch(r"[a-zA-Z0-9]{12}", issued["participantId"])
    assert issued["userId"] == "alice" and issued["attributes"] == {"seat": "3"}
    assert issued["duration"] == 30 and issued["capabilities"] == ["SUBSCRIBE"]

    keys = rt.jwks()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "EC" and keys[0]["crv"] == "P-384" and keys[0]["alg"] == "ES384"
    header = jwt.get_unverified_header(issued["token"])
    assert header["alg"] == "ES384" and header["typ"] == "JWT" and header["kid"] == keys[0]["kid"]
    claims = jwt.decode(issued["token"], jwt.PyJWK(keys[0]).key, algorithms=["ES384"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["jti"] == issued["participantId"]
    assert claims["resource"] == stage["arn"] and claims["topic"] == stage["arn"].rsplit("/", 1)[1]
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert claims["exp"] == int(issued["expirationTime"].timestamp())
    assert claims["events_url"] == stage["endpoints"]["events"]
    assert claims["whip_url"] == stage["endpoints"]["whip"]
    assert claims["capabilities"] == {"allow_publish": False, "allow_subscribe": True}
    assert claims["user_id"] == "alice" and claims["attributes"] == {"seat": "3"}
    assert claims["version"] == "1.0"
    # The key is the account's: the same for every token, stable across calls.
    again = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    assert jwt.get_unverified_header(again["token"])["kid"] == keys[0]["kid"]
    assert rt.jwks() == {"keys": keys}


def test_defaults(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    assert issued["duration"] == 720 and issued["capabilities"] == ["PUBLISH", "SUBSCRIBE"]
    assert "userId" not in issued and "attributes" not in issued
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 720 * 60
    assert claims["capabilities"] == {"allow_publish": True, "allow_subscribe": True}


def test_create_token_errors(rt):
    ivs = rt.client()
    stage = _stage(rt)
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.create_participant_token(stageArn=stage["arn"][:-1] + ("A" if stage["arn"][-1] != "A" else "B"))
    for bad in ({"duration": 0}, {"duration": 20161}, {"capabilities": ["ADMIN"]},
                {"userId": "u" * 129}, {"attributes": {"k": "v" * 1100}}):
        with pytest.raises(ivs.exceptions.ValidationException) as error:
            ivs.create_participant_token(stageArn=stage["arn"], **bad)
        assert message(error)
    with pytest.raises(ivs.exceptions.ValidationException) as error:
        ivs.create_participant_token(stageArn=stage["arn"], attributes={"a": "x" * 600, "b": "y" * 600})
    assert "1024" in message(error)


def test_join_returns_participant_and_session(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"], userId="bob", attributes={"a": "1"})["participantToken"]
    joined = rt.join(issued["token"], client={"osName": "Linux", "sdkVersion": "1.2.3"})
    assert joined["participantId"] == issued["participantId"]
    assert re.fullmatch(r"st-[a-zA-Z0-9]{13}", joined["sessionId"])
    assert joined["userId"] == "bob" and joined["attributes"] == {"a": "1"} and joined["state"] == "CONNECTED"
    assert ivs.get_stage(arn=stage["arn"])["stage"]["activeSessionId"] == joined["sessionId"]
    participant = ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                      participantId=joined["participantId"])["participant"]
    assert participant["osName"] == "Linux" and participant["sdkVersion"] == "1.2.3"
    with pytest.raises(Refused) as refused:  # one connection per participant
        rt.join(issued["token"])
    assert refused.value.status == 409 and refused.value.code == "ALREADY_CONNECTED"


def test_expired_token_is_refused(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"], duration=1)["participantToken"]
    rt.advance(61)
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"])
    assert refused.value.status == 401 and refused.value.code == "TOKEN_EXPIRED"
    assert ivs.get_stage(arn=stage["arn"])["stage"].get("activeSessionId") is None  # nobody reached it


def test_token_for_another_stage_is_refused(rt):
    ivs = rt.client()
    stage, other = _stage(rt), _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"], stageArn=other["arn"])
    assert refused.value.status == 403 and refused.value.code == "STAGE_MISMATCH"
    assert rt.join(issued["token"], stageArn=stage["arn"])["state"] == "CONNECTED"


def test_token_of_a_deleted_stage_is_refused(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    ivs.delete_stage(arn=stage["arn"])
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"])
    assert refused.value.status == 404 and refused.value.code == "STAGE_NOT_FOUND"


def _tamper(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_forged_and_malformed_tokens_are_refused(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"], capabilities=["SUBSCRIBE"])["participantToken"]
    # Changed claims (a publish capability) no longer match the signature.
    forged = _tamper(issued["token"], capabilities={"allow_publish": True, "allow_subscribe": True})
    with pytest.raises(Refused) as refused:
        rt.join(forged)
    assert refused.value.status == 401 and refused.value.code == "INVALID_SIGNATURE"
    # Signed by a key of our own under greenroom's key id: the signature does not verify.
    kid = jwt.get_unverified_header(issued["token"])["kid"]
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    wrong_key = jwt.encode(claims, p384_key(), algorithm="ES384", headers={"kid": kid})
    with pytest.raises(Refused) as refused:
        rt.join(wrong_key)
    assert refused.value.code == "INVALID_SIGNATURE"
    # Another algorithm, a kid naming no key, and no JWT at all.
    with pytest.raises(Refused) as refused:
        rt.join(jwt.encode(claims, "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256", headers={"kid": kid}))
    assert refused.value.status == 400 and refused.value.code == "INVALID_TOKEN"
    with pytest.raises(Refused) as refused:
        rt.join(jwt.encode(claims, p384_key(), algorithm="ES384", headers={"kid": "someone-else"}))
    assert refused.value.status == 401 and refused.value.code == "UNKNOWN_KEY"
    for garbage in ("not-a-token", ""):
        with pytest.raises(Refused) as refused:
            rt.join(garbage)
        assert refused.value.status == 400 and refused.value.code == "INVALID_TOKEN"
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"], protocol="CARRIER-PIGEON")
    assert (refused.value.status, refused.value.code) == (400, "INVALID_REQUEST")


def test_disconnected_participant_is_revoked(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    joined = rt.join(issued["token"])
    ivs.disconnect_participant(stageArn=stage["arn"], participantId=joined["participantId"], reason="spam")
    participant = ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                      participantId=joined["participantId"])["participant"]
    assert participant["state"] == "DISCONNECTED"
    events = ivs.list_participant_events(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                         participantId=joined["participantId"])["events"]
    assert [event["name"] for event in events] == ["LEFT", "JOINED"]
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"])
    assert refused.value.status == 403 and refused.value.code == "TOKEN_REVOKED"
    # A token not used yet can be revoked too; an unknown participant is not found.
    unused = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    ivs.disconnect_participant(stageArn=stage["arn"], participantId=unused["participantId"])
    with pytest.raises(Refused) as refused:
        rt.join(unused["token"])
    assert refused.value.code == "TOKEN_REVOKED"
    with pytest.raises(ivs.exceptions.ResourceNotFoundException):
        ivs.disconnect_participant(stageArn=stage["arn"], participantId="nobody")
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.disconnect_participant(stageArn=stage["arn"], participantId=joined["participantId"], reason="r" * 129)
    # Revocation is per stage: another stage's token of the same stage still joins.
    fresh = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    assert rt.join(fresh["token"])["state"] == "CONNECTED"


def test_token_without_capabilities_is_a_join_error(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"], capabilities=[])["participantToken"]
    assert issued["capabilities"] == []
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"])
    assert refused.value.status == 403 and refused.value.code == "INSUFFICIENT_CAPABILITIES"
    session_id = refused.value.body["sessionId"]
    events = ivs.list_participant_events(stageArn=stage["arn"], sessionId=session_id,
                                         participantId=issued["participantId"])["events"]
    assert [(e["name"], e["errorCode"], e["replica"]) for e in events] == \
        [("JOIN_ERROR", "INSUFFICIENT_CAPABILITIES", False)]
    participant = ivs.get_participant(stageArn=stage["arn"], sessionId=session_id,
                                      participantId=issued["participantId"])["participant"]
    assert participant["state"] == "DISCONNECTED" and "firstJoinTime" not in participant
    # The attempt opened a session that nobody holds: it ends after the delay.
    rt.advance(2)
    assert ivs.get_stage_session(stageArn=stage["arn"], sessionId=session_id)["stageSession"].get("endTime")


def test_rtmp_with_a_participant_token_is_a_join_error(rt):
    ivs = rt.client()
    stage = _stage(rt)
    issued = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"], protocol="RTMP")
    assert refused.value.status == 400 and refused.value.code == "INVALID_PROTOCOL"
    events = ivs.list_participant_events(stageArn=stage["arn"], sessionId=refused.value.body["sessionId"],
                                         participantId=issued["participantId"])["events"]
    assert events[0]["name"] == "JOIN_ERROR" and events[0]["errorCode"] == "INVALID_PROTOCOL"


def test_join_quota_is_a_join_error(rt):
    ivs = rt.client()
    stage = _stage(rt)
    rt.set_quotas(publishers_per_stage=1, subscribers_per_stage=1)
    tokens = [ivs.create_participant_token(stageArn=stage["arn"])["participantToken"] for _ in range(3)]
    rt.join(tokens[0]["token"])
    rt.join(tokens[1]["token"])
    with pytest.raises(Refused) as refused:
        rt.join(tokens[2]["token"])
    assert refused.value.status == 429 and refused.value.code == "QUOTA_EXCEEDED"
    events = ivs.list_participant_events(stageArn=stage["arn"], sessionId=refused.value.body["sessionId"],
                                         participantId=tokens[2]["participantId"])["events"]
    assert events[0]["errorCode"] == "QUOTA_EXCEEDED"


def test_signing_key_survives_a_restart(launch, tmp_path):
    first = launch("--data-dir", str(tmp_path), "--log-level", "warning")
    ivs = first.client("ivs-realtime")
    stage = ivs.create_stage()["stage"]
    issued = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    keys = requests.get(f"{first.base_url}/_greenroom/ivs-realtime/jwks", timeout=10).json()
    first.stop()
    second = launch("--data-dir", str(tmp_path), "--log-level", "warning")
    assert requests.get(f"{second.base_url}/_greenroom/ivs-realtime/jwks", timeout=10).json() == keys
    joined = requests.post(f"{second.base_url}/_greenroom/ivs-realtime/join", json={"token": issued["token"]}, timeout=10)
    assert joined.status_code == 200 and joined.json()["participantId"] == issued["participantId"]


def test_keys_are_per_account(server):
    def kid(account: str) -> str:
        return requests.get(f"{server.base_url}/_greenroom/ivs-realtime/jwks?account={account}",
                            timeout=10).json()["keys"][0]["kid"]
    assert kid("111111111111") != kid("222222222222")
    assert kid("111111111111") == kid("111111111111")
    assert requests.get(f"{server.base_url}/_greenroom/ivs-realtime/jwks?account=nope", timeout=10).status_code == 400
