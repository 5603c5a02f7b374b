"""WebRTC signaling: a client's signal request (an SDP offer) answered by a real WebRTC stack.

Wire format [inferred from the Web SDK's callers, whose backends ``JSON.parse`` the
SignalResponse and read its ``type`` and ``webSdkProtocolUrl``; the API reference calls the
offer "a very long JSON string"]: both are JSON objects in a string, shaped like
``RTCSessionDescriptionInit``::

    SignalRequest  = '{"type": "offer",  "sdp": "v=0\\r\\n..."}'   (other members are ignored)
    SignalResponse = '{"type": "answer", "sdp": "v=0\\r\\n..."}'

``webSdkProtocolUrl`` is left out: greenroom serves no Web SDK protocol files (media streaming is
a later issue), and a URL to nothing would be worse than none.

The answer comes from aiortc: an ``RTCPeerConnection`` takes the offer as its remote
description, creates and sets its local answer, and is closed once the answer is made. aiortc is
asyncio-based while handlers are synchronous (called from inside the server's running event
loop, or from the in-process mock with no loop at all), so the work runs on an event loop of
this module's own, in a daemon thread, reached with ``asyncio.run_coroutine_threadsafe``.

aiortc itself accepts almost any text as an offer, so the offer's structure is checked here
first: what is not a WebRTC SDP offer is a ValidationException (``MalformedOffer``). A
well-formed offer that aiortc cannot negotiate (no codec in common, say) is
``UnanswerableOffer``; StartStreamSession turns that into the session's ERROR
``invalidSignalRequest`` [inferred], CreateStreamSessionConnection into a ValidationException.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading

from ...media import rtc

NO_CLIENT_CONNECTION = "NO_CLIENT_CONNECTION"
ANSWER_TIMEOUT_SECONDS = 15.0

_MEDIA_LINE = re.compile(r"m=(audio|video|application|text|message) \d+(?:/\d+)? \S+(?: \S+)*")
_SDP_LINE = re.compile(r"[a-z]=.*")


class MalformedOffer(ValueError):
    """The signal request is not a WebRTC SDP offer."""


class UnanswerableOffer(ValueError):
    """A well-formed offer the WebRTC stack cannot answer."""


def offer_sdp(signal_request: str) -> str:
    """The SDP of a signal request, or MalformedOffer saying what is wrong with it."""
    try:
        document = json.loads(signal_request)
    except ValueError:
        raise MalformedOffer(
            'SignalRequest must be a JSON WebRTC session description: {"type": "offer", "sdp": "v=0..."}'
        ) from None
    if not isinstance(document, dict):
        raise MalformedOffer("SignalRequest must be a JSON object with the members type and sdp.")
    if document.get("type") != "offer":
        raise MalformedOffer(f"SignalRequest type must be 'offer', not {document.get('type')!r}.")
    sdp = document.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        raise MalformedOffer("SignalRequest must carry the offer's SDP in its sdp member.")
    check_sdp(sdp)
    return sdp


def check_sdp(sdp: str) -> None:
    """What makes an SDP a WebRTC offer (RFC 8866 syntax, RFC 8829 requirements)."""
    lines = [line for line in re.split(r"\r?\n", sdp) if line]
    if not lines or lines[0] != "v=0":
        raise MalformedOffer("The offer's SDP must start with the line v=0.")
    for line in lines:
        if not _SDP_LINE.fullmatch(line):
            raise MalformedOffer(f"The offer's SDP has a line that is not <type>=<value>: {line[:60]!r}.")
    session, *media = _sections(lines)
    for required in ("o=", "s=", "t="):
        if not any(line.startswith(required) for line in session):
            raise MalformedOffer(f"The offer's SDP lacks its session-level {required} line.")
    if not media:
        raise MalformedOffer("The offer's SDP has no media section (m= line).")
    for section in media:
        if not _MEDIA_LINE.fullmatch(section[0]):
            raise MalformedOffer(f"The offer's SDP has an invalid media line: {section[0][:60]!r}.")
        for attribute in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
            if not any(line.startswith(attribute) for line in section + session):
                raise MalformedOffer(
                    f"The offer's media section {section[0].split(' ')[0]} lacks {attribute[:-1]} "
                    "(WebRTC needs ICE credentials and a DTLS fingerprint)."
                )


def _sections(lines: list[str]) -> list[list[str]]:
    sections: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    return sections


def answer(signal_request: str) -> str:
    """The SignalResponse to a signal request: a real SDP answer made by aiortc."""
    sdp = offer_sdp(signal_request)
    future = asyncio.run_coroutine_threadsafe(_answer(sdp), _loop())
    answer_sdp = future.result(timeout=ANSWER_TIMEOUT_SECONDS)
    return json.dumps({"type": "answer", "sdp": answer_sdp})


async def _answer(sdp: str) -> str:
    connection = rtc.peer_connection()
    try:
        try:
            await connection.setRemoteDescription(rtc.session_description(sdp, "offer"))
            await connection.setLocalDescription(await connection.createAnswer())
        except Exception as error:  # aiortc raises ValueError, OperationError, ...
            raise UnanswerableOffer(f"The offer cannot be answered: {error}") from None
        return connection.localDescription.sdp
    finally:
        await connection.close()


_loop_lock = threading.Lock()
_event_loop: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    """This module's event loop, running in a daemon thread (started on first use)."""
    global _event_loop
    with _loop_lock:
        if _event_loop is None or _event_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="greenroom-gameliftstreams-webrtc",
                             daemon=True).start()
            _event_loop = loop
        return _event_loop
