"""What the services use of aiortc (WebRTC) and of ``media.live`` (PyAV encoders), imported on
first use: aiortc takes about 1.4 s to import, and most runs never make a WebRTC peer, so
services import this module at their top and pay for aiortc only when a peer is made."""
from __future__ import annotations

from typing import Any

VIDEO_CODECS = ("video/H264", "video/rtx")   # H.264 (and its retransmissions) only
AUDIO_CODECS = ("audio/opus",)


def peer_connection(ice_servers: list | None = None) -> Any:
    """An ``aiortc.RTCPeerConnection``; ``ice_servers=None`` is aiortc's default configuration."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    return RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))


def session_description(sdp: str, type: str) -> Any:
    """An ``aiortc.RTCSessionDescription`` (``type``: "offer" or "answer")."""
    from aiortc import RTCSessionDescription

    return RTCSessionDescription(sdp=sdp, type=type)


def ice_candidate(text: str, sdp_mid: str | None, sdp_mline_index: int | None) -> Any:
    """An ``aiortc.RTCIceCandidate`` from a candidate line (without its ``candidate:`` prefix)."""
    from aiortc.sdp import candidate_from_sdp

    candidate = candidate_from_sdp(text)
    candidate.sdpMid = sdp_mid
    candidate.sdpMLineIndex = sdp_mline_index
    return candidate


def prefer_codecs(transceiver: Any, kind: str, mime_types: tuple[str, ...]) -> None:
    """Offer only these codecs (by MIME type) on ``transceiver``."""
    from aiortc.rtcrtpsender import RTCRtpSender

    transceiver.setCodecPreferences([codec for codec in RTCRtpSender.getCapabilities(kind).codecs
                                     if codec.mimeType in mime_types])


def media_relay() -> Any:
    """An ``aiortc.contrib.media.MediaRelay``: one track read by several consumers."""
    from aiortc.contrib.media import MediaRelay

    return MediaRelay()


def live_h264_fragments(width: int, height: int, *, audio: bool) -> Any:
    """A ``media.live.LiveH264Fragments`` encoder (decoded pictures -> PutMedia fragments)."""
    from .live import LiveH264Fragments

    return LiveH264Fragments(width, height, audio=audio)
