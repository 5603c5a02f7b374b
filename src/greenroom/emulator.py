"""The emulator: one ``handle()`` for the network server and the in-process mock alike.

HTTP request -> route -> parse -> validate -> context -> handler -> serialize -> HTTP response.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote

from .core import lifecycle, notify, public_url, routes
from .core.clock import Clock
from .core.context import RequestContext
from .core.errors import NotImplementedOperation, ServiceError
from .core.ids import Ids, check_region
from .core.objectstore import ObjectStore
from .core.operations import HANDLERS, READ_ONLY, coverage
from .core.pagination import Paginator
from .core.requestlog import RequestLog
from .core.public_url import PublicUrls
from .core.signatures import SignatureVerifier, load_credentials
from .core.store import Store
from .core.stun import StunServer
from .protocol import models, restjson
from .protocol.http import HttpRequest, HttpResponse
from .protocol.routing import Router
from .protocol.validation import constraint_problem, validate, validation_message

log = logging.getLogger("greenroom")

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"

# "Credential=AKID/20260101/us-east-1/ivs/aws4_request" in a header or presigned query.
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_QUERY_CREDENTIAL = re.compile(r"(?:^|&)X-Amz-Credential=([^&]+)")


@dataclass(frozen=True)
class Caller:
    account: str
    region: str
    signing_name: str | None


def identify(request: HttpRequest, default_account: str) -> Caller:
    """Account from the access key id (a 12-digit key id *is* the account), region and
    signing name from the SigV4 credential scope."""
    found = _CREDENTIAL.search(request.headers.get("authorization", ""))
    if found is None:
        presigned = _QUERY_CREDENTIAL.search(request.query_string)
        if presigned:
            from urllib.parse import unquote
            found = _CREDENTIAL.search("Credential=" + unquote(presigned.group(1)))
    if found is None:
        return Caller(default_account, DEFAULT_REGION, None)
    access_key, region, signing_name = found.groups()
    account = access_key if len(access_key) == 12 and access_key.isdigit() else default_account
    return Caller(account, region, signing_name)



class Emulator:
    def __init__(self, db_url: str | None = None, *, default_account: str = DEFAULT_ACCOUNT,
                 seed: int | None = None, clock: Clock | None = None,
                 public_urls: PublicUrls | None = None, credentials=None, admin_token: str | None = None,
                 objects: ObjectStore | None = None):
        """``credentials``: verify SigV4 on every AWS API request against these keys (a
        credentials file's path or its parsed document; see core.signatures).
        ``admin_token``: required (``Authorization: Bearer``) by /_greenroom/ requests that
        change state. ``objects``: the S3 stand-in services write recordings to (default: a
        temporary directory)."""
        from . import admin, console, services  # noqa: F401  (importing registers their routes)
        services.load_all()
        self.store = Store(db_url)
        self.clock = clock or Clock()
        self.ids = Ids(seed)
        self.delays = lifecycle.Delays()
        services.declare_delays(self.delays)
        self.objects = objects or ObjectStore()          # what services write to customers' S3 buckets
        self.scheduler = lifecycle.Scheduler(shared_store=self.store.shared, delays=self.delays,
                                             objects=self.objects)
        self.router = Router()
        self.paginator = Paginator(bytes.fromhex(
            self.store.setting("pagination_key", lambda: secrets.token_hex(32))
        ))
        self.default_account = default_account
        self.public_urls = public_urls or PublicUrls()  # the one source of URLs handed out
        # The last requests the HTTP server answered (server.py); the request log and the clock
        # wake live readers (console, `greenroom logs`) through this process's notifier.
        notifier = self.store.notifier  # the store's for its whole life
        self.requests = RequestLog(on_record=lambda: notifier.deliver(notify.REQUESTS))
        self.clock.watch(lambda: self.store.notifier.deliver(notify.CLOCK))
        self.verifier = SignatureVerifier(load_credentials(credentials)) if credentials is not None else None
        self.admin_token = admin_token
        self._applying = threading.Lock()
        self.stun: StunServer | None = None             # started by the server, or on first use

    def stun_server(self) -> StunServer:
        """The STUN server (UDP) handed out as an ICE server; started on loopback on first use
        unless the server started one on its own address."""
        if self.stun is None:
            self.stun = StunServer().start()
        return self.stun

    # ------------------------------------------------------------------ admin
    def reset(self) -> None:
        self.store.reset()
        self.scheduler.forget()
        self.delays.reset()

    def apply_due_transitions(self) -> int:
        now = self.clock.now()
        if self.scheduler.known_idle_until(now):
            return 0
        # A shared store cannot be known idle: ask with one statement outside any transaction,
        # and open the applying transaction (BEGIN, SELECT ... FOR UPDATE, COMMIT) only when
        # something is due. What another transaction is applying is still seen as due.
        if self.store.shared and not self.store.outside_transaction(
                lambda conn: self.scheduler.anything_due(conn, now)):
            return 0
        def apply() -> int:
            with self.store.transaction() as conn:
                return self.scheduler.apply_due(conn, now)
        # One application at a time in this process: requests run on worker threads beside the
        # background tick, and a request must not skip (SKIP LOCKED) the transitions the tick is
        # still applying and then read the state from before them.
        with self._applying:
            return self.store.run(apply)

    def health(self) -> dict:
        return {"status": "ok", "store": "memory" if self.store.url is None else self.store.dialect,
                # Requests run again because another process wrote first (core.store.Store.run).
                "conflicts_retried": self.store.retries, "services": {
            service: {"implemented": report["implemented"], "total": report["total"]}
            for service, report in coverage().items()
        }, "stun": {"port": self.stun.port if self.stun else None},
            # Where services write customers' S3 objects (a directory, or --s3-endpoint-url).
            "s3": self.objects.describe()}

    def check_admin_token(self, request: HttpRequest) -> None:
        """With an admin token, /_greenroom/ requests that may change state (any method but
        GET, HEAD and OPTIONS: reset, clock, delays, faults, stand-ins) must carry it."""
        if self.admin_token is None or request.method in ("GET", "HEAD", "OPTIONS") or \
                not request.raw_path.startswith("/_greenroom/"):
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), self.admin_token.encode()):
            raise routes.HttpError(401, "This admin API request needs the server's admin token "
                                        "(Authorization: Bearer <token>, see --admin-token)")

    def verified_caller(self, request: HttpRequest, body: bytes | None) -> Caller:
        """The caller of a request whose SigV4 signature checks out (ServiceError otherwise);
        ``body`` None for a streaming request, whose payload must be unsigned."""
        verified = self.verifier.verify(request, body)
        return Caller(verified.account, verified.region, verified.signing_name)

    def identify(self, request: HttpRequest) -> Caller:
        """Who sent a request: with verification on, the account its (already verified) key
        belongs to; otherwise as ``identify`` reads it."""
        caller = identify(request, self.default_account)
        if self.verifier is not None:
            found = _CREDENTIAL.search(request.headers.get("authorization", "")) or _CREDENTIAL.search(
                "Credential=" + unquote(dict(_query_items(request.query_string)).get("X-Amz-Credential", "")))
            account = self.verifier.caller_account(found.group(1)) if found else None
            caller = Caller(account or caller.account, caller.region, caller.signing_name)
        return caller

    @functools.cache
    def validation_error_code(self, service: str) -> str:
        return restjson.validation_error_code(models.service_model(service))

    # ------------------------------------------------------------------ requests
    def context(self, service: str, operation: str, account: str, region: str,
                base_url: str | Callable[[], str] = "", request_id: str | None = None, *,
                read_only: bool = False) -> "_ContextScope":
        """``with emulator.context(...) as ctx``: a request's RequestContext in its own transaction
        (``read_only``: without one, writes refused), after due transitions were applied; for
        model operations and for the routes no model describes alike. ``base_url``: the
        caller's (core.public_url), or a function giving it when a handler first asks."""
        return _ContextScope(self, service, operation, account, region, base_url, request_id, read_only)

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        if request.public_urls is None:
            request.public_urls = self.public_urls
        service, operation_name = None, None
        try:
            # GET / is the admin root for a person; signed, it is a client's (S3's ListBuckets...).
            signed = request.headers.get("authorization") is not None or "X-Amz-Credential" in request.query_string
            route = routes.find(request.method, request.raw_path) if request.raw_path != "/" or not signed else None
            if route is not None:
                self.check_admin_token(request)
                if "%00" in request.raw_path or "%00" in request.query_string:
                    raise routes.HttpError(400, "The path and query string must not contain NUL (%00)")
                service, operation_name = routes.label(route[0]).split(" ")
                response = self._call_route(request, *route)
                status, headers, body = response.status, response.headers, response.body
            else:
                caller = self.verified_caller(request, request.body) if self.verifier else \
                    identify(request, self.default_account)
                query = request.query()
                match = self.router.resolve(request.method, request.raw_path, query,
                                            request.host, caller.signing_name, request.headers)
                service, operation_name = match.service, match.operation.name
                status, headers, body = self._call(request, query, caller, match, request_id)
        except ServiceError as error:
            status, headers, body = restjson.serialize_error(
                models.service_model(service) if service else None, error)
        except routes.HttpError as error:
            status, headers, body = error.status, {"Content-Type": "application/json"}, \
                restjson.dump_json({"message": error.message})
        except Exception:
            # Whatever failed (parsing, routing, serializing): answered in the service's shape.
            log.exception("%s %s failed (request %s)", service or request.method,
                          operation_name or request.raw_path[:200], request_id)
            status, headers, body = internal_error(service, operation_name, request_id)
        headers["x-amzn-RequestId"] = request_id
        return HttpResponse(status, headers, body, f"{service or '-'} {operation_name or '-'}")

    def _call_route(self, request: HttpRequest, route: routes.HttpRoute, params: dict) -> HttpResponse:
        try:
            # Run again from the start if the store refused it for a concurrent transaction.
            result = self.store.run(lambda: route.handler(self, request, **params))
        except (ServiceError, routes.HttpError):
            raise
        except Exception:
            log.exception("route %s %s failed", route.method, route.template)
            raise routes.HttpError(500, f"Internal error in greenroom at {route.method} {route.template}") from None
        if isinstance(result, HttpResponse):
            return result
        return HttpResponse(200, {"Content-Type": "application/json"}, restjson.dump_json(result))

    def _call(self, request: HttpRequest, query: dict[str, list[str]], caller: Caller, match,
              request_id: str):
        service, operation = match.service, match.operation
        params, unreadable = restjson.parse_request(
            operation, match.uri_params, query, request.headers, request.body)
        problems = validate(operation.input_shape, params) if operation.input_shape is not None else []
        if unreadable:  # named once, as unreadable: not again by what validation makes of them
            unreadable_members = {member for member, _, _ in unreadable}
            problems = [constraint_problem(text, member, f"Member must be of type {kind}")
                        for member, text, kind in unreadable] + \
                [p for p in problems if _problem_member(p) not in unreadable_members]
        if problems:
            raise ServiceError(self.validation_error_code(service), validation_message(problems))
        handler = HANDLERS.get((service, operation.name))
        if handler is None:
            raise NotImplementedOperation(service, operation.name)
        read_only = (service, operation.name) in READ_ONLY
        # Worked out only if the handler hands out a URL (most never do).
        base_url = functools.partial(public_url.base_url, request)

        def attempt() -> dict:
            with self.context(service, operation.name, caller.account, caller.region,
                              base_url, request_id, read_only=read_only) as ctx:
                return handler(ctx, params) or {}

        try:
            # Run again from the start if the store refused it for a concurrent transaction.
            output = self.store.run(attempt)
            return restjson.serialize_output(operation, output)
        except ServiceError:
            raise
        except Exception:
            log.exception("handler %s %s failed (request %s)", service, operation.name, request_id)
            raise ServiceError(
                restjson.internal_error_code(models.service_model(service)),
                f"Internal error in greenroom while handling {operation.name} (request {request_id})",
                status=500,
            ) from None


class _ContextScope:
    """``Emulator.context``'s context manager: a class rather than a generator, as every request
    enters one (a generator's context manager costs more than the rest of it)."""

    __slots__ = ("emulator", "args", "base_url", "request_id", "read_only", "store_scope")

    def __init__(self, emulator: Emulator, service: str, operation: str, account: str, region: str,
                 base_url, request_id: str | None, read_only: bool):
        self.emulator = emulator
        self.args = (service, operation, account, region)
        self.base_url = base_url
        self.request_id = request_id
        self.read_only = read_only

    def __enter__(self) -> RequestContext:
        emulator = self.emulator
        service, operation, account, region = self.args
        check_region(region)
        now = emulator.clock.now()
        # Transitions are events in time: they apply whatever this request's outcome.
        emulator.apply_due_transitions()
        self.store_scope = emulator.store.reading() if self.read_only else emulator.store.transaction()
        conn = self.store_scope.__enter__()
        try:
            return RequestContext(emulator, service, operation, account, region,
                                  self.request_id or new_request_id(), now, conn, self.base_url)
        except BaseException as error:
            self.store_scope.__exit__(type(error), error, error.__traceback__)
            raise

    def __exit__(self, *exc_info):
        return self.store_scope.__exit__(*exc_info)


def new_request_id() -> str:
    """A request id as AWS's look (a random UUID, version 4), without the uuid module's work."""
    digits = os.urandom(16).hex()
    return (f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_UUID_VARIANT[int(digits[16], 16) & 3]}"
            f"{digits[17:20]}-{digits[20:]}")


_UUID_VARIANT = "89ab"  # RFC 4122's variant: the top two bits of the clock_seq byte are 10


def internal_error(service: str | None, operation_name: str | None, request_id: str):
    """(status, headers, body) of a 500 in the service's internal-error shape (JSON without one)."""
    message = f"Internal error in greenroom while handling {operation_name or 'the request'} (request {request_id})"
    service_model = models.service_model(service) if service else None
    code = restjson.internal_error_code(service_model) if service_model is not None else "InternalFailure"
    return restjson.serialize_error(service_model, ServiceError(code, message, status=500))


def _query_items(query_string: str):
    return (item.partition("=")[::2] for item in query_string.split("&") if item)


def _problem_member(problem: str) -> str:
    """The top-level member a validation problem is about ("Value ... at 'a.b' ...")."""
    found = re.search(r" at '([^'.]*)", problem)
    return found.group(1) if found else ""
