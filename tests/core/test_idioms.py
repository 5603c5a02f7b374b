"""The idioms service packages share (docs/design.md, "Idioms"), checked on their source."""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import greenroom

SERVICES = pathlib.Path(greenroom.__file__).parent / "services"


def _modules():
    for path in sorted(SERVICES.rglob("*.py")):
        yield path.relative_to(SERVICES).as_posix(), ast.parse(path.read_text())


def test_no_function_level_imports_in_services():
    """Modules import each other at the top; what flows against the imports goes by events."""
    found = [f"{name}:{node.lineno}" for name, tree in _modules() for function in ast.walk(tree)
             if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
             for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert found == []


def test_services_load_without_aiortc():
    """aiortc (about 1.4 s to import) waits behind greenroom.media.rtc until a peer is made."""
    code = ("import sys; from greenroom import services; services.load_all(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiortc' or m == 'greenroom.media.live'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_server_modules_load_without_pyav():
    """PyAV (about 0.1 s to import) waits until media is first made or read: not before
    `greenroom serve` listens."""
    code = ("import sys; from greenroom import admin, cli, console, emulator, listeners, server, services; "
            "services.load_all(); print(sorted(m for m in sys.modules if m.split('.')[0] == 'av'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_service_keeps_its_own_error_tag_or_idempotency_helpers():
    own = {"not_found", "invalid", "validation", "validation_error", "conflict", "quota_exceeded",
           "access_denied", "check_tags", "check_tag_keys", "merged_tags", "idempotent", "recall",
           "remember", "forget", "public", "stream_info", "channel_info"}
    found = [f"{name}:{node.name}" for name, tree in _modules() for node in tree.body
             if isinstance(node, ast.FunctionDef) and (node.name in own or node.name.endswith("_not_found"))]
    found += [f"{name}:MAX_TAGS" for name, tree in _modules() for node in tree.body
              if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MAX_TAGS" for t in node.targets)]
    assert found == []


PACKAGE = pathlib.Path(greenroom.__file__).parent


def _imported_packages(package: str):
    """(where, the greenroom package imported) for every import in a package, at any level;
    imports only a type checker reads (``if TYPE_CHECKING:``) do not count."""
    for path in sorted((PACKAGE / package).rglob("*.py")):
        here = ["greenroom", *path.relative_to(PACKAGE).parts[:-1]]
        tree = ast.parse(path.read_text())
        typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING" for node in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:
                base = here[:len(here) - node.level + 1]
                names = [".".join(base + [node.module])] if node.module else \
                    [".".join(base + [alias.name]) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "greenroom" and len(parts) > 1:
                    yield f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno}", parts[1]


def test_layers_import_downwards_only():
    """protocol/ (the wire, the models) knows nothing above it: no service, no core; core/
    builds on protocol/ and knows no service (docs/design.md, "Layers")."""
    assert [f"{where} -> {target}" for where, target in _imported_packages("protocol")
            if target != "protocol"] == []
    assert [f"{where} -> {target}" for where, target in _imported_packages("core")
            if target not in ("core", "protocol")] == []
