"""Request validation against botocore input shapes (greenroom.protocol.validation)."""
import datetime
import functools
import io
import json
from pathlib import Path

import pytest
from botocore.model import ServiceModel, ShapeResolver

from greenroom.protocol import models
from greenroom.protocol.validation import UNSTORABLE_TEXT_PROBLEM, validate, validation_message

REDACTED = "*** Sensitive Data Redacted ***"
STAGE_ARN = "arn:aws:ivs:us-west-2:123456789012:stage/abcdEFGH1234"
NIMBLE_MODEL = (
    Path(__file__).resolve().parents[2] / "src/greenroom/protocol/models/nimble/2020-08-01/service-2.json"
)
BOTOCORE_SERVICES = (
    "ivs-realtime",
    "gameliftstreams",
    "kinesisvideo",
    "kinesis-video-archived-media",
    "kinesis-video-media",
    "ivs",
)


@functools.cache
def service(name):
    if name == "nimble":
        return ServiceModel(json.loads(NIMBLE_MODEL.read_text()), "nimble")
    return models.service_model(name)  # the shipped models: what the server validates against


def shape(service_name, shape_name):
    return service(service_name).shape_for(shape_name)


def custom(shapes, name="Input"):
    """A shape from a small hand-written model."""
    return ShapeResolver(shapes).get_shape_by_name(name)


def custom_string(pattern, **traits):
    return custom({"S": {"type": "string", "pattern": pattern, **traits}}, "S")


def pattern_problem(value, path, pattern):
    return f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"


def matches(pattern, value):
    """Whether the pattern accepts the value (NUL is refused before any pattern: not asked here)."""
    return [p for p in validate(custom_string(pattern), value, "v") if UNSTORABLE_TEXT_PROBLEM not in p] == []


def pattern_rejects(string_shape, value):
    """Whether validating `value` reports the shape's pattern (whatever else it reports)."""
    pattern = string_shape.metadata["pattern"]
    suffix = f"failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    return any(problem.endswith(suffix) for problem in validate(string_shape, value, "v"))


# --- well-formed requests ----------------------------------------------------------------


def test_a_well_formed_request_has_no_problems():
    request = {
        "stageArn": STAGE_ARN,
        "duration": 60,
        "userId": "user-1",
        "attributes": {"seat": "12A"},
        "capabilities": ["PUBLISH", "SUBSCRIBE"],
    }
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), request) == []


def test_unknown_keys_and_absent_optional_members_are_ignored():
    request = {"stageArn": STAGE_ARN, "userId": None, "notInTheModel": {"x": 1}}
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), request) == []


# --- required members --------------------------------------------------------------------


@pytest.mark.parametrize("request_", [{}, {"stageArn": None}])
def test_missing_required_member(request_):
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), request_) == [
        "Value null at 'stageArn' failed to satisfy constraint: Member must not be null"
    ]


def test_missing_required_members_are_reported_in_model_order():
    problems = validate(shape("gameliftstreams", "StartStreamSessionInput"), {"Protocol": "WebRTC"})
    assert problems == [
        f"Value null at '{member}' failed to satisfy constraint: Member must not be null"
        for member in ("Identifier", "SignalRequest", "ApplicationIdentifier")
    ]


def test_missing_required_member_of_a_nested_structure():
    request = {"arn": STAGE_ARN, "autoParticipantRecordingConfiguration": {"mediaTypes": ["AUDIO_ONLY"]}}
    assert validate(shape("ivs-realtime", "UpdateStageRequest"), request) == [
        "Value null at 'autoParticipantRecordingConfiguration.storageConfigurationArn' "
        "failed to satisfy constraint: Member must not be null"
    ]


def test_null_list_items_and_map_values_are_reported():
    request = {"stageArn": STAGE_ARN, "capabilities": [None, "PUBLISH"], "attributes": {"seat": None}}
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), request) == [
        "Value null at 'attributes.seat.value' failed to satisfy constraint: Member must not be null",
        "Value null at 'capabilities.1.member' failed to satisfy constraint: Member must not be null",
    ]


# --- types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member, value, shown, type_name",
    [
        ("duration", "5", "5", "integer"),
        ("duration", True, "true", "integer"),  # bool is not an integer
        ("duration", 1.5, "1.5", "integer"),
        ("duration", 2**31, str(2**31), "integer"),  # no Java int
        ("userId", 7, "7", "string"),
        ("capabilities", "PUBLISH", "PUBLISH", "list"),
        ("capabilities", {"PUBLISH": 1}, "<object of length 1>", "list"),
        ("attributes", ["a", "b"], "<list of length 2>", "map"),
    ],
)
def test_wrong_type(member, value, shown, type_name):
    request = {"stageArn": STAGE_ARN, member: value}
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), request) == [
        f"Value '{shown}' at '{member}' failed to satisfy constraint: Member must be of type {type_name}"
    ]


def test_wrong_type_of_a_structure_and_a_boolean():
    request = {
        "arn": STAGE_ARN,
        "autoParticipantRecordingConfiguration": {
            "storageConfigurationArn": "",
            "thumbnailConfiguration": "INTERVAL",
            "recordParticipantReplicas": 1,
        },
    }
    assert validate(shape("ivs-realtime", "UpdateStageRequest"), request) == [
        "Value 'INTERVAL' at 'autoParticipantRecordingConfiguration.thumbnailConfiguration' "
        "failed to satisfy constraint: Member must be of type structure",
        "Value '1' at 'autoParticipantRecordingConfiguration.recordParticipantReplicas' "
        "failed to satisfy constraint: Member must be of type boolean",
    ]


def test_a_float_member_takes_an_int_but_not_a_bool_or_a_string():
    video = shape("ivs-realtime", "Video")
    assert validate(video, {"framerate": 30}) == []
    assert validate(video, {"framerate": 29.97}) == []
    assert validate(video, {"framerate": True, "bitrate": "1"}) == [
        "Value 'true' at 'framerate' failed to satisfy constraint: Member must be of type float",
        "Value '1' at 'bitrate' failed to satisfy constraint: Member must be of type integer",
    ]


def test_timestamps_must_be_datetimes():
    selector = shape("kinesis-video-archived-media", "ClipFragmentSelector")
    start = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    request = {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": start}}
    assert validate(selector, {**request, "TimestampRange": {"StartTimestamp": start, "EndTimestamp": start}}) == []
    assert validate(selector, {**request, "TimestampRange": {"StartTimestamp": start, "EndTimestamp": 1714564800}}) == [
        "Value '1714564800' at 'TimestampRange.EndTimestamp' failed to satisfy constraint: Member must be of type timestamp"
    ]


def test_documents_and_json_values_take_any_json():
    model = {
        "Input": {"type": "structure", "members": {"Doc": {"shape": "Doc"}, "Json": {"shape": "S", "jsonvalue": True}}},
        "Doc": {"type": "structure", "members": {}, "document": True},
        "S": {"type": "string"},
    }
    assert validate(custom(model), {"Doc": [1, {"a": None}], "Json": {"k": [True]}}) == []


# --- min / max ---------------------------------------------------------------------------


def test_string_length_bounds():
    request = {"stageArn": "", "userId": "u" * 129}
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), request) == [
        "Value '' at 'stageArn' failed to satisfy constraint: Member must have length greater than or equal to 1",
        pattern_problem("", "stageArn", "arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+"),
        f"Value '{'u' * 129}' at 'userId' failed to satisfy constraint: Member must have length less than or equal to 128",
    ]


def test_number_value_bounds():
    token_request = shape("ivs-realtime", "CreateParticipantTokenRequest")
    assert validate(token_request, {"stageArn": STAGE_ARN, "duration": 0}) == [
        "Value '0' at 'duration' failed to satisfy constraint: Member must have value greater than or equal to 1"
    ]
    assert validate(token_request, {"stageArn": STAGE_ARN, "duration": 20161}) == [
        "Value '20161' at 'duration' failed to satisfy constraint: Member must have value less than or equal to 20160"
    ]
    assert validate(token_request, {"stageArn": STAGE_ARN, "duration": 20160}) == []
    assert validate(shape("ivs-realtime", "Video"), {"framerate": 60.5}) == [
        "Value '60.5' at 'framerate' failed to satisfy constraint: Member must have value less than or equal to 60"
    ]


def test_list_and_map_sizes():
    three = ["PUBLISH", "SUBSCRIBE", "PUBLISH"]
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), {"stageArn": STAGE_ARN, "capabilities": three}) == [
        "Value '<list of length 3>' at 'capabilities' failed to satisfy constraint: "
        "Member must have length less than or equal to 2"
    ]
    assert validate(shape("kinesisvideo", "CreateStreamInput"), {"StreamName": "s", "Tags": {}}) == [
        "Value '<object of length 0>' at 'Tags' failed to satisfy constraint: Member must have length greater than or equal to 1"
    ]


def test_blob_length_counts_bytes_and_streams_are_accepted_as_they_are():
    blob = custom({"B": {"type": "blob", "min": 2, "max": 4}}, "B")
    assert validate(blob, b"abcd", "Payload") == []
    assert validate(blob, b"abcde", "Payload") == [
        "Value '<5 bytes>' at 'Payload' failed to satisfy constraint: Member must have length less than or equal to 4"
    ]
    assert validate(blob, io.BytesIO(b"x" * 100), "Payload") == []
    assert validate(blob, "text", "Payload") == [
        "Value 'text' at 'Payload' failed to satisfy constraint: Member must be of type blob"
    ]


# --- enum and pattern --------------------------------------------------------------------


def test_enum():
    request = {"stageArn": STAGE_ARN, "capabilities": ["PUBLISH", "ADMIN"]}
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), request) == [
        "Value 'ADMIN' at 'capabilities.2.member' failed to satisfy constraint: "
        "Member must satisfy enum value set: [PUBLISH, SUBSCRIBE]"
    ]


@pytest.mark.parametrize("name", ["my stage", "stage!", "ok-but-then-é"])
def test_an_unanchored_pattern_must_match_the_whole_value(name):
    # '[a-zA-Z0-9-_]*' finds an (empty) match in any string: only a full match rejects these.
    update = shape("ivs-realtime", "UpdateStageRequest")
    assert validate(update, {"arn": STAGE_ARN, "name": name}) == [pattern_problem(name, "name", "[a-zA-Z0-9-_]*")]
    assert validate(update, {"arn": STAGE_ARN, "name": "my-stage_2"}) == []


@pytest.mark.parametrize("arn", ["x" + STAGE_ARN, STAGE_ARN + "/extra", STAGE_ARN + "\n"])
def test_garbage_around_a_match_is_rejected(arn):
    pattern = "arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+"
    assert validate(shape("ivs-realtime", "UpdateStageRequest"), {"arn": arn}) == [pattern_problem(arn, "arn", pattern)]


# Java POSIX classes by their java.util.regex definitions: US-ASCII only.
ASCII = {chr(c) for c in range(128)}
ALPHA = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGIT = set("0123456789")
PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
JAVA_POSIX = {
    "Lower": set("abcdefghijklmnopqrstuvwxyz"),
    "Upper": set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "ASCII": ASCII,
    "Alpha": ALPHA,
    "Digit": DIGIT,
    "Alnum": ALPHA | DIGIT,
    "Punct": PUNCT,
    "Graph": ALPHA | DIGIT | PUNCT,
    "Print": ALPHA | DIGIT | PUNCT | {" "},
    "Blank": {" ", "\t"},
    "Cntrl": {chr(c) for c in range(32)} | {"\x7f"},
    "XDigit": set("0123456789abcdefABCDEF"),
    "Space": set(" \t\n\x0b\f\r"),
}
NON_ASCII_PROBES = "é ß Ä ٣ ² \u00a0 \u2003 \u3000 € ¡ « 東 \u0301".split(" ") + ["\u0085", "\u00a0"]


@pytest.mark.parametrize("name", sorted(JAVA_POSIX))
def test_java_posix_classes_are_ascii_only(name):
    probes = ASCII | set(NON_ASCII_PROBES)
    assert {c for c in probes if matches(rf"\p{{{name}}}", c)} == JAVA_POSIX[name]
    assert {c for c in probes if matches(rf"\P{{{name}}}", c)} == probes - JAVA_POSIX[name]
    # and the same inside a character class
    assert {c for c in probes if matches(rf"[#\p{{{name}}}]", c)} == JAVA_POSIX[name] | {"#"}


@pytest.mark.parametrize(
    "pattern, accepted, rejected",
    [
        (r"\p{L}+", ["café", "東京", "Äß"], ["a1", "a-b"]),
        (r"\p{IsAlphabetic}+", ["café", "東京"], ["a1"]),
        (r"\p{IsLatin}+", ["café"], ["東京"]),
        (r"\p{Lu}\p{IsLl}+", ["Émile"], ["émile"]),
        (r"\pL\PL", ["é1"], ["éé"]),
        (r"\p{N}+", ["42", "٣²"], ["x"]),
        (r"\p{Z}", [" ", "\u00a0", "\u3000"], ["\t", "_"]),
        (r"\p{S}\p{P}", ["€!", "+-"], ["!€"]),
        (r"e\p{M}", ["e\u0301"], ["é"]),
        (r"\w+", ["a_Z9"], ["é", "٣"]),  # Java's \w, \d and \s are ASCII
        (r"\d+", ["09"], ["٣", "²"]),
        (r"\s", [" ", "\t", "\x0b"], ["\u00a0", "\u2003", "\x1c"]),
        (r"[^\s]+", ["é\u00a0"], ["a b"]),
        (r"\W\D\S", ["é٣\u00a0"], ["a  "]),
        (r"\v", ["\n", "\u2028"], [" "]),
        (r".+", ["a é\t"], ["a\rb", "a\nb", "a\u2028b", "a\x85b"]),  # Java's . stops at every line terminator
        (r"(?s).+", ["a\r\nb"], []),
        (r"[.]", ["."], ["a"]),
        (r"\Q1+1=2\E!", ["1+1=2!"], ["11=2!"]),
        (r"\x{1F600}\u00e9\0101\cA", ["😀éA\x01"], ["😀e A\x01"]),
        (r"[a-z&&[^aeiou]]+", ["xyz"], ["xyza"]),  # Java class intersection
        (r"[a-c[x-z]]+", ["abxz"], ["abd"]),  # Java class union
        (r"[a|b]", ["|"], ["c"]),
        (r"(?<pair>ab)\k<pair>", ["abab"], ["abba"]),
        (r"(?i)stage", ["STAGE"], ["stages"]),
    ],
)
def test_java_pattern_syntax(pattern, accepted, rejected):
    assert [value for value in accepted if not matches(pattern, value)] == []
    assert [value for value in rejected if matches(pattern, value)] == []


@pytest.mark.parametrize(
    "service_name, shape_name, accepted, rejected",
    [
        ("kinesisvideo", "TagKey", ["Abteilung", "Straße: café", "東京-1", "cost center @ 2"], ["a!b", "a#", "x\ty"]),
        ("kinesisvideo", "TagValue", ["", "naïve value"], ["tab\t", "semi;colon"]),
        ("ivs", "TagKey", ["Ünïcode"], ["", "bad*key"]),
        ("kinesisvideo", "MediaType", ["video/h264", "video/h264,audio/aac", "video/x-matroska.v2"], ["vidéo/h264", "video", "a/b,"]),
        ("kinesisvideo", "StreamName", ["cam_01.front-door"], ["cam 01", "cam/01"]),
        ("kinesisvideo", "KmsKeyId", ["alias/my key"], ["", "line\rbreak"]),
        ("kinesisvideo", "DestinationRegion", ["us-west-2", "us-gov-west-1"], ["us-west-2x"]),
        ("kinesisvideo", "FormatConfigValue", ["abc_1"], ["abc-1"]),
        ("kinesisvideo", "HubDeviceArn", ["arn:aws-cn:iot:cn-north-1:123456789012:thing/door_cam.1"], ["arn:aws:iot:us-east-1:1:thing/a b"]),
        ("kinesis-video-archived-media", "NextToken", ["abc+/==", "abcd"], ["abc==="]),
        ("kinesis-video-media", "FragmentNumberString", ["91343852333181432392682062607"], ["123\n", "12a"]),
        ("ivs-realtime", "ParticipantClientAttribute", ["a-b_c.d,e:f;g h\tI"], ["a\u00a0b", "a/b"]),
        ("ivs-realtime", "ParticipantRecordingS3BucketName", ["my.bucket-1"], ["My_Bucket"]),
        ("ivs-realtime", "AutoParticipantRecordingStorageConfigurationArn",
         ["", "arn:aws:ivs:us-west-2:123456789012:storage-configuration/AbC123"], ["arn:aws:ivs:us-west-2:1:stage/x"]),
        ("ivs-realtime", "PublicKeyMaterial",
         ["-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0C\r\nAQYIKoZI==\n-----END PUBLIC KEY-----\n"],
         ["-----BEGIN PUBLIC KEY-----\nMFkw EwYH\n-----END PUBLIC KEY-----"]),
        ("ivs-realtime", "StreamKey", ["rt_123_us-west-2_AbCd_secret"], ["rt_x_us-west-2_AbCd_secret"]),
        ("gameliftstreams", "ApplicationLogOutputUri", ["", "s3://my-bucket/logs/", "s3://my-bucket"], ["s3://b/", "http://x"]),
        ("gameliftstreams", "Identifier",
         ["a-1B", "arn:aws:gameliftstreams:us-west-2:123456789012:streamgroup/sg-1"],
         ["arn:aws:gameliftstreams:us-west-2:12345:streamgroup/sg-1", "a b"]),
        ("gameliftstreams", "Ipv4CidrBlock", ["10.0.0.0/16", "255.255.255.255/32"], ["256.0.0.0/8", "10.0.0.0/33"]),
        ("gameliftstreams", "OutputUri", ["s3://bucket/out/", "s3://bucket/out.zip"], ["s3://bucket/out.tar"]),
        ("gameliftstreams", "ClientToken", ["!~" * 16], ["with space"]),
        ("gameliftstreams", "Description", ["My game v2", "a@b/c"], [" leading space", "comma,"]),
    ],
)
def test_model_patterns(service_name, shape_name, accepted, rejected):
    string_shape = shape(service_name, shape_name)
    assert [value for value in accepted if pattern_rejects(string_shape, value)] == []
    assert [value for value in rejected if not pattern_rejects(string_shape, value)] == []


@pytest.mark.skipif(not NIMBLE_MODEL.exists(), reason="nimble model not added yet")
@pytest.mark.parametrize(
    "shape_name, accepted, rejected",
    [
        ("LinuxMountPoint", ["", "/", "$HOME/projects", "/mnt/a-b"], ["//", "/a\\b", "/a b", "/a\tb", "relative"]),
        ("StreamingSessionStorageRootPathWindows", ["%HOMEPATH%\\sessions", "D:/a/b_c"], ["%HOMEPATH%", "DD:\\x"]),
        ("StreamingSessionStorageRootPathLinux", ["$HOME/sessions", "//a/b"], ["$HOME/"]),
        ("EC2ImageId", ["ami-0aB9", "ami-a_b"], ["ami-", "ami-a.b"]),  # [0-9A-z] spans [\]^_` too
        ("LaunchProfileProtocolVersion", ["2021-03-31"], ["2021-03-310"]),
        ("Region", ["us-west-2", "us-iso-east-1"], ["us-west-2a"]),
        ("StreamingImageEncryptionConfigurationKeyArn", ["arn:aws:kms:us-west-2:1:key/x"], ["xarn:", "arn:\r"]),
    ],
)
def test_nimble_model_patterns(shape_name, accepted, rejected):
    string_shape = shape("nimble", shape_name)
    assert [value for value in accepted if pattern_rejects(string_shape, value)] == []
    assert [value for value in rejected if not pattern_rejects(string_shape, value)] == []


def patterned_shapes():
    services = [*BOTOCORE_SERVICES, *(["nimble"] if NIMBLE_MODEL.exists() else [])]
    found = {}
    for service_name in services:
        model = service(service_name)
        for shape_name in model.shape_names:
            pattern = model.shape_for(shape_name).metadata.get("pattern")
            if pattern is not None:
                found.setdefault(pattern, (service_name, shape_name))
    return [pytest.param(*where, id=f"{where[0]}:{where[1]}") for where in found.values()]


@pytest.mark.parametrize("service_name, shape_name", patterned_shapes())
def test_every_model_pattern_compiles(service_name, shape_name):
    string_shape = shape(service_name, shape_name)
    for value in ("", "a", "arn:aws:x", "é\n"):
        assert isinstance(validate(string_shape, value, "v"), list)


# --- sensitive data ----------------------------------------------------------------------


def test_sensitive_values_are_redacted():
    request = {"Identifier": "sg-1", "Protocol": "WebRTC", "ApplicationIdentifier": "a-1", "SignalRequest": ""}
    start = shape("gameliftstreams", "StartStreamSessionInput")
    assert validate(start, request) == [
        f"Value '{REDACTED}' at 'SignalRequest' failed to satisfy constraint: Member must have length greater than or equal to 1"
    ]
    assert validate(start, {**request, "SignalRequest": 42}) == [
        f"Value '{REDACTED}' at 'SignalRequest' failed to satisfy constraint: Member must be of type string"
    ]


def test_everything_inside_a_sensitive_container_is_redacted_keys_too():
    model = {
        "Input": {"type": "structure", "members": {"Secrets": {"shape": "Secrets"}, "Plain": {"shape": "Name"}}},
        "Secrets": {"type": "map", "sensitive": True, "key": {"shape": "Name"}, "value": {"shape": "Name"}},
        "Name": {"type": "string", "pattern": "[a-z]+"},
    }
    problems = validate(custom(model), {"Secrets": {"ok": "BAD"}, "Plain": "BAD"})
    assert problems == [
        pattern_problem(REDACTED, f"Secrets.{REDACTED}.value", "[a-z]+"),
        pattern_problem("BAD", "Plain", "[a-z]+"),
    ]


def test_a_sensitive_member_reference_is_redacted():
    model = {
        "Input": {"type": "structure", "members": {"Token": {"shape": "Name", "sensitive": True}}},
        "Name": {"type": "string", "max": 3},
    }
    assert validate(custom(model), {"Token": "hunter2"}) == [
        f"Value '{REDACTED}' at 'Token' failed to satisfy constraint: Member must have length less than or equal to 3"
    ]


# --- paths and ordering ------------------------------------------------------------------


def test_nested_list_item_path():
    request = {
        "arn": STAGE_ARN,
        "autoParticipantRecordingConfiguration": {
            "storageConfigurationArn": "",
            "thumbnailConfiguration": {"storage": ["LATEST", "OLDEST"], "targetIntervalSeconds": 0},
        },
    }
    assert validate(shape("ivs-realtime", "UpdateStageRequest"), request) == [
        "Value '0' at 'autoParticipantRecordingConfiguration.thumbnailConfiguration.targetIntervalSeconds' "
        "failed to satisfy constraint: Member must have value greater than or equal to 1",
        "Value 'OLDEST' at 'autoParticipantRecordingConfiguration.thumbnailConfiguration.storage.2.member' "
        "failed to satisfy constraint: Member must satisfy enum value set: [SEQUENTIAL, LATEST]",
    ]


def test_map_key_and_value_paths():
    request = {
        "Identifier": "sg-1",
        "Protocol": "WebRTC",
        "SignalRequest": "offer",
        "ApplicationIdentifier": "a-1",
        "AdditionalEnvironmentVariables": {"GOOD": "x", "1BAD": "v" * 4097},
    }
    assert validate(shape("gameliftstreams", "StartStreamSessionInput"), request) == [
        pattern_problem("1BAD", "AdditionalEnvironmentVariables.1BAD.key", "[_a-zA-Z][_a-zA-Z0-9]*"),
        f"Value '{'v' * 4097}' at 'AdditionalEnvironmentVariables.1BAD.value' "
        "failed to satisfy constraint: Member must have length less than or equal to 4096",
    ]


def test_a_path_prefix_names_the_top_level_value():
    assert validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), {}, "body") == [
        "Value null at 'body.stageArn' failed to satisfy constraint: Member must not be null"
    ]


def test_every_problem_of_a_request_is_reported_in_order():
    request = {
        "DeviceName": "",
        "StreamName": "front door " + "x" * 250,
        "MediaType": "video",
        "DataRetentionInHours": -1,
        "Tags": {"team": "a;b", "k" * 129: "v"},
        "StreamStorageConfiguration": {"DefaultStorageTier": "COLD"},
    }
    tag_value_pattern = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"
    assert validate(shape("kinesisvideo", "CreateStreamInput"), request) == [
        "Value '' at 'DeviceName' failed to satisfy constraint: Member must have length greater than or equal to 1",
        pattern_problem("", "DeviceName", "[a-zA-Z0-9_.-]+"),
        f"Value '{request['StreamName']}' at 'StreamName' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
        pattern_problem(request["StreamName"], "StreamName", "[a-zA-Z0-9_.-]+"),
        pattern_problem("video", "MediaType", r"[\w\-\.\+]+/[\w\-\.\+]+(,[\w\-\.\+]+/[\w\-\.\+]+)*"),
        "Value '-1' at 'DataRetentionInHours' failed to satisfy constraint: Member must have value greater than or equal to 0",
        pattern_problem("a;b", "Tags.team.value", tag_value_pattern),
        f"Value '{'k' * 129}' at 'Tags.{'k' * 129}.key' failed to satisfy constraint: "
        "Member must have length less than or equal to 128",
        "Value 'COLD' at 'StreamStorageConfiguration.DefaultStorageTier' failed to satisfy constraint: "
        "Member must satisfy enum value set: [HOT, WARM]",
    ]


# --- the message -------------------------------------------------------------------------


def test_validation_message():
    one = "Value null at 'stageArn' failed to satisfy constraint: Member must not be null"
    two = "Value '0' at 'duration' failed to satisfy constraint: Member must have value greater than or equal to 1"
    assert validation_message([one]) == f"1 validation error detected: {one}"
    assert validation_message([one, two]) == f"2 validation errors detected: {one}; {two}"


def test_validation_message_of_a_real_request():
    problems = validate(shape("ivs-realtime", "CreateParticipantTokenRequest"), {"duration": 0, "capabilities": ["X"]})
    assert validation_message(problems) == (
        "3 validation errors detected: "
        "Value null at 'stageArn' failed to satisfy constraint: Member must not be null; "
        "Value '0' at 'duration' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value 'X' at 'capabilities.1.member' failed to satisfy constraint: "
        "Member must satisfy enum value set: [PUBLISH, SUBSCRIBE]"
    )


def test_a_union_holds_exactly_one_member():
    from greenroom.protocol import models
    request = models.service_model("nimble").operation_model("CreateStudioComponent").input_shape
    base = {"studioId": "studio", "name": "component", "type": "CUSTOM"}
    assert validate(request, {**base, "configuration": {"computeFarmConfiguration": {"endpoint": "e"}}}) == []
    for configuration in ({}, {"computeFarmConfiguration": {"endpoint": "e"},
                               "licenseServiceConfiguration": {"endpoint": "e"}}):
        problems = validate(request, {**base, "configuration": configuration})
        assert len(problems) == 1 and "at 'configuration'" in problems[0] and "exactly one" in problems[0]
