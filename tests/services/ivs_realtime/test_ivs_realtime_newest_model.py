"""What the newest IVS Real-Time model adds: RevokeConnectionToken, participant ids with
underscores, the security headers of the ingest configuration responses."""
from __future__ import annotations

import pytest

from ivs_realtime_support import Refused, p384_key, public_pem, self_signed


def _events(ivs, arn, session_id, participant_id):
    return ivs.list_participant_events(stageArn=arn, sessionId=session_id, participantId=participant_id)["events"]


def test_revoke_connection_token_disconnects_and_refuses_the_token(rt):
    ivs = rt.client()
    stage = ivs.create_stage()["stage"]
    other_stage = ivs.create_stage()["stage"]
    issued = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    bystander = ivs.create_participant_token(stageArn=stage["arn"])["participantToken"]
    joined = rt.join(issued["token"])
    rt.join(bystander["token"])
    rt.act(joined["participantId"], "publish")
    rt.advance(5)
    response = ivs.revoke_connection_token(tokenId=issued["participantId"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    participant = ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                      participantId=joined["participantId"])["participant"]
    assert participant["state"] == "DISCONNECTED"
    assert [e["name"] for e in _events(ivs, stage["arn"], joined["sessionId"], joined["participantId"])][:2] == \
        ["LEFT", "PUBLISH_STOPPED"]
    with pytest.raises(Refused) as refused:
        rt.join(issued["token"])
    assert refused.value.status == 403 and refused.value.code == "TOKEN_REVOKED"
    # Others are untouched; a token never used is revoked before it joins.
    still = ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                participantId=bystander["participantId"])["participant"]
    assert still["state"] == "CONNECTED"
    unused = ivs.create_participant_token(stageArn=other_stage["arn"])["participantToken"]
    ivs.revoke_connection_token(tokenId=unused["participantId"])
    with pytest.raises(Refused) as refused:
        rt.join(unused["token"])
    assert refused.value.code == "TOKEN_REVOKED"
    # No ResourceNotFoundException in the model: an unknown id is accepted; a bad one is not.
    ivs.revoke_connection_token(tokenId="never-issued_1")
    with pytest.raises(ivs.exceptions.ValidationException, match="tokenId"):
        ivs.revoke_connection_token(tokenId="bad id!")
    with pytest.raises(ivs.exceptions.ValidationException, match="tokenId"):
        ivs.revoke_connection_token(tokenId="x" * 65)


def test_self_signed_token_with_an_underscore_id_joins_and_is_revoked(rt):
    ivs = rt.client()
    stage = ivs.create_stage()["stage"]
    key = p384_key()
    key_arn = ivs.import_public_key(publicKeyMaterial=public_pem(key))["publicKey"]["arn"]
    token = self_signed(key, key_arn, stage["arn"], participant_id="player_one-2")
    joined = rt.join(token)
    assert joined["participantId"] == "player_one-2"
    # The newest model's ParticipantId pattern takes the underscore.
    participant = ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                                      participantId="player_one-2")["participant"]
    assert participant["state"] == "CONNECTED"
    ivs.revoke_connection_token(tokenId="player_one-2")
    assert ivs.get_participant(stageArn=stage["arn"], sessionId=joined["sessionId"],
                               participantId="player_one-2")["participant"]["state"] == "DISCONNECTED"
    with pytest.raises(Refused) as refused:
        rt.join(token)
    assert refused.value.code == "TOKEN_REVOKED"


def test_ingest_configuration_responses_carry_security_headers(rt):
    ivs = rt.client()
    created = ivs.create_ingest_configuration(ingestProtocol="RTMPS")
    assert created["xContentTypeOptions"] == "nosniff" and created["xFrameOptions"] == "DENY"
    assert created["strictTransportSecurity"].startswith("max-age=")
    assert {"cacheControl", "contentSecurityPolicy"} <= set(created)
    # The CORS members the model declares: the server's values, in process too and without Origin.
    assert created["accessControlAllowOrigin"] == "*"
    assert "x-amzn-RequestId" in created["accessControlExposeHeaders"]
    updated = ivs.update_ingest_configuration(arn=created["ingestConfiguration"]["arn"])
    assert updated["xContentTypeOptions"] == "nosniff"
    headers = updated["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == created["cacheControl"]
    # Get has no such members: nothing extra.
    fetched = ivs.get_ingest_configuration(arn=created["ingestConfiguration"]["arn"])
    assert "xFrameOptions" not in fetched
