"""Shared by the benchmarks: server subprocesses, a raw HTTP/1.1 GET, boto3 requests signed once
and replayed, and a cheap load generator.

Everything here talks to 127.0.0.1 only.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def source_state() -> str:
    """Which greenroom is measured: this checkout's src/ (commit, and whether src/ has
    uncommitted changes; read-only git) or another copy found first on the path (PYTHONPATH)."""
    import importlib.util

    spec = importlib.util.find_spec("greenroom")
    origin = Path(spec.origin).resolve().parent if spec and spec.origin else None
    checkout = BENCH_DIR.parent
    if origin is not None and origin != checkout / "src" / "greenroom":
        return f"{origin} (not this checkout's src/)"
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{head or 'unknown'}{' + uncommitted changes in src/' if dirty else ''}"


def greenroom_command() -> list[str]:
    """``greenroom`` as installed (the console script next to this interpreter, not a shim)."""
    script = Path(sysconfig.get_path("scripts")) / "greenroom"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "greenroom.cli"]


def bare_command() -> list[str]:
    return [sys.executable, str(BENCH_DIR / "_bareapp.py")]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    first_line: str
    stderr_path: Path
    started_at: float          # perf_counter() just before Popen
    bound_at: float            # perf_counter() when the "listening on" line arrived
    _stdout: list[str] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        """user + system CPU time the server process has used so far."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def stderr_text(self, limit: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


def start_server(name: str, command: list[str], stderr_path: Path, *, timeout: float = 60.0,
                 env: dict | None = None) -> Server:
    """Start a server that prints ``... listening on http://127.0.0.1:PORT ...`` first; wait for it."""
    stderr_file = open(stderr_path, "wb")
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr_file,
                               stdin=subprocess.DEVNULL, env=env, text=True)
    stderr_file.close()
    ready = select.select([process.stdout], [], [], timeout)[0]
    line = process.stdout.readline() if ready else ""
    bound = time.perf_counter()
    if "listening on http://" not in line:
        process.kill()
        process.wait()
        raise RuntimeError(f"{name} did not start ({' '.join(command)}): {line!r}\n"
                           + stderr_path.read_text(errors="replace")[-4000:])
    port = int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1])
    server = Server(name, process, port, line.strip(), stderr_path, started, bound)
    # Keep draining stdout so a chatty server can never block on a full pipe.
    threading.Thread(target=lambda: server._stdout.extend(process.stdout), daemon=True).start()
    return server


def read_response(sock: socket.socket, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body, from a blocking socket."""
    sock.settimeout(timeout)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the response body")
        rest += chunk
    return status, headers, rest[:length]


def http_get(port: int, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nConnection: close\r\n\r\n"
                     .encode())
        status, _, body = read_response(sock, timeout)
        return status, body


def https_get(port: int, path: str, cafile: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """``http_get`` over TLS, verifying the server against ``cafile`` (a full handshake each time)."""
    import ssl
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=LOOPBACK) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nConnection: close\r\n\r\n"
                         .encode())
            status, _, body = read_response(sock, timeout)
            return status, body


def exchange(port: int, request: bytes, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock, timeout)


def signed_request(client, call) -> bytes:
    """The exact bytes of the request boto3 sends for ``call(client)`` (made once, its answer
    ignored), SigV4-signed once, to replay byte for byte."""
    captured = {}

    def capture(request, **_):
        captured.update(method=request.method, url=request.url, body=request.body,
                        headers=list(request.headers.items()))

    client.meta.events.register("before-send", capture)  # observes, lets the request go
    try:
        call(client)
    finally:
        client.meta.events.unregister("before-send", capture)
    url = urlsplit(captured["url"])
    body = captured["body"] or b""
    body = body.encode() if isinstance(body, str) else bytes(body)
    lines = [f"{captured['method']} {url.path or '/'}{'?' + url.query if url.query else ''} HTTP/1.1",
             f"Host: {url.netloc}"]
    names = set()
    for name, value in captured["headers"]:
        value = value.decode("latin-1") if isinstance(value, bytes) else value
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Accept-Encoding: identity")  # what urllib3 adds for botocore
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --------------------------------------------------------------------------- load generator

@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    client_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000 if ordered else 0.0


class _Conn:
    __slots__ = ("sock", "request", "buffer", "need", "status", "sent_at", "done")

    def __init__(self, sock, request: bytes):
        self.sock = sock
        self.request = request
        self.buffer = bytearray()
        self.need = -1
        self.status = 0
        self.sent_at = 0.0
        self.done = False


def run_load(port: int, request: bytes, *, connections: int = 8, duration: float = 3.0,
             max_requests: int = 1_000_000, stall_timeout: float = 10.0) -> LoadResult:
    """Closed-loop load: ``connections`` keep-alive connections, one request in flight on each
    (no pipelining), the same request bytes every time, for ``duration`` seconds or
    ``max_requests`` requests, whichever comes first."""
    return run_targets([(port, request)] * connections, duration=duration, max_requests=max_requests,
                       stall_timeout=stall_timeout)


def run_targets(targets: list[tuple[int, bytes]], *, duration: float = 3.0, max_requests: int = 1_000_000,
                stall_timeout: float = 10.0) -> LoadResult:
    """``run_load`` with a connection per (port, request) of ``targets``, each sending its own
    request. An epoll loop over raw sockets: about the cheapest client Python can be, since it
    shares the CPU with the server under test."""
    conns: dict[int, _Conn] = {}
    for port, request in targets:
        sock = socket.create_connection((LOOPBACK, port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conns[sock.fileno()] = _Conn(sock, request)
    poller = select.epoll()
    latencies: list[float] = []
    append_latency = latencies.append
    completed = errors = issued = 0
    perf = time.perf_counter
    cpu_started = time.process_time()
    try:
        for fd, conn in conns.items():
            poller.register(fd, select.EPOLLIN)
        started = perf()
        deadline = started + duration
        last_progress = finished = started
        for conn in conns.values():
            conn.sent_at = perf()
            if conn.sock.send(conn.request) != len(conn.request):
                raise RuntimeError("short send on an idle connection")
            issued += 1
        active = len(conns)
        while active:
            events = poller.poll(1.0)
            now = perf()
            if not events:
                if now - last_progress > stall_timeout:
                    raise TimeoutError(f"no response for {stall_timeout}s ({active} requests in flight)")
                continue
            for fd, _ in events:
                conn = conns[fd]
                data = conn.sock.recv(262144)
                if not data:
                    raise ConnectionError("the server closed a keep-alive connection")
                buffer = conn.buffer
                buffer += data
                if conn.need < 0:
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    head = bytes(buffer[:end]).lower()
                    at = head.find(b"\r\ncontent-length:")
                    if at < 0:
                        raise RuntimeError("response without Content-Length: " + head.decode("latin-1"))
                    line_end = head.find(b"\r\n", at + 2)
                    conn.need = end + 4 + int(head[at + 17:line_end if line_end > 0 else None])
                    conn.status = int(head[9:12])
                if len(buffer) < conn.need:
                    continue
                if len(buffer) > conn.need:
                    raise RuntimeError("more bytes than one response: pipelining is off, this is a bug")
                now = perf()
                append_latency(now - conn.sent_at)
                completed += 1
                if conn.status != 200:
                    errors += 1
                del buffer[:]
                conn.need = -1
                last_progress = finished = now
                if now < deadline and issued < max_requests:
                    conn.sent_at = now
                    if conn.sock.send(conn.request) != len(conn.request):
                        raise RuntimeError("short send on an idle connection")
                    issued += 1
                else:
                    poller.unregister(fd)
                    active -= 1
    finally:
        poller.close()
        for conn in conns.values():
            conn.sock.close()
    return LoadResult(completed, errors, finished - started, latencies,
                      time.process_time() - cpu_started)
