"""In-process greenroom: boto3/botocore clients created inside ``greenroom.mock()`` are answered
by a fresh in-memory emulator through botocore's ``before-send`` event. No sockets; nothing is
ever sent to AWS (requests for services greenroom does not emulate are refused).
"""
from __future__ import annotations

import functools
import os
import threading
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import AWSResponse

from .core.public_url import IN_PROCESS
from .emulator import Emulator
from .protocol.http import HttpRequest
from .protocol import models, restjson
from .protocol.models import MODELS_DIR
from .protocol.routing import operation_not_in_models

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "greenroomtesting",
    "AWS_SECRET_ACCESS_KEY": "greenroomtesting",
    "AWS_DEFAULT_REGION": "us-east-1",
}

_patch_lock = threading.Lock()


class NotEmulatedError(Exception):
    """A client inside the mock called a service greenroom does not emulate."""


class _RawBody:
    """What botocore reads a response body from (``stream()`` and ``read()``, like urllib3's)."""

    def __init__(self, body):
        if isinstance(body, (bytes, bytearray)):
            self._whole: bytes | None = bytes(body)  # handed out as it is when read whole
            self._chunks = iter(())
        else:
            self._whole = None
            self._chunks = iter(body)
        self._buffer = bytearray()

    def read(self, amt=None, decode_content=True) -> bytes:
        if self._whole is not None:
            whole, self._whole = self._whole, None
            if amt is None or len(whole) <= amt:
                return whole
            self._buffer += whole
        while amt is None or len(self._buffer) < amt:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        size = len(self._buffer) if amt is None else amt
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def stream(self, amt=65536, decode_content=True):
        while chunk := self.read(amt):
            yield chunk


_UNREAD = object()


class _BotocoreHeaders:
    """botocore's request headers as the engine reads them: by lower-case name, as text.
    (Copying them into a dict costs more than the rest of a request's routing.)"""

    def __init__(self, headers):
        self._headers = headers  # case-insensitive already; values are bytes or str
        self._read: dict[str, str | None] = {}  # what was asked (a header is read more than once)

    def get(self, name: str, default=None):
        value = self._read.get(name, _UNREAD)
        if value is _UNREAD:
            try:
                value = self._headers[name]
            except KeyError:
                value = None
            else:
                value = value.decode("utf-8") if isinstance(value, bytes) else value
            self._read[name] = value
        return default if value is None else value

    def items(self):
        return ((name.lower(), self.get(name)) for name in self._headers)


def _request_body(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else data
    return bytes(body)


class MockGreenroom:
    """A fresh in-memory greenroom for the clients created while it is active.

    Use as a context manager (``with greenroom.mock() as gr:``) or a decorator. ``client(name)``
    makes a boto3 client; ``clock``, ``delays``, ``reset()`` steer the emulator.
    """

    def __init__(self, *, seed: int | None = None, default_account: str | None = None,
                 db_url: str | None = None, credentials=None):
        self._db_url = db_url  # None: a fresh in-memory store
        # credentials: verify every request's SigV4 signature against these keys (a credentials
        # file's path or its parsed document, see greenroom.core.signatures).
        self._options = {"seed": seed, "credentials": credentials}
        if default_account:
            self._options["default_account"] = default_account
        self.emulator: Emulator | None = None
        self._saved_create_client = None
        self._saved_environment: dict[str, str | None] = {}

    # ------------------------------------------------------------------ steering
    @property
    def clock(self):
        return self.emulator.clock

    @property
    def delays(self):
        return self.emulator.delays

    def reset(self) -> None:
        self.emulator.reset()

    def client(self, service_name: str, **kwargs):
        import boto3  # the "boto3" extra; any client created some other way is answered too
        kwargs.setdefault("region_name", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        return boto3.session.Session().client(service_name, **kwargs)

    # ------------------------------------------------------------------ activation
    def start(self) -> "MockGreenroom":
        with _patch_lock:
            if self._saved_create_client is not None:
                raise RuntimeError("this greenroom mock is already active")
            self.emulator = Emulator(self._db_url, public_urls=IN_PROCESS, **self._options)
            for name, value in FAKE_CREDENTIALS.items():
                self._saved_environment[name] = os.environ.get(name)
                os.environ.setdefault(name, value)
            self._saved_create_client = botocore.session.Session.create_client
            original, answer = self._saved_create_client, self._answer

            @functools.wraps(original)
            def create_client(session, *args, **kwargs):
                _make_models_loadable(session)
                client = original(session, *args, **kwargs)
                client.meta.events.register_first("before-send", functools.partial(
                    answer, service_name=client.meta.service_model.service_name))
                return client

            botocore.session.Session.create_client = create_client
        return self

    def stop(self) -> None:
        with _patch_lock:
            if self._saved_create_client is None:
                return
            botocore.session.Session.create_client = self._saved_create_client
            self._saved_create_client = None
            self.emulator.store.close()
            if self.emulator.stun is not None:   # started by a GetIceServerConfig
                self.emulator.stun.stop()
                self.emulator.stun = None
            for name, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_environment.clear()

    def __enter__(self) -> "MockGreenroom":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self:
                return function(*args, **kwargs)

        return wrapper

    def _answer(self, request, service_name: str = "", event_name: str = "", **_) -> AWSResponse:
        url = urlsplit(request.url)
        operation = event_name.rsplit(".", 1)[-1]
        if service_name in models.EMULATED_SERVICES and operation not in _operation_names(service_name):
            # The client's model is newer than greenroom's: its event names the operation.
            status, headers, body = restjson.serialize_error(
                models.service_model(service_name), operation_not_in_models(service_name, operation))
            headers["Content-Length"] = str(len(body))
            return AWSResponse(request.url, status, headers, _RawBody(body))
        response = self.emulator.handle(HttpRequest(
            method=request.method.upper(),
            raw_path=url.path or "/",
            query_string=url.query,
            headers=_BotocoreHeaders(request.headers),
            body=_request_body(request.body),
            scheme=url.scheme,
            host=url.netloc,
        ))
        if response.headers.get("x-amzn-ErrorType") == "UnrecognizedService":
            # The caller's protocol may not be rest-json (S3 speaks XML): refuse in Python.
            raise NotEmulatedError(response.json_body()["message"])
        # AWSResponse makes its own HeadersDict of these (a fresh dict of this response alone).
        response_headers = response.headers
        if isinstance(response.body, (bytes, bytearray)):
            response_headers["Content-Length"] = str(len(response.body))
        return AWSResponse(request.url, response.status, response_headers, _RawBody(response.body))


@functools.cache
def _operation_names(service_name: str) -> frozenset[str]:
    return frozenset(models.service_model(service_name).operation_names)


def _make_models_loadable(session: botocore.session.Session) -> None:
    """Let this session's loader find the models greenroom ships: those its botocore lacks
    (nimble; every one for an old release). Its own models stay first [inferred: a user's
    client keeps the models of the botocore they chose; operations greenroom's models lack
    answer 501 naming them]."""
    loader = session.get_component("data_loader")
    if str(MODELS_DIR) not in loader.search_paths:
        loader.search_paths.append(str(MODELS_DIR))
        # The loader memoises its list of known services; it must be read again.
        for key in [key for key in loader._cache if key[0] == "list_available_services"]:
            del loader._cache[key]
