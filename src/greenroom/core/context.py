"""What a handler gets besides its request: who is calling, where, when, and the store."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy.engine import Connection

from . import pagination, public_url
from .ids import arn
from .pagination import Page
from .store import Resources

if TYPE_CHECKING:
    from ..emulator import Emulator


class RequestContext:
    __slots__ = ("emulator", "service", "operation", "account", "region", "request_id", "now", "conn",
                 "_base_url", "_resources")

    def __init__(self, emulator: "Emulator", service: str, operation: str, account: str, region: str,
                 request_id: str, now: float, conn: Connection, base_url: str | Callable[[], str] = ""):
        self.emulator = emulator
        self.service = service
        self.operation = operation
        self.account = account
        self.region = region
        self.request_id = request_id
        self.now = now          # epoch seconds, fixed for the whole request
        self.conn = conn        # the request's transaction
        self._base_url = base_url
        self._resources: Resources | None = None

    @property
    def base_url(self) -> str:
        """Where URLs handed to this caller point (core.public_url); given as a function, it is
        worked out when first asked (most requests hand out no URL)."""
        if callable(self._base_url):
            self._base_url = self._base_url()
        return self._base_url

    @property
    def resources(self) -> Resources:
        # One per request: it holds nothing but the request's connection, account and region.
        if self._resources is None:
            self._resources = Resources(self.conn, self.account, self.region, self.emulator.scheduler)
        return self._resources

    @property
    def ids(self):
        return self.emulator.ids

    def public_url(self, path: str = "", *, websocket: bool = False) -> str:
        """A URL greenroom hands out (an endpoint, a session URL): ``path`` on this caller's
        public base URL (core.public_url), in its ws/wss form for ``websocket=True``."""
        url = self.base_url + path
        return public_url.websocket(url) if websocket else url

    def arn(self, service: str, resource: str) -> str:
        return arn(service, self.region, self.account, resource)

    def delay(self, name: str) -> float:
        """A named, configurable lifecycle delay in seconds (core.lifecycle.Delays)."""
        return self.emulator.delays[name]

    def schedule(self, delay: str, kind: str, resource_id: str, action: str = "update", **args: Any) -> float:
        """Run ``action`` on a resource after the named, configurable delay; returns when."""
        return self.schedule_at(self.now + self.delay(delay), kind, resource_id, action, **args)

    def schedule_at(self, due_at: float, kind: str, resource_id: str, action: str = "update", **args: Any) -> float:
        """Run ``action`` on a resource at ``due_at`` (epoch seconds), e.g. a timer a request sets."""
        self.resources.schedule_at(due_at, kind, resource_id, action, **args)
        return due_at

    def list_answer(self, kind: str, req: dict, *, default_size: int | None = None, page_size: int | None = None,
                    view: Callable[[dict], Any] = dict, parent: str | None = None, where: dict | None = None,
                    id_prefix: str | None = None, keep: Callable[[dict], bool] | None = None,
                    filters: dict | None = None, newest_first: bool = False, equal: dict | None = None) -> dict:
        """The answer of a list operation over a kind's documents (under ``parent``, matching
        ``where``, ids starting with ``id_prefix``, and ``keep`` for what the store cannot filter), each shown
        by ``view``. Its token, size and result members are the model's paginator's (the size
        asked, else ``default_size``; or ``page_size`` where the service decides it); the token
        is bound to ``filters`` (the request's filter members). ``equal``: optional filters of the
        request, field -> value, each applied unless None (the token is bound to them too)."""
        if equal:
            where = {**(where or {}), **{name: value for name, value in equal.items() if value is not None}} or None
            filters = {**(filters or {}), **equal}
        names = pagination.paginator(self.service, self.operation)
        if page_size is None:
            page_size = req.get(names.get("limit_key", "")) or default_size

        def fetch(after, limit):
            if keep is None:
                found = self.resources.list(kind, parent=parent, where=where, id_prefix=id_prefix,
                                            after=after, limit=limit, newest_first=newest_first)
            else:
                found = self.resources.scan(kind, parent=parent, where=where, after=after, limit=limit, keep=keep)
            return [(pk, view(document)) for pk, document in found]

        page = self.page(filters=filters or {}, token=req.get(names["input_token"]), page_size=page_size, fetch=fetch)
        return {names["result_key"]: page.items, names["output_token"]: page.next_token}

    def page(self, *, filters: dict, token: str | None, page_size: int,
             fetch: Callable[[Any, int], list], key: Callable[[Any], Any] | None = None) -> Page:
        """A page of a list operation; the token is bound to this operation, scope and filters
        (``fetch`` and ``key``: see Paginator.page)."""
        query = {"op": f"{self.service}:{self.operation}", "account": self.account,
                 "region": self.region, **filters}
        return self.emulator.paginator.page(
            query=query, token=token, page_size=page_size, fetch=fetch,
            error_code=self.emulator.validation_error_code(self.service), key=key,
        )
