"""The API view of a stored resource document: one rule for every service.

A document holds the API's members and greenroom's own private fields, whose names start with
``_`` (``_tags``, ``_gen``, IVS's ``"_"`` dict). The view drops the private fields and absent
(None) members; ``fields`` keeps only the members an output shape names (Kinesis Video's
StreamInfo, whose stored documents also hold PascalCase fields of greenroom's).
"""
from __future__ import annotations

from typing import Iterable


def public(document: dict, fields: Iterable[str] | None = None) -> dict:
    if fields is not None:
        return {field: document[field] for field in fields if document.get(field) is not None}
    return {key: value for key, value in document.items() if not key.startswith("_") and value is not None}
