"""A STUN server (RFC 5389 Binding) on UDP, for the ICE servers greenroom hands out
(Kinesis Video GetIceServerConfig): a WebRTC peer asks it for its server-reflexive address.

Message encoding and decoding is aioice's (``aioice.stun``, a dependency of aiortc); this module
only answers. It runs on a thread of its own, so the network server and the in-process emulator
share it alike. TURN (relaying) is not offered: no maintained Python TURN server library exists,
and peers on one machine or network reach each other through host candidates.
"""
from __future__ import annotations

import logging
import socket
import threading

log = logging.getLogger("greenroom")

RECEIVE_TIMEOUT_SECONDS = 0.5   # how often the thread checks that it should stop
SOFTWARE = "greenroom"


class StunServer:
    """``StunServer(host, port).start()``; ``port`` is the bound one (0 picks a free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.bind((host, port))
        self._socket.settimeout(RECEIVE_TIMEOUT_SECONDS)
        self.host = host
        self.port = self._socket.getsockname()[1]
        self.answered = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"greenroom-stun-{self.port}", daemon=True)

    def start(self) -> "StunServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, peer = self._socket.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                answer = binding_answer(data, peer)
            except Exception:  # a malformed datagram is dropped, as STUN servers do
                log.debug("STUN: unreadable datagram from %s", peer)
                continue
            if answer is not None:
                try:
                    self._socket.sendto(answer, peer)
                    self.answered += 1
                except OSError:
                    pass


def binding_answer(data: bytes, peer: tuple) -> bytes | None:
    """The Binding success response to a Binding request from ``peer``; None for anything else
    (indications and responses get no answer)."""
    from aioice import stun

    request = stun.parse_message(data)
    if request.message_method != stun.Method.BINDING or request.message_class != stun.Class.REQUEST:
        return None
    response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=request.transaction_id)
    response.attributes["XOR-MAPPED-ADDRESS"] = (peer[0], peer[1])
    response.attributes["MAPPED-ADDRESS"] = (peer[0], peer[1])
    response.attributes["SOFTWARE"] = SOFTWARE
    response.add_fingerprint()
    return bytes(response)
