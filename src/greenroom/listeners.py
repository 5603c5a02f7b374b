"""The app on its listening sockets: plain HTTP, HTTPS, or both at once (``--port`` and
``--tls-port``), in one process and one event loop.

uvicorn applies one TLS setting to all the sockets of a server, so each kind of listener gets a
uvicorn server of its own; the first one runs the app's lifespan (background work) and handles
the signals, and stopping it stops the others.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path

import uvicorn


@dataclass
class Listener:
    socket: socket.socket
    certfile: Path | None = None   # with keyfile: this listener speaks TLS
    keyfile: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.certfile else "http"

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound now: connections that arrive while the server starts wait in
    its backlog instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    return listener


def run(app, listeners: list[Listener], **options) -> None:
    """Serve ``app`` on every listener until a signal stops the process; ``options`` are
    uvicorn.Config's."""
    def config(listener: Listener, lifespan: str) -> uvicorn.Config:
        tls = {"ssl_certfile": str(listener.certfile), "ssl_keyfile": str(listener.keyfile)} if listener.certfile else {}
        return uvicorn.Config(app, lifespan=lifespan, **tls, **options)

    first = _Leader(config(listeners[0], "on"))
    if len(listeners) == 1:
        first.run(sockets=[listeners[0].socket])
        return
    others = [_Follower(config(listener, "off")) for listener in listeners[1:]]
    first.followers = others

    async def serve_all():
        await asyncio.gather(first.serve(sockets=[listeners[0].socket]),
                             *(server.serve(sockets=[listener.socket])
                               for server, listener in zip(others, listeners[1:])))

    with asyncio.Runner(loop_factory=first.config.get_loop_factory()) as runner:
        runner.run(serve_all())


class _Leader(uvicorn.Server):
    """Handles the signals; its exit is everyone's. A signal (Ctrl-C, SIGTERM) is a graceful
    stop: the app is told (``app.stop()``: live streams end with their last answers) and the
    signal is not raised again afterwards, so ``run`` returns."""
    followers: list[uvicorn.Server] = []

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()
        stop = getattr(self.config.app, "stop", None)
        if stop is not None:
            stop()
        for follower in self.followers:
            follower.should_exit = True
            follower.force_exit = follower.force_exit or self.force_exit


class _Follower(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):
        yield  # the leader's handlers stop this server too
