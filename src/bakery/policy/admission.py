"""The policy's `[images] allowed`, enforced where users cannot reach it: Kubernetes admission.

`admission_documents()` writes, from the same files `load_policies()` reads, either a
ValidatingAdmissionPolicy and its binding (admissionregistration.k8s.io/v1, Kubernetes 1.30+) or
a Kyverno ClusterPolicy (CEL validation, Kyverno 1.11+). Both refuse, at the API server, any pod,
Job, CronJob or Argo Workflow / WorkflowTemplate / ClusterWorkflowTemplate / CronWorkflow that
names an image the files in force do not all allow; the verdict on each image string is the one
`bakery.policy` gives (see `cel.py`). Only `[images]` has a meaning at admission: on-the-fly
environments and bake targets are checked by the client alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import PolicyExportError
from .cel import allowed_expression
from .model import Policies

FORMATS = ("validating-admission-policy", "kyverno")
DEFAULT_NAME = "bakery-allowed-images"

# what admission sees: pods (also `kubectl debug`'s ephemeral containers), the Jobs Metaflow's
# @kubernetes creates, and Argo's workflows (checked before any of their pods exist)
_RULES = (
    ("", "v1", ("pods", "pods/ephemeralcontainers"), ("Pod", "Pod/ephemeralcontainers")),
    ("batch", "v1", ("jobs", "cronjobs"), ("batch/v1/Job", "batch/v1/CronJob")),
    (
        "argoproj.io",
        "v1alpha1",
        ("workflows", "workflowtemplates", "clusterworkflowtemplates", "cronworkflows"),
        (
            "argoproj.io/v1alpha1/Workflow",
            "argoproj.io/v1alpha1/WorkflowTemplate",
            "argoproj.io/v1alpha1/ClusterWorkflowTemplate",
            "argoproj.io/v1alpha1/CronWorkflow",
        ),
    ),
)
_OPERATIONS = ["CREATE", "UPDATE"]


def _image(container: str) -> str:
    return f"(has({container}.image) ? {container}.image : '')"


def _pod_images(spec: str) -> str:
    """A list per container list of the pod spec at `spec`, of its images."""
    lists = [
        f"has({spec}.{field}) ? {spec}.{field}.map(c, {_image('c')}) : []"
        for field in ("containers", "initContainers", "ephemeralContainers")
    ]
    return "[" + ", ".join(f"({one})" for one in lists) + "]"


def _template_images(template: str) -> str:
    """The images of one Argo template (its container or script, containerSet, init containers
    and sidecars), as one list."""
    parts = [
        f"(has({template}.container) ? [{_image(template + '.container')}] : [])",
        f"(has({template}.script) ? [{_image(template + '.script')}] : [])",
        f"(has({template}.containerSet) && has({template}.containerSet.containers)"
        f" ? {template}.containerSet.containers.map(c, {_image('c')}) : [])",
        f"(has({template}.initContainers) ? {template}.initContainers.map(c, {_image('c')}) : [])",
        f"(has({template}.sidecars) ? {template}.sidecars.map(c, {_image('c')}) : [])",
    ]
    return "\n        + ".join(parts)


def _workflow_images(spec: str) -> str:
    """A list per template of the workflow spec at `spec` (and its templateDefaults)."""
    return (
        f"(has({spec}.templates) ? {spec}.templates.map(t,\n        {_template_images('t')}) : [])\n"
        f"    + (has({spec}.templateDefaults) ? [\n        "
        f"{_template_images(spec + '.templateDefaults')}] : [])"
    )


IMAGE_LISTS = (
    f"object.kind == 'Pod' ? {_pod_images('object.spec')}\n"
    f": object.kind == 'Job' ? {_pod_images('object.spec.template.spec')}\n"
    f": object.kind == 'CronJob' ? {_pod_images('object.spec.jobTemplate.spec.template.spec')}\n"
    f": object.kind == 'CronWorkflow' ? {_workflow_images('object.spec.workflowSpec')}\n"
    f": object.kind in ['Workflow', 'WorkflowTemplate', 'ClusterWorkflowTemplate']"
    f" ? {_workflow_images('object.spec')}\n"
    f": []"
)
"""CEL: the images the object names, as a list of lists of strings (CEL has no flatten)."""


def refused_expression(policies: Policies) -> str:
    """CEL: `variables.imageLists` with only the images some file in force does not allow."""
    allowed = [p.allowed_images for p in policies.files if p.allowed_images is not None]
    if not allowed:
        files = ", ".join(str(p.path) for p in policies.files) or "none"
        raise PolicyExportError(
            f"no policy file in force has an [images] section (files: {files}), so there is "
            f"nothing to enforce at admission: add `[images] allowed = [...]` to the policy, or "
            f"name a file that has one with --policy"
        )
    return (
        "variables.imageLists.map(l, l.filter(image, !(\n"
        f"{allowed_expression(allowed, 'image')}\n)))"
    )


def _validation(policies: Policies) -> tuple[list[dict[str, str]], dict[str, str]]:
    files = ", ".join(str(p.path) for p in policies.files)
    variables = [
        {"name": "imageLists", "expression": IMAGE_LISTS},
        {"name": "refused", "expression": refused_expression(policies)},
    ]
    check = {
        "expression": "variables.refused.all(l, size(l) == 0)",
        "message": f"an image is not allowed by the perimeter policy ({files})",
        "messageExpression": (
            f"{json.dumps(f'images not allowed by the perimeter policy ({files}): ')}"
            " + variables.refused.filter(l, size(l) > 0).map(l, l.join(', ')).join(', ')"
        ),
    }
    return variables, check


def validating_admission_policy(
    policies: Policies, *, name: str = DEFAULT_NAME, namespaces: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """A ValidatingAdmissionPolicy and the binding that puts it in force (Deny)."""
    variables, check = _validation(policies)
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "annotations": _annotations(policies)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": [version],
                        "operations": _OPERATIONS,
                        "resources": list(resources),
                    }
                    for group, version, resources, _ in _RULES
                ]
            },
            "variables": variables,
            "validations": [{**check, "reason": "Forbidden"}],
        },
    }
    binding: dict[str, Any] = {"policyName": name, "validationActions": ["Deny"]}
    if namespaces:
        binding["matchResources"] = {"namespaceSelector": _namespace_selector(namespaces)}
    return [
        policy,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": binding,
        },
    ]


def kyverno_cluster_policy(
    policies: Policies, *, name: str = DEFAULT_NAME, namespaces: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """A Kyverno ClusterPolicy with the same CEL validation, enforced."""
    variables, check = _validation(policies)
    resources: dict[str, Any] = {
        "kinds": [kind for *_, kinds in _RULES for kind in kinds],
        "operations": _OPERATIONS,
    }
    if namespaces:
        resources["namespaces"] = list(namespaces)
    annotations = {
        **_annotations(policies),
        "policies.kyverno.io/title": "Images allowed by Bakery's perimeter policy",
        # the rule reads each kind itself; Kyverno must not rewrite it for pod controllers
        "pod-policies.kyverno.io/autogen-controllers": "none",
    }
    rule = {
        "name": "allowed-images",
        "match": {"any": [{"resources": resources}]},
        "validate": {
            "failureAction": "Enforce",
            "cel": {"variables": variables, "expressions": [check]},
        },
    }
    return [
        {
            "apiVersion": "kyverno.io/v1",
            "kind": "ClusterPolicy",
            "metadata": {"name": name, "annotations": annotations},
            # the rule's failureAction is Kyverno 1.13's; older releases read this one
            "spec": {"validationFailureAction": "Enforce", "background": True, "rules": [rule]},
        }
    ]


def admission_documents(
    policies: Policies, format: str, *, name: str = DEFAULT_NAME, namespaces: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The documents of `format` (one of `FORMATS`) for the files in `policies`."""
    if format == "validating-admission-policy":
        return validating_admission_policy(policies, name=name, namespaces=namespaces)
    if format == "kyverno":
        return kyverno_cluster_policy(policies, name=name, namespaces=namespaces)
    raise PolicyExportError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")


def _annotations(policies: Policies) -> dict[str, str]:
    return {"bakery/policy-files": ", ".join(str(p.path) for p in policies.files)}


def _namespace_selector(namespaces: Sequence[str]) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(namespaces)}
        ]
    }


def to_yaml(documents: Sequence[dict[str, Any]]) -> str:
    """The documents as one YAML stream (`kubectl apply -f` reads it); CEL as literal blocks."""
    return "".join("---\n" + "\n".join(_yaml_lines(document, 0)) + "\n" for document in documents)


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            lines += _yaml_entry(f"{pad}{key}:", item, indent)
    else:
        for item in value:
            lines += _yaml_entry(f"{pad}-", item, indent)
    return lines


def _yaml_entry(head: str, item: Any, indent: int) -> list[str]:
    if isinstance(item, (dict, list)) and item:
        nested = _yaml_lines(item, indent + 2)
        if head.endswith("-"):  # a list item: its first key on the dash's line
            return [f"{head} {nested[0].lstrip()}", *nested[1:]]
        return [head, *nested]
    if isinstance(item, str) and "\n" in item:
        block = " " * (indent + 2)
        return [f"{head} |-", *(block + line if line else "" for line in item.split("\n"))]
    return [f"{head} {_yaml_scalar(item)}"]


def _yaml_scalar(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (dict, list)):
        return "{}" if isinstance(item, dict) else "[]"
    if isinstance(item, int):
        return str(item)
    return json.dumps(item, ensure_ascii=False)  # a double-quoted YAML scalar
