"""Helpers shared by every test directory (``from support import ...``; tests/ is on sys.path
through the root conftest): boto3 clients that find greenroom's shipped models, and
``greenroom serve`` subprocesses."""
from __future__ import annotations

import collections
import subprocess
import sys
import threading
from dataclasses import dataclass, field

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


@dataclass
class RunningServer:
    process: subprocess.Popen
    base_url: str = ""
    # What the server printed, read continuously: a full pipe would block the server.
    output: collections.deque = field(default_factory=lambda: collections.deque(maxlen=500))
    drainer: threading.Thread | None = None

    def client(self, service: str, **kwargs):
        return make_client(service, self.base_url, **kwargs)

    def admin(self, method: str, path: str, json=None, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.base_url}/_greenroom/{path}", json=json, timeout=10, **kwargs)

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
    server.base_url = first_line.split("listening on ", 1)[1].split()[0]
    server.output.append(first_line)

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

    def __call__(self, *args: str) -> RunningServer:
        return self.many([args])[0]

    def many(self, arg_lists) -> list[RunningServer]:
        launched = [RunningServer(subprocess.Popen(
            [sys.executable, "-m", "greenroom.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )) for args in arg_lists]
        self.servers += launched
        return [_wait_listening(server) for server in launched]

    def close(self) -> None:
        for server in self.servers:
            server.stop(kill=True)
