"""Helpers shared by every test directory (``from support import ...``; tests/ is on sys.path
through the root conftest): boto3 clients that find greenroom's shipped models, ``greenroom
serve`` subprocesses, synthetic media, the one test ``Driver`` (over HTTP and in process) and
headless browsers."""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import http.server
import json
import os
import queue
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import boto3
import botocore.session
import requests
from botocore.config import Config

import greenroom
from greenroom.core.errors import ServiceError
from greenroom.media.producer import PutMediaError, put_media_bytes
from greenroom.media.source import putmedia_body
from greenroom.media.testsrc import synthetic_video
from greenroom.protocol.http import HttpRequest
from greenroom.protocol.models import MODELS_DIR
from greenroom.services.kinesisvideo.put_media import put_media_in_process

DEFAULT_KEY = "AKIDGREENROOMTEST"  # not a 12-digit number: the default account
DEFAULT_ACCOUNT = "000000000000"   # what greenroom makes of DEFAULT_KEY
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

    def fresh(self) -> "RunningServer":
        """This server reset to an empty state with a real clock (a fixture's starting point)."""
        self.admin("POST", "reset").raise_for_status()
        self.admin("POST", "clock", {"mode": "real"}).raise_for_status()
        return self

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


# ------------------------------------------------------------------------- synthetic media

EVERYTHING = {"StartTimestamp": dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
              "EndTimestamp": dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)}


@functools.cache
def video(seconds: float = 4.0, fps: int = 25, audio: bool = False, container: str = "matroska",
          gop: int | None = None) -> bytes:
    """Real H.264 (and AAC) media, made once per set of arguments."""
    return synthetic_video(seconds=seconds, fps=fps, audio=audio, container=container, gop=gop)


@functools.cache
def video_path(seconds: float = 4.0, fps: int = 25, audio: bool = False, container: str = "matroska",
               gop: int | None = None) -> str:
    suffix = {"matroska": ".mkv", "mp4": ".mp4", "mpegts": ".ts"}[container]
    descriptor, path = tempfile.mkstemp(suffix=suffix, prefix="greenroom-kvs-")
    with os.fdopen(descriptor, "wb") as file:
        file.write(video(seconds, fps, audio, container, gop))
    return path


@functools.cache
def video_body(seconds: float = 4.0, fps: int = 25, audio: bool = False) -> tuple[bytes, ...]:
    """A real PutMedia body: header, then one Cluster (+ end-of-fragment Tags) per second."""
    return tuple(putmedia_body(video_path(seconds, fps, audio)))


# ------------------------------------------------------------------------- the test driver

class Refused(Exception):
    """A greenroom route (a client stand-in, an admin change) refused: its HTTP status and its
    JSON body (``code`` and ``message`` read from it)."""

    def __init__(self, status: int, body):
        super().__init__(f"{status} {body}")
        self.status, self.body = status, body

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def message(self) -> str:
        return self.body.get("message", "") if isinstance(self.body, dict) else str(self.body)


class Driver:
    """How every behaviour test reaches greenroom, with the same names wherever it runs:
    ``mode`` "server" (a running server over HTTP: ``over_http``) or in process (``in_process``:
    ``greenroom.mock()``, in memory or on a given store); ``emulator`` is the in-process emulator
    (None over HTTP). The clock is manual from the start (at ``epoch`` when given).

    ``client(service)`` (``service`` and ``region`` default to the driver's), ``advance(s)``,
    ``set_clock(epoch)``, ``set_delays({name: s})``, ``delays()``, ``reset()``; greenroom's own
    routes: ``route(method, path, body, query)`` -> (status, JSON), ``admin(method, path, body)``
    -> JSON or ``Refused``, ``fetch(url)`` for a URL greenroom handed out; then thin
    conveniences per service (over the same calls in both modes but PutMedia's)."""

    Refused = Refused

    def __init__(self, mode: str, *, server: RunningServer | None = None, mock=None, service: str | None = None,
                 region: str = "us-east-1", epoch: float | None = None, portless: bool = False):
        self.mode, self.server, self.mock = mode, server, mock
        self.portless = portless   # clients send Host without a port, as AWS's C and C++ SDKs do
        self.emulator = mock.emulator if mock is not None else None
        self.service, self.region, self.epoch = service, region, epoch
        self.base_url = server.base_url if server is not None else ""
        self.ca_file = server.ca_file if self.base_url.startswith("https://") else ""
        self._start_clock()

    @classmethod
    def over_http(cls, server: RunningServer, **defaults) -> "Driver":
        return cls("server", server=server, **defaults)

    @classmethod
    def in_process(cls, mode: str = "mock", db_url: str | None = None, **defaults) -> "Driver":
        """A started ``greenroom.mock()``: every botocore client made until ``close()`` is
        answered in process (do not mix with HTTP servers in one test)."""
        return cls(mode, mock=greenroom.mock(db_url=db_url).start(), **defaults)

    def close(self) -> None:
        if self.mock is not None:
            self.mock.stop()

    # ------------------------------------------------------------------ clients, clock, delays
    def client(self, service: str | None = None, **kwargs):
        """A new boto3 client of greenroom (``kwargs`` are boto3's and ``region``)."""
        kwargs.setdefault("region", self.region)
        if self.ca_file:
            kwargs.setdefault("verify", self.ca_file)   # trust greenroom's CA, nothing more
        if self.portless:
            return portless_client(service or self.service, self.base_url, **kwargs)
        return make_client(service or self.service, self.base_url or None, **kwargs)

    def _start_clock(self) -> None:
        if self.epoch is not None:
            self.set_clock(self.epoch)
        elif self.emulator is not None:
            self.emulator.clock.freeze()
        else:
            self.admin("POST", "clock", {"mode": "manual"})

    def advance(self, seconds: float) -> None:
        if self.emulator is not None:
            self.emulator.clock.advance(seconds)
        else:
            self.admin("POST", "clock", {"advance": seconds})

    def set_clock(self, epoch: float) -> None:
        if self.emulator is not None:
            self.emulator.clock.set(epoch)
        else:
            self.admin("POST", "clock", {"set": epoch})

    def set_delays(self, delays: dict[str, float]) -> None:
        if self.emulator is not None:
            for name, seconds in delays.items():
                self.emulator.delays.set(name, seconds)
        else:
            self.admin("POST", "delays", delays)

    def delays(self) -> dict[str, float]:
        return self.emulator.delays.describe() if self.emulator is not None else self.admin("GET", "delays")

    def reset(self) -> None:
        """An empty state and the default delays; the clock back at ``epoch`` when there is one."""
        if self.emulator is not None:
            self.emulator.reset()
        else:
            self.admin("POST", "reset")
        if self.epoch is not None:
            self.set_clock(self.epoch)

    # ------------------------------------------------------------------ greenroom's own routes
    def request(self, method: str, path: str, body: bytes = b"", query: str = "",
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        """(status, headers with lower-case names, body) of a request to greenroom: over HTTP,
        or through the in-process emulator (the mock has no listening socket)."""
        headers = {"content-type": "application/json", **(headers or {})}
        if self.emulator is None:
            url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
            response = requests.request(method, url, data=body, headers=headers, timeout=10,
                                        verify=self.ca_file or True)
            return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content
        host = headers.pop("host", "localhost")
        response = self.emulator.handle(HttpRequest(method=method, raw_path=path, query_string=query, host=host,
                                                    headers={"host": host, **headers}, body=body))
        content = response.body if isinstance(response.body, bytes) else b"".join(response.body)
        return response.status, {k.lower(): v for k, v in response.headers.items()}, content

    def route(self, method: str, path: str, body=None, query: str = "") -> tuple[int, object]:
        """(status, JSON body) of one of greenroom's routes (``path`` from the root)."""
        status, _, content = self.request(method, path, json.dumps(body).encode() if body is not None else b"",
                                          query)
        return status, json.loads(content) if content else None

    def admin(self, method: str, path: str, body=None, query: str = ""):
        """The JSON answer of a route under /_greenroom/; ``Refused`` unless it succeeds."""
        status, answer = self.route(method, f"/_greenroom/{path}", body, query)
        if not 200 <= status < 300:
            raise Refused(status, answer)
        return answer

    def fetch(self, url: str) -> tuple[int, dict, bytes]:
        """GET a URL greenroom handed out (a stream URL, a playlist) as a browser would: the URL
        itself over HTTP, its path and query through the emulator in process."""
        if self.emulator is not None:
            parts = urlsplit(url)
            return self.request("GET", parts.path, query=parts.query, headers={"host": parts.netloc})
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        try:
            with urllib.request.urlopen(url, timeout=10, context=context) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()

    # ------------------------------------------------------------------ GameLift Streams
    def session_action(self, action: str, session: str) -> dict:
        """A client-side action (connect, disconnect, input, exit) on a session ARN or id."""
        return self.admin("POST", f"gameliftstreams/sessions/{quote(session, safe='')}/{action}")

    def ready_application(self, description: str = "game", **overrides) -> dict:
        gls = self.client("gameliftstreams")
        app = gls.create_application(**{
            "Description": description, "RuntimeEnvironment": {"Type": "UBUNTU", "Version": "22_04_LTS"},
            "ExecutablePath": "bin/game", "ApplicationSourceUri": "s3://game-bucket/builds/1/", **overrides})
        self.advance(2)
        assert gls.get_application(Identifier=app["Id"])["Status"] == "READY"
        return app

    def active_group(self, app: dict | None = None, stream_class: str = "gen4n_high", **overrides) -> dict:
        gls = self.client("gameliftstreams")
        request = {"Description": "group", "StreamClass": stream_class, **overrides}
        if app is not None:
            request["DefaultApplicationIdentifier"] = app["Arn"]
        group = gls.create_stream_group(**request)
        self.advance(0.001)
        assert gls.get_stream_group(Identifier=group["Id"])["Status"] == "ACTIVE"
        return group

    def start_session(self, group: dict, app: dict, signal: str = "NO_CLIENT_CONNECTION", **extra) -> dict:
        return self.client("gameliftstreams").start_stream_session(
            Identifier=group["Arn"], ApplicationIdentifier=app["Arn"], Protocol="WebRTC",
            SignalRequest=signal, **extra)

    def stream_session(self, group: dict, session: dict) -> dict:
        return self.client("gameliftstreams").get_stream_session(Identifier=group["Id"],
                                                                 StreamSessionIdentifier=session["Arn"])

    # ------------------------------------------------------------------ IVS Real-Time (client stand-ins)
    def join(self, token: str, protocol: str = "WHIP", **extra) -> dict:
        return self.admin("POST", "ivs-realtime/join", {"token": token, "protocol": protocol, **extra})

    def act(self, participant_id: str, action: str, **body) -> dict:
        """A participant's action: publish, unpublish, subscribe, unsubscribe, leave, exchange-token."""
        return self.admin("POST", f"ivs-realtime/participants/{participant_id}/{action}", body)

    def ingest(self, stream_key: str, protocol: str = "RTMPS") -> dict:
        return self.admin("POST", "ivs-realtime/ingest", {"streamKey": stream_key, "protocol": protocol})

    def set_quotas(self, account: str = DEFAULT_ACCOUNT, **quotas) -> dict:
        return self.admin("POST", "ivs-realtime/quotas",
                          {"account": account, "region": self.region, "quotas": quotas})["quotas"]

    def jwks(self, account: str = DEFAULT_ACCOUNT) -> dict:
        return self.admin("GET", "ivs-realtime/jwks", query=f"account={account}")

    # ------------------------------------------------------------------ Nimble Studio
    def arm_fault(self, operation: str, status_code: str, account: str = DEFAULT_ACCOUNT, **extra) -> None:
        self.admin("POST", "nimble/faults", {"operation": operation, "statusCode": status_code,
                                             "account": account, "region": self.region, **extra})

    # ------------------------------------------------------------------ Kinesis Video
    def put_media(self, body, **options) -> list[dict]:
        """PutMedia's acknowledgements (or its error as one): streamed over HTTP to the server,
        ``put_media_in_process`` in process."""
        if self.emulator is None:
            return http_put(self.base_url, body, **options)
        try:
            return put_media_in_process(self.emulator, body, **options)
        except ServiceError as error:
            return [{"HttpStatus": 404 if error.code == "ResourceNotFoundException" else 400,
                     "ErrorType": error.code, "Message": error.message}]

    def create_active_stream(self, name: str = "cam", retention: int = 24, **options) -> str:
        arn = self.client("kinesisvideo").create_stream(StreamName=name, DataRetentionInHours=retention,
                                                        **options)["StreamARN"]
        self.advance(1)
        return arn

    def put_video(self, stream: str = "cam", seconds: float = 4.0, audio: bool = False,
                  start_ms: int = 1_700_000_000_000) -> list[dict]:
        return self.put_media(list(video_body(seconds, 25, audio)), stream_name=stream, timecode_type="RELATIVE",
                              producer_start_ms=start_ms)

    def fragments(self, stream: str = "cam", kind: str = "PRODUCER_TIMESTAMP", **time_range) -> list[dict]:
        archived = self.client("kinesis-video-archived-media")
        pages = archived.get_paginator("list_fragments").paginate(
            StreamName=stream, FragmentSelector={"FragmentSelectorType": kind,
                                                 "TimestampRange": time_range or EVERYTHING})
        return [fragment for page in pages for fragment in page["Fragments"]]


def http_put(base_url: str, body, **options) -> list[dict]:
    """PutMedia's acknowledgements (or its error as one) from the server at ``base_url``."""
    try:
        return put_media_bytes(base_url, body, **options).acks
    except PutMediaError as error:
        return [{"HttpStatus": error.status, "ErrorType": error.error_type, "Message": error.message}]


def both_modes(request, **defaults):
    """The body of a fixture with ``params=["server", "mock"]``: a Driver over HTTP to the
    session's server (reset by the ``server`` fixture), then one in process."""
    if request.param == "server":
        yield Driver.over_http(request.getfixturevalue("server"), **defaults)
        return
    driver = Driver.in_process(**defaults)
    try:
        yield driver
    finally:
        driver.close()


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
            report = self.next_report()
            if report is not None:
                seen.append(report)
        return seen

    def next_report(self, timeout: float = 0.5):
        """The page's next report, or None after ``timeout`` s; fails if Chromium has exited."""
        try:
            return self.reports.get(timeout=timeout)
        except queue.Empty:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stderr.read().decode(errors="replace")[-3000:]) from None
            return None

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

    def __init__(self, url: str, width: int = 1280, height: int = 900):
        from websockets.sync.client import connect

        self.profile = tempfile.mkdtemp(prefix="greenroom-chromium-")
        self.process = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={self.profile}", "--autoplay-policy=no-user-gesture-required",
             f"--window-size={width},{height}", "--remote-debugging-port=0", url],
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
