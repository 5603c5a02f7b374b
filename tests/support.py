"""Helpers shared by every test directory (``from support import ...``; tests/ is on sys.path
through the root conftest): boto3 clients that find greenroom's shipped models, and
``greenroom serve`` subprocesses."""
from __future__ import annotations

import collections
import dataclasses
import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.session
import requests
from botocore.config import Config

from greenroom.protocol.models import MODELS_DIR

DEFAULT_KEY = "AKIDGREENROOMTEST"  # not a 12-digit number: the default account
# No client-side validation (greenroom must refuse bad input itself, as for SDKs that send it)
# and no retries (a failure shows at once instead of after backoff).
CLIENT_CONFIG = Config(parameter_validation=False, retries={"total_max_attempts": 1, "mode": "standard"},
                       connect_timeout=5, read_timeout=20)

_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def make_client(service: str, endpoint_url: str | None = None, region: str = "us-east-1", **kwargs):
    """A boto3 client that reads greenroom's shipped models first (as ``AWS_DATA_PATH`` would):
    the tests speak the contract the server serves, whatever botocore release runs them (its
    serializer and parser are what varies). Clients share one session (a fresh one costs
    ~50 ms of model loading); ``kwargs`` are boto3's."""
    global _session
    options = {"aws_access_key_id": DEFAULT_KEY, "aws_secret_access_key": "secret", **kwargs}
    options["config"] = CLIENT_CONFIG.merge(kwargs["config"]) if "config" in kwargs else CLIENT_CONFIG
    with _session_lock:
        if _session is None:
            core = botocore.session.Session()
            core.get_component("data_loader").search_paths.insert(0, str(MODELS_DIR))
            _session = boto3.session.Session(botocore_session=core)
        return _session.client(service, endpoint_url=endpoint_url, region_name=region, **options)


def portless_client(service: str, endpoint_url: str, host: str | None = None, **kwargs):
    """A boto3 client for ``endpoint_url`` whose requests say ``Host: <name>`` without a port,
    as AWS's C and C++ SDKs send it (``host`` overrides the name, e.g. an unknown one)."""
    client = make_client(service, endpoint_url, **kwargs)
    name = host or urlsplit(endpoint_url).hostname

    def set_host(request, **_):
        request.headers["Host"] = name   # signed with it, sent as is

    client.meta.events.register("before-sign", set_host)
    return client


@dataclass
class RunningServer:
    process: subprocess.Popen
    base_url: str = ""         # the first listener's URL (https:// with --tls)
    tls_url: str = ""          # the HTTPS listener's URL (--tls or --tls-port), else ""
    ca_file: str = ""          # the CA greenroom printed (its own certificates), else ""
    # What the server printed, read continuously: a full pipe would block the server.
    output: collections.deque = field(default_factory=lambda: collections.deque(maxlen=500))
    drainer: threading.Thread | None = None

    def client(self, service: str, **kwargs):
        if self.base_url.startswith("https://") and self.ca_file:
            kwargs.setdefault("verify", self.ca_file)   # trust greenroom's CA, nothing more
        return make_client(service, self.base_url, **kwargs)

    def admin(self, method: str, path: str, json=None, **kwargs) -> requests.Response:
        if self.base_url.startswith("https://") and self.ca_file:
            kwargs.setdefault("verify", self.ca_file)
        return requests.request(method, f"{self.base_url}/_greenroom/{path}", json=json, timeout=10, **kwargs)

    def over_https(self) -> "RunningServer":
        """The same server seen through its HTTPS listener (``base_url`` = ``tls_url``)."""
        if not self.tls_url:
            raise ValueError("this server has no HTTPS listener (--tls or --tls-port)")
        return dataclasses.replace(self, base_url=self.tls_url)

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(timeout=10)
        if self.drainer is not None:
            self.drainer.join(timeout=10)  # everything it printed is in ``output`` now

    def log(self) -> str:
        return "".join(self.output)


def _wait_listening(server: RunningServer) -> RunningServer:
    first_line = server.process.stdout.readline()
    if "listening on " not in first_line:
        server.process.kill()
        raise RuntimeError(f"greenroom serve did not start: {first_line}{server.process.stdout.read()}")
    urls = first_line.split("listening on ", 1)[1].split(" (", 1)[0].split(" and ")
    server.base_url = urls[0]
    server.tls_url = next((url for url in urls if url.startswith("https://")), "")
    server.output.append(first_line)
    if server.tls_url and "--tls-cert" not in server.process.args:
        ca_line = server.process.stdout.readline()  # printed right after, before serving
        server.output.append(ca_line)
        server.ca_file = ca_line.split("TLS CA: ", 1)[1].split(" (", 1)[0]

    def drain():
        for line in server.process.stdout:
            server.output.append(line)

    server.drainer = threading.Thread(target=drain, daemon=True)
    server.drainer.start()
    return server


class Launcher:
    """``launch(*args)`` runs ``greenroom serve --port 0 *args`` and returns once it listens;
    ``launch.many([args, ...])`` starts several at the same time. ``close()`` kills them all."""

    def __init__(self):
        self.servers: list[RunningServer] = []

    def __call__(self, *args: str, env: dict | None = None) -> RunningServer:
        return self.many([args], env=env)[0]

    def many(self, arg_lists, env: dict | None = None) -> list[RunningServer]:
        """``env``: variables to set for the servers (e.g. ``XDG_DATA_HOME``) on top of this process's."""
        launched = [RunningServer(subprocess.Popen(
            [sys.executable, "-m", "greenroom.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **env} if env else None,
        )) for args in arg_lists]
        self.servers += launched
        return [_wait_listening(server) for server in launched]

    def close(self) -> None:
        for server in self.servers:
            server.stop(kill=True)


# ------------------------------------------------------------------------- players

REQUIRE_PLAYERS = os.environ.get("GREENROOM_REQUIRE_PLAYERS") == "1"
PLAYERS_DIR = Path(__file__).resolve().parent / "players"


def need(found: bool, what: str) -> None:
    """Skip (or, under GREENROOM_REQUIRE_PLAYERS=1, fail) when an outside player is missing."""
    import pytest
    if found:
        return
    reason = f"{what} not installed (see tests/players/package.json and the README)"
    if REQUIRE_PLAYERS:
        pytest.fail(reason + "; GREENROOM_REQUIRE_PLAYERS=1 requires it")
    pytest.skip(reason)


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    need(browser is not None, "chromium (apt: chromium)")
    return browser


class BrowserPage:
    """Headless Chromium on a page of its own origin (``http://127.0.0.1:<port>/``, another origin
    than greenroom's). The page's script calls ``report(value)`` (defined for it), and the test
    reads the reports with ``wait(condition)``. ``files`` are served beside the page."""

    def __init__(self, html_body: str, files: dict[str, tuple[bytes, str]] | None = None,
                 chromium_args: tuple[str, ...] = ()):
        page = ("<!doctype html><html><head><meta charset=\"utf-8\"><script>"
                "function report(what) { fetch('/report', {method: 'POST', body: JSON.stringify(what)})"
                ".catch(function () {}); }</script></head><body>" + html_body + "</body></html>").encode()
        served = {"/": (page, "text/html"), **(files or {})}
        self.reports: queue.Queue = queue.Queue()
        reports = self.reports

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, kind = served.get(self.path, (b"", "text/plain"))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                reports.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.profile = tempfile.mkdtemp(prefix="greenroom-chromium-")
        self.process = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={self.profile}", "--autoplay-policy=no-user-gesture-required",
             "--remote-debugging-port=0", *chromium_args, self.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait(self, done, timeout: float = 45) -> list:
        """Reports until ``done(reports)`` is true; fails at ``timeout`` s (or if Chromium exits)."""
        seen: list = []
        deadline = time.monotonic() + timeout
        while not done(seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page did not finish in {timeout} s; it reported {seen}")
            try:
                seen.append(self.reports.get(timeout=0.5))
            except queue.Empty:
                if self.process.poll() is not None:
                    raise AssertionError(self.process.stderr.read().decode(errors="replace")[-3000:]) from None
        return seen

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self.process.stderr.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "BrowserPage":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class DevToolsPage:
    """Headless Chromium showing ``url``, driven through the DevTools protocol (a WebSocket):
    ``evaluate(js)`` runs an expression in the page and returns its JSON value, ``wait_for(js)``
    until it is truthy, ``screenshot(path)`` writes a PNG. For pages greenroom serves itself
    (the console), where BrowserPage's ``report()`` cannot be injected."""

    def __init__(self, url: str, width: int = 1280, height: int = 900, chromium_args: tuple[str, ...] = ()):
        from websockets.sync.client import connect

        self.profile = tempfile.mkdtemp(prefix="greenroom-chromium-")
        self.process = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={self.profile}", "--autoplay-policy=no-user-gesture-required",
             f"--window-size={width},{height}", "--remote-debugging-port=0", *chromium_args, url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise AssertionError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        while True:
            pages = [target for target in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
                     if target.get("type") == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._ids = iter(range(1, 1 << 30))

    def command(self, method: str, **params) -> dict:
        sent = next(self._ids)
        self.socket.send(json.dumps({"id": sent, "method": method, "params": params}))
        while True:
            answer = json.loads(self.socket.recv(timeout=30))
            if answer.get("id") == sent:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer["result"]

    def evaluate(self, expression: str):
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        guarded = f"(function () {{ try {{ return Boolean({expression}); }} catch (error) {{ return false; }} }})()"
        while True:
            value = self.evaluate(guarded)  # false while the page still loads
            if value:
                return value
            if time.monotonic() > deadline:
                body = self.evaluate("document.body.innerText")
                raise AssertionError(f"not true after {timeout} s: {expression}\npage:\n{body[:3000]}")
            time.sleep(0.2)

    def screenshot(self, path) -> None:
        import base64
        Path(path).write_bytes(base64.b64decode(self.command("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        if getattr(self, "socket", None) is not None:
            self.socket.close()
        self.process.kill()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)
