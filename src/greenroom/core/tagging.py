"""Tags, one set of rules for every service: at most the number a service's model allows on
TagResource (50, AWS's per-resource limit, where a model states none [inferred]), keys of 1 to
128 characters, no key with the reserved ``aws:`` prefix. Each service names its own errors."""
from __future__ import annotations

from typing import Callable, Iterable

from ..protocol import models
from .context import RequestContext
from .errors import ServiceError
from .operations import operation
from .records import TAGS

MAX_TAGS = 50


class Tagging:
    """``Tagging("ivs-realtime", invalid=errors.Validation)``; ``too_many`` defaults to ``invalid``
    (Kinesis Video has TagsPerResourceExceededLimitException)."""

    def __init__(self, service: str, *, invalid: Callable[[str], ServiceError],
                 too_many: Callable[[str], ServiceError] | None = None, operation: str = "TagResource"):
        self.service = service
        self.invalid = invalid
        self.too_many = too_many or invalid
        self.limit = MAX_TAGS
        for member in models.service_model(service).operation_model(operation).input_shape.members.values():
            if member.type_name in ("map", "list") and "max" in member.metadata:
                self.limit = member.metadata["max"]

    def check_keys(self, keys: Iterable[str]) -> None:
        for key in keys:
            if not 1 <= len(key) <= 128:
                raise self.invalid(f"Tag key '{key}' must be 1 to 128 characters long.")
            if key.lower().startswith("aws:"):
                raise self.invalid(f"Tag key '{key}' uses the reserved prefix aws:.")

    def check(self, tags: dict | None) -> dict:
        """The tags a new resource is created with, checked."""
        tags = dict(tags or {})
        self.check_keys(tags)
        self._check_count(tags)
        return tags

    def merge(self, existing: dict | None, added: dict) -> dict:
        """Existing tags with ``added`` applied (TagResource)."""
        self.check_keys(added)
        tags = {**(existing or {}), **added}
        self._check_count(tags)
        return tags

    @staticmethod
    def remove(existing: dict | None, keys: Iterable[str]) -> dict:
        """Existing tags without ``keys`` (UntagResource)."""
        removed = set(keys)
        return {key: value for key, value in (existing or {}).items() if key not in removed}

    def _check_count(self, tags: dict) -> None:
        if len(tags) > self.limit:
            raise self.too_many(f"A resource can have at most {self.limit} tags; this request would give it "
                                f"{len(tags)}.")

    def operations(self, find: Callable[[RequestContext, dict], tuple[str, str, dict]], *,
                   tags: str, keys: str, tag: str = "TagResource", untag: str = "UntagResource",
                   list_tags: str = "ListTagsForResource") -> None:
        """Register a service's three tag operations. ``find(ctx, request) -> (kind, id,
        document)`` finds the resource; its tags live in ``records.TAGS``; ``tags``/``keys`` are the
        request's members (tags given as a list of Key/Value pairs are read as a map); the list
        operation answers in ``tags``."""

        @operation(self.service, tag)
        def tag_resource(ctx: RequestContext, req: dict) -> dict:
            kind, resource_id, document = find(ctx, req)
            added = req.get(tags) or {}
            if isinstance(added, list):
                added = {pair["Key"]: pair["Value"] for pair in added}
            document[TAGS] = self.merge(document.get(TAGS), added)
            ctx.resources.update(kind, resource_id, document)
            return {}

        @operation(self.service, untag)
        def untag_resource(ctx: RequestContext, req: dict) -> dict:
            kind, resource_id, document = find(ctx, req)
            document[TAGS] = self.remove(document.get(TAGS), req[keys])
            ctx.resources.update(kind, resource_id, document)
            return {}

        @operation(self.service, list_tags, read_only=True)
        def list_tags_for_resource(ctx: RequestContext, req: dict) -> dict:
            return {tags: find(ctx, req)[2].get(TAGS) or {}}
