"""Find the operation a request is for: host prefix, then signing name, then URI templates."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

from . import models, quirks
from .errors import ServiceError


@dataclass(frozen=True)
class Route:
    service: str
    operation: OperationModel
    method: str
    path_template: str            # the requestUri's path, e.g. /streamgroups/{Identifier}
    path_regex: str               # what `path` compiles
    labels: tuple[str, ...]       # member names, in the order of the pattern's groups
    required_query: tuple[tuple[str, str | None], ...]
    specificity: tuple[int, int]  # (literal characters, -greedy labels): more wins

    @functools.cached_property
    def path(self) -> re.Pattern:
        # Compiled when first tried, not at startup: most routes are found by a dict lookup.
        return re.compile(self.path_regex)


@dataclass(frozen=True)
class Match:
    service: str
    operation: OperationModel
    uri_params: dict[str, str]


def compile_route(service: str, operation: OperationModel) -> Route:
    uri = operation.http["requestUri"]
    path_template, _, query_template = uri.partition("?")
    pattern, labels, literal_chars, greedy = "", [], 0, 0
    for piece in re.split(r"(\{[^}]+\})", path_template):
        if piece.startswith("{"):
            name = piece[1:-1]
            if name.endswith("+"):
                labels.append(name[:-1])
                pattern += "(.+)"
                greedy += 1
            else:
                labels.append(name)
                pattern += "([^/]+)"
        elif piece:
            pattern += re.escape(piece)
            literal_chars += len(piece)
    # botocore drops a trailing slash only when it renders an empty greedy label; accept both.
    required_query = []
    for pair in filter(None, query_template.split("&")):
        key, sep, value = pair.partition("=")
        required_query.append((key, value if sep else None))
    members_by_location_name = {
        member.serialization.get("name", name): name
        for name, member in (operation.input_shape.members.items() if operation.input_shape else [])
        if member.serialization.get("location") == "uri"
    }
    return Route(
        service=service,
        operation=operation,
        method=operation.http["method"].upper(),
        path_template=path_template,
        path_regex=pattern + "/?",
        labels=tuple(members_by_location_name.get(label, label) for label in labels),
        required_query=tuple(required_query),
        specificity=(literal_chars, -greedy),
    )


def _first_segment(route: Route) -> str | None:
    """The literal first segment of a route's path ("streamgroups" of /streamgroups/{Id}), or
    None when a label starts it."""
    first = route.path_template.split("/", 2)[1] if route.path_template.startswith("/") else ""
    return None if "{" in first else first


_RESOLVED_KEPT = 1024  # [inferred] more than the fixed paths of every model greenroom ships


class Router:
    def __init__(self, services: tuple[str, ...] = models.EMULATED_SERVICES,
                 recognised_only: tuple[str, ...] = models.RECOGNISED_ONLY):
        self.emulated = set(services)
        self.fixed_paths: dict[tuple[str, str, str], Route] = {}
        self.routes_by_service: dict[str, list[Route]] = {}
        self.by_first_segment: dict[tuple[str, str, str], list[Route]] = {}
        self.unanchored: dict[tuple[str, str], list[Route]] = {}   # first segment a label
        self.services_by_endpoint_prefix: dict[str, list[str]] = {}
        self.services_by_signing_name: dict[str, list[str]] = {}
        self.all_services = tuple(services + recognised_only)
        for name in services + recognised_only:
            model: ServiceModel = models.service_model(name)
            self.routes_by_service[name] = [
                compile_route(name, model.operation_model(op)) for op in model.operation_names
            ]
            # Most operations have a fixed path (POST /CreateStage): find those by lookup.
            for route in self.routes_by_service[name]:
                if not route.labels and not route.required_query:
                    self.fixed_paths[(name, route.method, route.path_template.rstrip("/") or "/")] = route
            # The rest by the request's first path segment: only routes whose template starts
            # with that literal segment, or with a label, are tried (in model order).
            for method in {route.method for route in self.routes_by_service[name]}:
                of_method = [route for route in self.routes_by_service[name] if route.method == method]
                self.unanchored[(name, method)] = [route for route in of_method if _first_segment(route) is None]
                for first in {_first_segment(route) for route in of_method} - {None}:
                    self.by_first_segment[(name, method, first)] = [
                        route for route in of_method if _first_segment(route) in (first, None)]
            self.services_by_endpoint_prefix.setdefault(model.metadata["endpointPrefix"], []).append(name)
            self.services_by_signing_name.setdefault(models.signing_name(model), []).append(name)
        # What a path no label or query decides resolved to, by (candidate services, method,
        # path): the same answer whatever the request's query, host or headers.
        self._resolved: dict[tuple[tuple[str, ...], str, str], Match] = {}

    def candidate_services(self, host: str, signing_name: str | None) -> list[str]:
        prefix = host.split(".", 1)[0].lower()
        if "." in host and prefix in self.services_by_endpoint_prefix:
            return self.services_by_endpoint_prefix[prefix]
        if signing_name:
            if signing_name not in self.services_by_signing_name:
                raise ServiceError(
                    "UnrecognizedService",
                    f"greenroom does not emulate the '{signing_name}' service; it emulates "
                    + ", ".join(sorted(self.emulated)),
                    status=501,
                )
            return self.services_by_signing_name[signing_name]
        return self.all_services

    def resolve(self, method: str, raw_path: str, query: dict[str, list[str]], host: str,
                signing_name: str | None, headers=None) -> Match:
        candidates = self.candidate_services(host, signing_name)
        key = (tuple(candidates), method, raw_path)
        found = self._resolved.get(key)
        if found is not None:
            return found
        matches = []
        query_decides = False  # a route that asks for query parameters matched the path
        first = raw_path.split("/", 2)[1] if raw_path.startswith("/") else None
        for service in candidates:
            fixed = self.fixed_paths.get((service, method, raw_path.rstrip("/") or "/"))
            if fixed is not None:
                matches.append((fixed, {}))  # nothing with labels is more specific
                continue
            tried = self.by_first_segment.get((service, method, first))
            if tried is None:
                tried = self.unanchored.get((service, method), ())
            for route in tried:
                found = route.path.fullmatch(raw_path)
                if not found:
                    continue
                query_decides = query_decides or bool(route.required_query)
                if not all(key in query and (value is None or value in query[key])
                           for key, value in route.required_query):
                    continue
                uri_params = {label: unquote(value) for label, value in zip(route.labels, found.groups())}
                matches.append((route, uri_params))
        match = self._best(matches, candidates, method, raw_path, signing_name, headers)
        if len(matches) == 1 and not match.uri_params and not query_decides \
                and not raw_path.endswith("/") and len(self._resolved) < _RESOLVED_KEPT:
            self._resolved[key] = match
        return match

    def _best(self, matches: list, candidates, method: str, raw_path: str, signing_name: str | None,
              headers) -> Match:
        """The most specific of the routes that matched (an error when none did)."""
        if not matches:
            if signing_name or len(candidates) < len(self.routes_by_service):
                raise not_in_models(candidates, method, raw_path, headers)
            raise ServiceError(
                "UnknownOperationException", f"No operation matches {method} {raw_path}", status=404
            )
        best = max(route.specificity for route, _ in matches)
        matches = [(route, params) for route, params in matches if route.specificity == best]
        if len(matches) > 1:
            matches = [self._claimed(matches)]
        route, uri_params = matches[0]
        if route.service not in self.emulated:
            raise ServiceError(
                "UnrecognizedService",
                f"greenroom does not emulate the '{route.service}' service "
                f"(operation {route.operation.name})",
                status=501,
            )
        return Match(route.service, route.operation, uri_params)

    def _claimed(self, matches):
        """Equally specific routes of several services (classic IVS and IVS Real-Time tag
        routes): the one a service claims (protocol.quirks), else the emulated one."""
        undecided = []
        for route, uri_params in matches:
            claimed = quirks.claim(route.service, uri_params)
            if claimed:
                return route, uri_params
            if claimed is None:
                undecided.append((route, uri_params))
        undecided = undecided or matches
        return next((m for m in undecided if m[0].service in self.emulated), undecided[0])


# The AWS CLI names the command it runs in its User-Agent: "md/command#<service>.<operation>"
# (older releases: "command/<service>.<operation>").
_CLI_COMMAND = re.compile(r"(?:^|\s)(?:md/)?command[/#]([\w-]+)\.([\w-]+)")


def not_in_models(services: list[str], method: str, raw_path: str, headers=None) -> ServiceError:
    """A signed request for an emulated service that no operation of greenroom's models matches:
    most likely an operation a client newer than those models knows. 501 naming the operation
    where the request tells it (X-Amz-Target, the AWS CLI's User-Agent), never a bare 404."""
    headers = headers or {}
    service = services[0]
    operation = None
    target = headers.get("x-amz-target")
    if target:
        operation = target.rsplit(".", 1)[-1]
    else:
        command = _CLI_COMMAND.search(headers.get("user-agent") or "")
        if command:
            operation = command.group(2)
    if operation:
        return operation_not_in_models(service, operation)
    return ServiceError(
        "NotImplemented",
        f"greenroom does not implement the {service} operation at {method} {raw_path}: no operation "
        "of greenroom's models matches it (your client's models may be newer)",
        status=501,
    )


def operation_not_in_models(service: str, operation: str) -> ServiceError:
    return ServiceError(
        "NotImplemented",
        f"greenroom does not implement {service} {operation}: the operation is not in greenroom's "
        "models (your client's models are newer)",
        status=501,
    )
