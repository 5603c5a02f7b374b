"""WebRTC signaling: real offers from an aiortc client peer, real answers it accepts."""
from __future__ import annotations

import json
import re

import pytest


def _start(gls, signal):
    app = gls.ready_application()
    group = gls.active_group(app)
    return group, gls.start_session(group, app, signal)


@pytest.mark.parametrize("media", [{"video": True, "data": True}, {"video": True, "data": False},
                                   {"video": False, "data": True}])
def test_answer_is_accepted_by_the_client_peer(gls, webrtc, media):
    offer, peer = webrtc.offer(**media)
    group, session = _start(gls, offer)
    gls.advance(1)
    response = gls.stream_session(group, session)["SignalResponse"]
    answer = json.loads(response)["sdp"]
    # A real answer to this very offer: same media sections, in order, with ICE and DTLS of its own.
    offered = re.findall(r"^m=(\w+)", json.loads(offer)["sdp"], re.M)
    assert re.findall(r"^m=(\w+)", answer, re.M) == offered
    assert re.search(r"^a=ice-ufrag:\S+", answer, re.M) and re.search(r"^a=fingerprint:sha-256 ", answer, re.M)
    assert re.search(r"^a=setup:(active|passive)", answer, re.M)
    assert webrtc.accept(peer, response) == "stable"


def test_every_session_gets_its_own_answer(gls, webrtc):
    app = gls.ready_application()
    group = gls.active_group(app)
    (first, first_peer), (second, second_peer) = webrtc.offer(), webrtc.offer()
    a, b = gls.start_session(group, app, first), gls.start_session(group, app, second)
    gls.advance(1)
    answer_a, answer_b = gls.stream_session(group, a)["SignalResponse"], gls.stream_session(group, b)["SignalResponse"]
    assert answer_a != answer_b
    assert webrtc.accept(first_peer, answer_a) == "stable"
    assert webrtc.accept(second_peer, answer_b) == "stable"


@pytest.mark.parametrize("signal, message", [
    ("hello", "JSON"),
    ("[1, 2]", "JSON object"),
    ('{"type": "offer"}', "sdp member"),
    ('{"type": "offer", "sdp": "hello"}', "start with the line v=0"),
    ('{"type": "offer", "sdp": "v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\ns=-\\r\\nt=0 0\\r\\n"}', "no media section"),
    ('{"type": "offer", "sdp": "v=0\\r\\ns=-\\r\\nt=0 0\\r\\nm=video 9 UDP/TLS/RTP/SAVPF 96\\r\\n"}', "o= line"),
    ('{"type": "offer", "sdp": "v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\ns=-\\r\\nt=0 0\\r\\nm=video x\\r\\n"}',
     "invalid media line"),
    ('{"type": "offer", "sdp": "v=0\\r\\nhello\\r\\n"}', "not <type>=<value>"),
])
def test_malformed_offers_are_validation_errors(gls, signal, message):
    c = gls.client()
    with pytest.raises(c.exceptions.ValidationException, match=re.escape(message)):
        _start(gls, signal)


@pytest.mark.parametrize("drop", ["a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"])
def test_offers_without_ice_or_dtls_are_refused(gls, webrtc, drop):
    offer, _ = webrtc.offer()
    document = json.loads(offer)
    document["sdp"] = "".join(line for line in document["sdp"].splitlines(keepends=True) if not line.startswith(drop))
    c = gls.client()
    with pytest.raises(c.exceptions.ValidationException, match=drop[2:-1]):
        _start(gls, json.dumps(document))


def test_an_offer_without_common_codecs_ends_in_invalid_signal_request(gls, webrtc):
    offer, _ = webrtc.offer(data=False)
    document = json.loads(offer)
    document["sdp"] = re.sub(r"(rtpmap:\d+ )(VP8|H264|opus|G722|PCMU|PCMA)/", r"\1XYZ/", document["sdp"])
    group, session = _start(gls, json.dumps(document))
    assert session["Status"] == "ACTIVATING"
    gls.advance(1)
    failed = gls.stream_session(group, session)
    assert (failed["Status"], failed["StatusReason"]) == ("ERROR", "invalidSignalRequest")
    assert "SignalResponse" not in failed
    # The capacity it held is free again.
    state = gls.client().get_stream_group(Identifier=group["Id"])["LocationStates"][0]
    assert state["IdleCapacity"] == state["AllocatedCapacity"]
