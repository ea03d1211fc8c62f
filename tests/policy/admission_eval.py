"""Test helper: admit an object as the API server (or Kyverno) would, by evaluating an exported
document's CEL with Google's CEL implementation (cel-expr-python: cel-cpp with RE2)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

cel = pytest.importorskip("cel_expr_python.cel", reason="cel-expr-python needs Python 3.11+")
ext_strings = pytest.importorskip("cel_expr_python.ext.ext_strings")


@functools.cache
def environment():
    # `join` is the strings extension both Kubernetes and Kyverno load
    return cel.NewEnv(
        variables={"object": cel.Type.DYN, "variables": cel.Type.DYN, "image": cel.Type.STRING},
        extensions=[ext_strings.ExtStrings()],
    )


@functools.cache
def compiled(expression: str):
    return environment().compile(expression)  # type-checked, as the API server does


def evaluate(expression: str, **data: Any) -> Any:
    result = compiled(expression).eval(data=data)
    return plain(result.value())


def plain(value: Any) -> Any:
    """A CEL value as plain Python (lists of accessors become lists)."""
    if hasattr(value, "plain_value"):
        value = value.plain_value()
    if hasattr(value, "value") and not isinstance(value, (str, bytes, bool, int, float)):
        value = value.value()
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str) and value.startswith("INVALID_ARGUMENT"):
        raise AssertionError(value)
    return value


def cel_parts(document: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """(variables, validations) of a ValidatingAdmissionPolicy or a Kyverno ClusterPolicy."""
    if document["kind"] == "ValidatingAdmissionPolicy":
        return document["spec"]["variables"], document["spec"]["validations"]
    (rule,) = document["spec"]["rules"]
    return rule["validate"]["cel"]["variables"], rule["validate"]["cel"]["expressions"]


def admit(document: dict[str, Any], obj: dict[str, Any]) -> tuple[bool, list[str], str]:
    """(admitted?, the images refused, the message) for `obj` under `document`."""
    variables: dict[str, Any] = {}
    declared, validations = cel_parts(document)
    for variable in declared:
        variables[variable["name"]] = evaluate(
            variable["expression"], object=obj, variables=variables
        )
    (validation,) = validations
    admitted = evaluate(validation["expression"], object=obj, variables=variables)
    message = evaluate(validation["messageExpression"], object=obj, variables=variables)
    refused = [image for images in variables["refused"] for image in images]
    return admitted, refused, message
