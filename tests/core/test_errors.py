"""Errors are declared once per service from its models (core.errors.Errors)."""
from __future__ import annotations

import ast
import importlib
import pathlib
import re

import pytest

import greenroom
from greenroom import services
from greenroom.core.errors import Errors, ServiceError

SERVICES = pathlib.Path(greenroom.__file__).parent / "services"


def test_an_error_shape_the_model_lacks_fails_at_declaration():
    with pytest.raises(ValueError, match="NoSuchException"):
        Errors("gameliftstreams", "ConflictException", "NoSuchException")


def test_a_declared_error_is_raised_by_its_short_name_with_one_signature():
    errors = Errors(("kinesisvideo", "kinesis-video-media"), "ResourceInUseException",
                    "ConnectionLimitExceededException")
    error = errors.ConnectionLimitExceeded("too many")
    assert isinstance(error, ServiceError)
    assert (error.code, error.message, error.fields) == ("ConnectionLimitExceededException", "too many", {})
    assert not hasattr(errors, "ResourceNotFound")


def test_a_service_adds_its_own_members():
    errors = Errors("nimble", "ResourceNotFoundException",
                    members=lambda shape, fields: {"code": "X", "context": fields or None})
    error = errors.ResourceNotFound("gone", resourceId="r1")
    assert error.fields == {"code": "X", "context": {"resourceId": "r1"}}


def test_services_raise_only_declared_errors():
    """No service module builds a ServiceError itself: every error goes through its Errors."""
    offenders = [str(path.relative_to(SERVICES)) for path in SERVICES.rglob("*.py")
                 if re.search(r"\bServiceError\(", path.read_text())]
    assert offenders == []


def test_every_error_a_service_raises_is_declared():
    """``errors.X`` in a service module names a declared shape (so a model without it fails at
    import): a misspelt or undeclared name would otherwise be an AttributeError at run time."""
    services.load_all()
    undeclared = []
    for path in SERVICES.rglob("*.py"):
        name = "greenroom.services." + ".".join(path.relative_to(SERVICES).with_suffix("").parts)
        module = importlib.import_module(name.removesuffix(".__init__"))
        declared = getattr(module, "errors", None)
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "errors"):
                if not isinstance(declared, Errors) or not hasattr(declared, node.attr):
                    undeclared.append(f"{path.relative_to(SERVICES)}:{node.lineno} errors.{node.attr}")
    assert undeclared == []
