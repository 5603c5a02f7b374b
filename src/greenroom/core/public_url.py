"""The one place that decides the address greenroom hands out in URLs: KVS data and signaling
endpoints, HLS/DASH session URLs, IVS token and stage endpoints, Nimble stream URLs.

``PublicUrls.base_url(request)`` is, in order:
1. ``--public-url`` when given (used as is, for every caller);
2. from a ``--trusted-proxy`` peer: ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` /
   ``X-Forwarded-Port`` (the proxy vouches for the name its clients used);
3. the scheme of the connection and the name in ``Host`` when that name is this server's (a
   loopback name or address, ``*.localhost``, the address the connection reached, the machine's
   host name, a ``--tls-name``/configured name), with the port from ``Host`` or, when ``Host``
   carries none (AWS SDKs never send one), the port of the listener the connection came in on;
4. otherwise the address the connection reached (its local socket address): an unknown ``Host``
   is never reflected.

The in-process mock has no network and no listener: there the client's own endpoint (its URL's
host) is the address (``in_process=True``).
"""
from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ..protocol.http import HttpRequest

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


@dataclass(frozen=True)
class PublicUrls:
    public_url: str | None = None                 # --public-url, without a trailing slash
    names: frozenset[str] = frozenset()           # host names configured for this server
    trusted_proxies: tuple = ()                   # ip_network objects (--trusted-proxy)
    in_process: bool = False                      # the mock: the client's endpoint is the address

    @classmethod
    def configure(cls, public_url: str | None = None, names=(), trusted_proxies=()) -> "PublicUrls":
        """Settings from the command line; raises ValueError for a malformed one."""
        if public_url:
            parts = urlsplit(public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ValueError(f"--public-url must be http(s)://host[:port][/path], not {public_url!r}")
            public_url = public_url.rstrip("/")
        return cls(public_url=public_url or None,
                   names=frozenset(name.lower().strip("[]") for name in names
                                   if name.strip("[]") not in ("", "0.0.0.0", "::")),
                   trusted_proxies=tuple(ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies))

    # ------------------------------------------------------------------ the one function
    def base_url(self, request: "HttpRequest") -> str:
        """``scheme://host[:port]`` (plus ``--public-url``'s path) for URLs handed to this caller."""
        if self.public_url:
            return self.public_url
        if self.in_process:
            return f"{request.scheme}://{request.host}"
        if self._from_trusted_proxy(request):
            forwarded = self._forwarded(request)
            if forwarded is not None:
                return forwarded
        name, port = split_host(request.host)
        local_host, local_port = request.server or ("", None)
        if not name or not self._is_ours(name, local_host):
            name, port = local_host or "127.0.0.1", None
        return join(request.scheme, name, port or local_port)

    # ------------------------------------------------------------------ parts
    def _is_ours(self, name: str, local_host: str) -> bool:
        name = name.lower()
        if name == "localhost" or name.endswith(".localhost") or name in self.names:
            return True
        if name in _machine_names() or name == local_host.lower():
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def _from_trusted_proxy(self, request: "HttpRequest") -> bool:
        if not self.trusted_proxies or not request.client:
            return False
        try:
            peer = ipaddress.ip_address(request.client)
        except ValueError:
            return False
        return any(peer in network for network in self.trusted_proxies)

    def _forwarded(self, request: "HttpRequest") -> str | None:
        headers = request.headers
        host = _first(headers.get("x-forwarded-host"))
        scheme = (_first(headers.get("x-forwarded-proto")) or request.scheme).lower()
        if scheme not in ("http", "https"):
            scheme = request.scheme
        if not host:
            if not headers.get("x-forwarded-proto"):
                return None
            host = request.host
        name, port = split_host(host)
        if not name:
            return None
        forwarded_port = _first(headers.get("x-forwarded-port"))
        if port is None and forwarded_port.isdigit():
            port = int(forwarded_port)
        return join(scheme, name, port)


def split_host(host: str) -> tuple[str, int | None]:
    """``"[::1]:4580"`` -> ``("::1", 4580)``; ``"example"`` -> ``("example", None)``;
    ``("", None)`` for something that is not a host."""
    host = host.strip()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        name, port_text = host.split(":")
    else:
        name, port_text = host, ""  # a bare IPv6 address or a name
    if port_text and not port_text.isdigit():
        return "", None
    if any(char in name for char in "/?#@ \\"):
        return "", None
    return name, int(port_text) if port_text else None


def join(scheme: str, name: str, port: int | None) -> str:
    """A base URL; the scheme's default port is left out, an IPv6 address gets brackets."""
    if ":" in name:
        name = f"[{name}]"
    if port is None or DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{name}"
    return f"{scheme}://{name}:{port}"


def websocket(url: str) -> str:
    """The ws:// / wss:// form of an http:// / https:// URL."""
    scheme, sep, rest = url.partition("://")
    return f"{WEBSOCKET_SCHEMES.get(scheme, scheme)}{sep}{rest}"


def _first(value: str | None) -> str:
    """The client-side (first) entry of a comma-separated X-Forwarded-* header."""
    return (value or "").split(",", 1)[0].strip()


@functools.cache
def _machine_names() -> frozenset[str]:
    """This machine's host name (no DNS lookup: that could stall a request)."""
    name = socket.gethostname().lower()
    return frozenset({name, name.split(".", 1)[0]})


DEFAULT = PublicUrls()
IN_PROCESS = PublicUrls(in_process=True)


def base_url(request: "HttpRequest") -> str:
    """Where URLs handed to this caller point: the emulator's settings (``request.public_urls``)
    or the defaults; never a blind reflection of Host, and with the listener's port when Host
    carries none."""
    return (request.public_urls or DEFAULT).base_url(request)
