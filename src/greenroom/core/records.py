"""Stored resources: each kind declared once as a ``Record``, and one rule for the API view.

A document is stored as JSON. It holds the API's members and greenroom's own fields, whose
names start with ``_`` (``_rev``, GameLift's ``_holds``, IVS's ``"_"`` dict, KVS's ``_media_key``
...); its tags are in ``tags`` (``TAGS``) in every service. A ``Record`` says which is which:

    STREAM_GROUP = Record("gameliftstreams:streamgroup", private=("_locations", "_rev"), tags_shown=False)
    STREAM_GROUP.view(document)      # the API's members only

``public(document, fields)`` is the rule itself: without ``fields`` it drops greenroom's fields
and absent (None) members; with them it keeps only those (an output shape's members).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from .operations import operation

TAGS = "tags"   # where every stored resource keeps its tags (core.tagging reads and writes it)
RECORDS: dict[str, "Record"] = {}   # kind -> its Record: the test suite checks what is stored against it


def public(document: dict, fields: Iterable[str] | None = None) -> dict:
    if fields is not None:
        return {field: value for field in fields if (value := document.get(field)) is not None}
    return {key: value for key, value in document.items() if not key.startswith("_") and value is not None}


@dataclass(frozen=True)
class Record:
    """One kind of stored resource. ``members``: the API's members its view shows (None: every
    field but greenroom's); ``private``: greenroom's fields (each starting with ``_``), said here
    so a reader knows them; ``summary``: the members list operations show (None: the view);
    ``tags_shown``: whether the API shows ``tags`` in the resource itself (IVS, Nimble) or only
    through ListTagsForResource (GameLift Streams, Kinesis Video). ``private`` is enforced: in
    the tests, every document a handler stores has no ``_`` field its Record leaves out
    (tests/conftest.py, ``undeclared``)."""

    kind: str
    members: tuple[str, ...] | None = None
    private: tuple[str, ...] = ()
    summary: tuple[str, ...] | None = None
    tags_shown: bool = True

    def __post_init__(self) -> None:
        wrong = [name for name in self.private if not name.startswith("_")]
        if wrong:
            raise ValueError(f"{self.kind}: greenroom's fields start with _: {', '.join(wrong)}")
        RECORDS[self.kind] = self

    def undeclared(self, document: dict) -> list[str]:
        """greenroom's fields in ``document`` that ``private`` does not declare."""
        return sorted(name for name in document if name.startswith("_") and name not in self.private)

    def view(self, document: dict) -> dict:
        """The API's view of a stored document."""
        shown = public(document, self.members)
        if not self.tags_shown:
            shown.pop(TAGS, None)
        return shown

    def brief(self, document: dict) -> dict:
        """What a list operation shows of it."""
        return public(self.view(document), self.summary) if self.summary is not None else self.view(document)

    def get_operation(self, service: str, name: str, member: str, find: Callable[[object, dict], dict]) -> None:
        """Register the operation that shows one resource of this kind: ``{member: view(find(ctx,
        request))}`` (``find`` raises the service's not-found error; it only reads)."""

        @operation(service, name, read_only=True)
        def get(ctx, req: dict) -> dict:
            return {member: self.view(find(ctx, req))}

    def list_operation(self, service: str, name: str, query: Callable[[object, dict], dict] | None = None,
                       **options) -> None:
        """Register the list operation of this kind, shown as ``brief``: ``ctx.list_answer(kind,
        req, **options)`` (its page size), with what ``query(ctx, req)`` adds for this request
        (its parent, filters; it raises the service's not-found error for a missing parent; it
        only reads, as the operation runs without a transaction)."""

        @operation(service, name, read_only=True)
        def list_all(ctx, req: dict) -> dict:
            return ctx.list_answer(self.kind, req, view=self.brief, **options, **(query(ctx, req) if query else {}))
