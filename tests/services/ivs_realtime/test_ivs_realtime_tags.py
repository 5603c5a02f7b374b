"""Tags on every taggable IVS Real-Time resource, and the quotas admin route."""
from __future__ import annotations

import pytest

from ivs_realtime_support import make_client, p384_key, public_pem


def _one_of_each(ivs) -> dict[str, str]:
    stage = ivs.create_stage()["stage"]["arn"]
    storage = ivs.create_storage_configuration(s3={"bucketName": "tags"})["storageConfiguration"]["arn"]
    encoder = ivs.create_encoder_configuration()["encoderConfiguration"]["arn"]
    return {
        "stage": stage,
        "storage-configuration": storage,
        "encoder-configuration": encoder,
        "public-key": ivs.import_public_key(publicKeyMaterial=public_pem(p384_key()))["publicKey"]["arn"],
        "ingest-configuration": ivs.create_ingest_configuration(ingestProtocol="RTMPS")["ingestConfiguration"]["arn"],
        "composition": ivs.start_composition(stageArn=stage, destinations=[{"s3": {
            "storageConfigurationArn": storage, "encoderConfigurationArns": [encoder]}}])["composition"]["arn"],
    }


def test_tag_untag_list_every_resource_type(rt):
    ivs = rt.client()
    for resource_type, arn in _one_of_each(ivs).items():
        assert ivs.list_tags_for_resource(resourceArn=arn)["tags"] == {}, resource_type
        ivs.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "a"})
        ivs.tag_resource(resourceArn=arn, tags={"team": "b"})
        assert ivs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev", "team": "b"}, resource_type
        ivs.untag_resource(resourceArn=arn, tagKeys=["env", "absent"])
        assert ivs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "b"}, resource_type
    stage = ivs.list_stages()["stages"][0]
    assert stage["tags"] == {"team": "b"}  # the resource shows its tags too


def test_tag_errors(rt):
    ivs = rt.client()
    arn = ivs.create_stage(tags={f"k{i}": "v" for i in range(49)})["stage"]["arn"]
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.tag_resource(resourceArn=arn, tags={"x": "1", "y": "2"})  # 51 in all
    ivs.tag_resource(resourceArn=arn, tags={"x": "1"})
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.tag_resource(resourceArn=arn, tags={"aws:owner": "me"})
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.tag_resource(resourceArn=arn, tags={"k": "v" * 257})
    assert len(ivs.list_tags_for_resource(resourceArn=arn)["tags"]) == 50
    missing = "arn:aws:ivs:us-east-1:000000000000:stage/AAAAAAAAAAAA"
    for call in (lambda: ivs.tag_resource(resourceArn=missing, tags={"a": "b"}),
                 lambda: ivs.untag_resource(resourceArn=missing, tagKeys=["a"]),
                 lambda: ivs.list_tags_for_resource(resourceArn=missing)):
        with pytest.raises(ivs.exceptions.ResourceNotFoundException):
            call()
    with pytest.raises(ivs.exceptions.ValidationException):
        ivs.list_tags_for_resource(resourceArn="not-an-arn")


def test_quotas_admin_route(server):
    def admin(method, path, body=None):
        return server.admin(method, path, body)

    admin("POST", "reset").raise_for_status()
    defaults = admin("GET", "ivs-realtime/quotas").json()
    assert defaults["account"] == "000000000000" and defaults["region"] == "us-east-1"
    assert defaults["quotas"]["stages"] == 100 and defaults["quotas"]["publishers_per_stage"] == 12
    changed = admin("POST", "ivs-realtime/quotas", {"account": "123456789012", "region": "eu-west-1",
                                                    "quotas": {"stages": 1}}).json()
    assert changed["quotas"]["stages"] == 1
    assert admin("GET", "ivs-realtime/quotas?account=123456789012&region=eu-west-1").json()["quotas"]["stages"] == 1
    assert admin("GET", "ivs-realtime/quotas?account=123456789012").json()["quotas"]["stages"] == 100
    assert admin("POST", "ivs-realtime/quotas", {"quotas": {"nonsense": 1}}).status_code == 400
    assert admin("POST", "ivs-realtime/quotas", {"quotas": {"stages": -1}}).status_code == 400
    assert admin("POST", "ivs-realtime/quotas", {"quotas": 3}).status_code == 400
    assert admin("POST", "ivs-realtime/quotas", {"account": "me", "quotas": {}}).status_code == 400
    ivs = make_client("ivs-realtime", server.base_url, region="eu-west-1", access_key="123456789012")
    ivs.create_stage()
    with pytest.raises(ivs.exceptions.ServiceQuotaExceededException):
        ivs.create_stage()
    admin("POST", "reset").raise_for_status()  # a reset forgets overrides
    assert admin("GET", "ivs-realtime/quotas?account=123456789012&region=eu-west-1").json()["quotas"]["stages"] == 100
