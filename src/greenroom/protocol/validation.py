"""Validation of parsed request values against their botocore input shapes.

Problems are worded like AWS's Coral validation messages
("Value 'x' at 'a.b' failed to satisfy constraint: Member must ...").

Paths: a top-level member is its name (``name``), a nested member ``outer.inner``, a list item
``list.<1-based index>.member`` (Coral's form), and a map entry ``map.<key>.key`` for the key and
``map.<key>.value`` for the value.
"""
from __future__ import annotations

import datetime
import functools
import re
import threading
from typing import Callable

import regex
from botocore.model import Shape

__all__ = ["validate", "validation_message", "constraint_problem", "storable"]

REDACTED = "*** Sensitive Data Redacted ***"
# A value longer than this is not echoed: the problem reads "Value at 'x' failed to ...", as AWS
# words problems about long values (a 10 MB name must not make a 10 MB error). [inferred] limit
SHOWN_VALUE_LIMIT = 8192
# Text no store keeps, nor any AWS service accepts: lone surrogates (not Unicode scalar values,
# not encodable as UTF-8) and NUL (PostgreSQL text cannot hold it). [inferred] wording
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_TEXT_PROBLEM = "Member must contain only Unicode scalar values other than NUL"

_PYTHON_TYPES = {
    "structure": dict,
    "map": dict,
    "list": list,
    "string": str,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
    "boolean": bool,
    "timestamp": datetime.datetime,
    "blob": (bytes, bytearray, memoryview),
}
# What the service's Java types can hold; a bigger JSON number is no integer/long to AWS either.
_INTEGER_LIMITS = {"integer": 2**31, "long": 2**63}
_NUMBERS = ("integer", "long", "float", "double")


def validate(shape: Shape, value, path: str = "") -> list[str]:
    """Check an already-parsed request value against its input shape; return every problem, in order, as message fragments."""
    problems: list[str] = []
    _checker(shape)(value, path, False, problems)
    return problems


def validation_message(problems: list[str]) -> str:
    """'1 validation error detected: <p1>' / 'N validation errors detected: <p1>; <p2>; ...'"""
    errors = "error" if len(problems) == 1 else "errors"
    return f"{len(problems)} validation {errors} detected: " + "; ".join(problems)


# A check is compiled once per input shape (an operation's input shape lives as long as its
# model): walking botocore's shape metadata on every request cost more than the checks.
# Entries keep their shape, so its id is never reused while the entry exists.
_CHECKERS: dict[int, tuple[Shape, Callable]] = {}
_COMPILING = threading.Lock()


def _checker(shape: Shape) -> Callable:
    """``check(value, path, redact, problems)`` for ``shape``, compiled on first use."""
    found = _CHECKERS.get(id(shape))
    if found is not None and found[0] is shape:
        return found[1]
    with _COMPILING:
        # Published only once whole: another thread never runs a half-built check.
        check = _compile(shape, {})
        _CHECKERS[id(shape)] = (shape, check)
    return check


def _compile(shape: Shape, compiled: dict[tuple, Callable]) -> Callable:
    """The check of one shape, its members' checks compiled with it. A shape's check is in
    ``compiled`` before its members are compiled: recursive shapes refer back to it (botocore
    makes a new object for every member it resolves, so they are known by name and traits)."""
    key = (shape.name, repr(shape.metadata), repr(shape.serialization))
    if key in compiled:
        return compiled[key]
    kind = shape.type_name
    metadata = shape.metadata
    # A sensitive container hides everything inside it too.
    sensitive = bool(metadata.get("sensitive"))

    if _is_free_form(shape):  # documents and JSON-value strings take any JSON value
        def check(value, path, redact, problems):
            if not storable(value):
                problems.append(constraint_problem(value, path, UNSTORABLE_TEXT_PROBLEM, redact or sensitive))
        compiled[key] = check
        return check

    python_types = _PYTHON_TYPES.get(kind, object)
    limit = _INTEGER_LIMITS.get(kind)
    type_problem = f"Member must be of type {kind}"
    lowest, highest = metadata.get("min"), metadata.get("max")
    checks: list[Callable] = []  # what follows the type check, in the order problems are listed

    def check(value, path, redact, problems):
        redact = redact or sensitive
        if isinstance(value, bool):  # bool is an int subclass, but no number to AWS
            typed = kind == "boolean"
        elif kind == "blob" and hasattr(value, "read"):  # streaming payload
            typed = True
        else:
            typed = isinstance(value, python_types) and (limit is None or -limit <= value < limit)
        if not typed:
            problems.append(constraint_problem(value, path, type_problem, redact))
            return
        for step in checks:
            step(value, path, redact, problems)

    compiled[key] = check

    if kind in _NUMBERS:
        if lowest is not None:
            least = f"Member must have value greater than or equal to {lowest}"
            checks.append(lambda value, path, redact, problems: value < lowest and problems.append(
                constraint_problem(value, path, least, redact)))
        if highest is not None:
            most = f"Member must have value less than or equal to {highest}"
            checks.append(lambda value, path, redact, problems: value > highest and problems.append(
                constraint_problem(value, path, most, redact)))
    elif kind in ("string", "list", "map", "blob"):
        sized = (lambda value: True) if kind != "blob" else (lambda value: not hasattr(value, "read"))
        if lowest is not None:
            shortest = f"Member must have length greater than or equal to {lowest}"
            checks.append(lambda value, path, redact, problems: sized(value) and len(value) < lowest and
                          problems.append(constraint_problem(value, path, shortest, redact)))
        if highest is not None:
            longest = f"Member must have length less than or equal to {highest}"
            checks.append(lambda value, path, redact, problems: sized(value) and len(value) > highest and
                          problems.append(constraint_problem(value, path, longest, redact)))

    if kind == "structure" and metadata.get("union"):
        names = tuple(shape.members)

        def exactly_one(value, path, redact, problems):
            members_set = sum(1 for name in names if value.get(name) is not None)
            if members_set != 1:  # a union holds exactly one of its members
                problems.append(constraint_problem(
                    value, path, f"Member must have exactly one of its members set, not {members_set}", redact))
        checks.append(exactly_one)

    if kind == "string":
        checks.append(lambda value, path, redact, problems: _UNSTORABLE_TEXT.search(value) and problems.append(
            constraint_problem(value, path, UNSTORABLE_TEXT_PROBLEM, redact)))
        allowed = metadata.get("enum")
        if allowed is not None:
            allowed_set = frozenset(allowed)
            not_allowed = f"Member must satisfy enum value set: [{', '.join(allowed)}]"
            checks.append(lambda value, path, redact, problems: value not in allowed_set and problems.append(
                constraint_problem(value, path, not_allowed, redact)))
        pattern = metadata.get("pattern")
        if pattern is not None:
            matches = _compiled(pattern).fullmatch
            unmatched = f"Member must satisfy regular expression pattern: {pattern}"
            checks.append(lambda value, path, redact, problems: not matches(value) and problems.append(
                constraint_problem(value, path, unmatched, redact)))
    elif kind == "structure":
        required = shape.required_members
        members = tuple((name, _compile(member, compiled), name in required)
                        for name, member in shape.members.items())

        def check_members(value, path, redact, problems):
            for name, check_member, needed in members:
                member_path = f"{path}.{name}" if path else name
                member_value = value.get(name)
                if member_value is not None:
                    check_member(member_value, member_path, redact, problems)
                elif needed:
                    problems.append(_null(member_path))
        checks.append(check_members)
    elif kind == "list":
        check_item = _compile(shape.member, compiled)

        def check_items(value, path, redact, problems):
            for index, item in enumerate(value, start=1):
                # None of the emulated models has a sparse list: a null item is always a problem.
                item_path = f"{path}.{index}.member"
                if item is None:
                    problems.append(_null(item_path))
                else:
                    check_item(item, item_path, redact, problems)
        checks.append(check_items)
    elif kind == "map":
        key_sensitive = bool(shape.key.metadata.get("sensitive"))
        check_key, check_value = _compile(shape.key, compiled), _compile(shape.value, compiled)

        def check_entries(value, path, redact, problems):
            key_redacted = redact or key_sensitive
            for key, item in value.items():
                entry_path = f"{path}.{REDACTED if key_redacted else key}"
                check_key(key, f"{entry_path}.key", redact, problems)
                if item is None:  # nor a sparse map
                    problems.append(_null(f"{entry_path}.value"))
                else:
                    check_value(item, f"{entry_path}.value", redact, problems)
        checks.append(check_entries)
    return check


def constraint_problem(value, path: str, constraint: str, redact: bool = False) -> str:
    """One problem as AWS words it; a long value is left out rather than echoed whole."""
    shown = _shown(value, redact)
    subject = f"Value '{shown}'" if len(shown) <= SHOWN_VALUE_LIMIT else "Value"
    return f"{subject} at '{path}' failed to satisfy constraint: {constraint}"


def _null(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def _is_free_form(shape: Shape) -> bool:
    """Documents and JSON-value strings take any JSON value."""
    return bool(shape.metadata.get("document") or shape.serialization.get("jsonvalue"))


def storable(value) -> bool:
    """Whether every string in a free-form JSON value (keys included) can be stored."""
    if isinstance(value, str):
        return not _UNSTORABLE_TEXT.search(value)
    if isinstance(value, list):
        return all(storable(item) for item in value)
    if isinstance(value, dict):
        return all(storable(key) and storable(item) for key, item in value.items())
    return True


def _shown(value, redact: bool) -> str:
    """The value as a message shows it: scalars as they are, containers only by their size;
    text that cannot be encoded (lone surrogates) escaped."""
    if redact:
        return REDACTED
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8") \
            if _UNSTORABLE_TEXT.search(value) else value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, list):
        return f"<list of length {len(value)}>"
    if isinstance(value, dict):
        return f"<object of length {len(value)}>"
    return f"<{type(value).__name__}>"


# --- Java patterns -------------------------------------------------------------------------
#
# Model patterns are java.util.regex patterns. They are compiled with the `regex` module in
# VERSION1 mode, whose nested character classes and `&&` intersection read like Java's; what
# remains is rewritten token by token below.

# Java's POSIX classes are ASCII-only; `regex` reads the same names as Unicode properties, so
# each is intersected with ASCII. Punct differs: Java's includes ASCII symbols like $ + < = >.
_JAVA_POSIX_CLASSES = {
    "Lower": "Lower", "Upper": "Upper", "ASCII": "ASCII", "Alpha": "Alpha", "Digit": "Digit",
    "Alnum": "Alnum", "Punct": "posix_punct", "Graph": "Graph", "Print": "Print", "Blank": "Blank",
    "Cntrl": "Cntrl", "XDigit": "XDigit", "Space": "Space",
}

# Java line terminators: what `.` does not match (Python's `.` only stops at \n).
_LINE_TERMINATORS = r"\n\r\x85\u2028\u2029"

_JAVA_TOKEN = regex.compile(
    r"""
      \\Q(?P<quoted>.*?)(?:\\E|\Z)                                  # \Q...\E: literal text
    | \\(?P<property>[pP])(?:\{(?P<name>[^}]*)\}|(?P<letter>[A-Za-z]))  # \p{Name} \P{Name} \pL
    | \\c(?P<control>.)                                             # \cX: control character
    | \\0(?P<octal>[0-3][0-7]{2}|[0-7]{1,2})                        # \0nnn: octal character
    | \\x\{(?P<hex>[0-9a-fA-F]+)\}                                  # \x{h...h}: code point
    | \\k<(?P<backreference>\w+)>                                   # \k<name>: named backreference
    | \\(?P<escape>.)                                               # any other escape
    | (?P<char>.)
    """,
    regex.DOTALL | regex.VERBOSE,
)


# Model patterns that, matched whole, would refuse every real value; the services evidently
# accept those values, so greenroom checks the pattern as it was meant.
MODEL_PATTERN_CORRECTIONS = {
    # ivs / ivs-realtime ResourceArn: one resource-type character, which no real ARN has.
    "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+":
        "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]+/[a-zA-Z0-9-]+",
}


@functools.cache
def _compiled(java_pattern: str) -> regex.Pattern:
    java_pattern = MODEL_PATTERN_CORRECTIONS.get(java_pattern, java_pattern)
    return regex.compile(_from_java(java_pattern), regex.VERSION1)


def _from_java(java_pattern: str) -> str:
    """Rewrite a Java regex so that `regex` (VERSION1) matches exactly what Java would."""
    dot_matches_all = regex.search(r"\(\?[a-zA-Z]*s", java_pattern) is not None  # (?s) given
    class_depth = 0
    out = []
    for token in _JAVA_TOKEN.finditer(java_pattern):
        if token["quoted"] is not None:
            out.append(regex.escape(token["quoted"]))
        elif token["property"]:
            out.append(_property(token["name"] or token["letter"], negated=token["property"] == "P"))
        elif token["control"]:
            out.append(regex.escape(chr(ord(token["control"]) ^ 0x40)))
        elif token["octal"]:
            out.append(regex.escape(chr(int(token["octal"], 8))))
        elif token["hex"]:
            out.append(regex.escape(chr(int(token["hex"], 16))))
        elif token["backreference"]:
            out.append(rf"\g<{token['backreference']}>")
        elif token["escape"]:
            out.append(_escape(token["escape"]))
        else:
            char = token["char"]
            if char == "[":
                class_depth += 1
            elif char == "]" and class_depth:
                class_depth -= 1
            elif char == "." and not class_depth and not dot_matches_all:
                char = f"[^{_LINE_TERMINATORS}]"
            elif char in "|~" and class_depth:
                char = "\\" + char  # literal in Java; `||` and `~~` are set operators in VERSION1
            out.append(char)
    return "".join(out)


def _property(name: str, negated: bool) -> str:
    caret = "^" if negated else ""
    if name in _JAVA_POSIX_CLASSES:
        return rf"[{caret}\p{{{_JAVA_POSIX_CLASSES[name]}}}&&\p{{ASCII}}]"
    # Java spells scripts, categories and binary properties with an optional "Is" prefix
    # (\p{IsLatin}, \p{IsLu}, \p{IsAlphabetic}); `regex` knows them all without it.
    return rf"\{'P' if negated else 'p'}{{{name.removeprefix('Is')}}}"


def _escape(char: str) -> str:
    if char in "wds":  # ASCII-only in Java
        return rf"[\{char}&&\p{{ASCII}}]"
    if char in "WDS":
        return rf"[^\{char.lower()}&&\p{{ASCII}}]"
    if char in "vV":  # Java's vertical whitespace; `regex` reads \v as \x0b alone
        return rf"[{'^' if char == 'V' else ''}\n\x0B\f\r\x85\u2028\u2029]"
    return "\\" + char
