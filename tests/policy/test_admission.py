"""`bakery policy export`: the documents are what Kubernetes and Kyverno accept (their schemas),
and admit or refuse pods, Jobs and Argo workflows image by image (their CEL, evaluated)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bakery.cli.main import main
from bakery.errors import PolicyExportError
from bakery.policy import Policies, load_policy
from bakery.policy.admission import FORMATS, admission_documents, to_yaml

from .admission_eval import admit
from .texts import ADMISSION_EXAMPLE, EXAMPLE, images_policy

SCHEMAS = Path(__file__).parent / "schemas"
ALLOWED, REFUSED = "registry.example.com/ml/app:1", "docker.io/library/ubuntu:22.04"


@pytest.fixture
def policies(write_policy: Callable[[str], Path]) -> Policies:
    return Policies((load_policy(write_policy(ADMISSION_EXAMPLE)),))


def _round_trip(document: dict[str, Any], model: str) -> dict[str, Any]:
    from kubernetes.client import ApiClient

    api = ApiClient()
    # the client's own deserializer: required fields and types checked by its models
    return api.sanitize_for_serialization(api._ApiClient__deserialize(document, model))


def test_the_validating_admission_policy_fits_the_kubernetes_models(policies: Policies) -> None:
    policy, binding = admission_documents(policies, "validating-admission-policy")
    # a field the models do not know would be dropped on the way back
    assert _round_trip(policy, "V1ValidatingAdmissionPolicy") == policy
    assert _round_trip(binding, "V1ValidatingAdmissionPolicyBinding") == binding
    spec = policy["spec"]
    assert spec["failurePolicy"] in ("Fail", "Ignore")
    for rule in spec["matchConstraints"]["resourceRules"]:
        assert set(rule["operations"]) <= {"CREATE", "UPDATE", "DELETE", "CONNECT", "*"}
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]


def test_a_binding_can_be_limited_to_namespaces(policies: Policies) -> None:
    _, binding = admission_documents(
        policies, "validating-admission-policy", namespaces=["ml", "etl"]
    )
    assert _round_trip(binding, "V1ValidatingAdmissionPolicyBinding") == binding
    selector = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]
    assert selector["values"] == ["ml", "etl"] and selector["operator"] == "In"


def _strict(schema: Any) -> Any:
    """The CRD schema as `kubectl apply --validate=strict` reads it: unknown fields refused."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [_strict(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def kyverno_schema() -> dict[str, Any]:
    return _strict(json.loads((SCHEMAS / "kyverno-clusterpolicy-v1.excerpt.json").read_text()))


def test_the_kyverno_policy_fits_kyvernos_crd_schema(
    policies: Policies, kyverno_schema: dict[str, Any]
) -> None:
    import jsonschema

    (document,) = admission_documents(policies, "kyverno", namespaces=["ml"])
    jsonschema.validate(document, kyverno_schema)
    assert (document["apiVersion"], document["kind"]) == ("kyverno.io/v1", "ClusterPolicy")
    (rule,) = document["spec"]["rules"]
    assert rule["validate"]["failureAction"] == "Enforce"
    misspelt = copy.deepcopy(document)
    misspelt["spec"]["rules"][0]["validate"]["failurAction"] = "Enforce"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(misspelt, kyverno_schema)


@pytest.mark.parametrize("format", FORMATS)
def test_the_yaml_reads_back_as_the_documents(policies: Policies, format: str) -> None:
    documents = admission_documents(policies, format)
    assert list(yaml.safe_load_all(to_yaml(documents))) == documents


def _container(image: str, name: str = "main") -> dict[str, str]:
    return {"name": name, "image": image}


def _objects() -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Objects of every kind the policy matches, each with one refused image in another place."""
    pod_spec = {
        "containers": [_container(ALLOWED)],
        "initContainers": [_container(REFUSED + "-init", "init")],
        "ephemeralContainers": [_container(REFUSED + "-debug", "debug")],
    }
    template = {
        "name": "t",
        "container": _container(ALLOWED),
        "sidecars": [_container(REFUSED + "-sidecar", "side")],
    }
    workflow = {
        "templates": [
            template,
            {"name": "s", "script": {"image": REFUSED + "-script", "source": "true"}},
            {"name": "c", "containerSet": {"containers": [_container(REFUSED + "-set")]}},
            {"name": "i", "initContainers": [_container(REFUSED + "-tinit")]},
            {"name": "steps", "steps": [[{"name": "a", "template": "t"}]]},
        ],
        "templateDefaults": {"container": _container(REFUSED + "-default")},
    }
    wf_refused = [f"{REFUSED}-{x}" for x in ("sidecar", "script", "set", "tinit", "default")]
    pod_refused = [REFUSED + "-init", REFUSED + "-debug"]
    return {
        "Pod": ({"kind": "Pod", "spec": pod_spec}, pod_refused),
        "Job": ({"kind": "Job", "spec": {"template": {"spec": pod_spec}}}, pod_refused),
        "CronJob": (
            {
                "kind": "CronJob",
                "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}},
            },
            pod_refused,
        ),
        "Workflow": ({"kind": "Workflow", "spec": workflow}, wf_refused),
        "WorkflowTemplate": ({"kind": "WorkflowTemplate", "spec": workflow}, wf_refused),
        "ClusterWorkflowTemplate": (
            {"kind": "ClusterWorkflowTemplate", "spec": workflow},
            wf_refused,
        ),
        "CronWorkflow": ({"kind": "CronWorkflow", "spec": {"workflowSpec": workflow}}, wf_refused),
    }


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("kind", list(_objects()))
def test_every_place_an_image_can_be_named_is_checked(
    policies: Policies, format: str, kind: str
) -> None:
    document = admission_documents(policies, format)[0]
    obj, expected = _objects()[kind]
    admitted, refused, message = admit(document, obj)
    assert not admitted and refused == expected
    assert message.startswith("images not allowed by the perimeter policy (")
    assert str(policies.files[0].path) in message and REFUSED + "-" in message

    clean = json.loads(json.dumps(obj).replace(REFUSED, ALLOWED))
    assert admit(document, clean)[:2] == (True, [])


def test_a_container_without_an_image_is_refused(policies: Policies) -> None:
    document = admission_documents(policies, "validating-admission-policy")[0]
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "main"}]}}
    assert admit(document, pod)[:2] == (False, [""])


def test_a_file_without_images_cannot_be_exported(write_policy: Callable[[str], Path]) -> None:
    path = write_policy("version = 1\n[dependencies]\non_the_fly = false\n")
    with pytest.raises(PolicyExportError, match=r"no policy file in force has an \[images\]"):
        admission_documents(Policies((load_policy(path),)), "kyverno")


def test_export_writes_the_files_in_force(
    write_policy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import bakery.policy.load

    machine = write_policy(images_policy("python:*"))
    monkeypatch.setattr(bakery.policy.load, "MACHINE_POLICY_PATH", machine)
    mine = write_policy(EXAMPLE)
    monkeypatch.setenv("BAKERY_POLICY_FILE", str(mine))
    out = tmp_path / "vap.yaml"
    assert (
        main(["policy", "export", "--format", "validating-admission-policy", "-o", str(out)]) == 0
    )
    policy, binding = yaml.safe_load_all(out.read_text())
    assert policy["metadata"]["annotations"]["bakery/policy-files"] == f"{machine}, {mine}"
    images = ["python:3.11-slim", "python:3.11", "registry.example.com/ml/app"]
    pod = {
        "kind": "Pod",
        "spec": {"containers": [_container(i, str(n)) for n, i in enumerate(images)]},
    }
    # allowed by both files; by the machine's only; by mine only
    assert admit(policy, pod)[:2] == (False, images[1:])
    assert "kubectl apply -f" in capsys.readouterr().err

    assert main(["policy", "export", "--format", "kyverno", "--policy", str(machine)]) == 0
    (kyverno,) = yaml.safe_load_all(capsys.readouterr().out)
    assert admit(kyverno, pod)[:2] == (False, images[2:])  # only the named file


def test_show_names_each_file_in_force_and_why(
    write_policy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import bakery.policy.load

    machine = write_policy(EXAMPLE)
    monkeypatch.setattr(bakery.policy.load, "MACHINE_POLICY_PATH", machine)
    assert main(["policy", "show", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["files"]
    assert shown["path"] == str(machine) and "the machine's policy file" in shown["origin"]
    assert shown["rules"]["[dependencies] on_the_fly"] is False
    assert main(["policy", "show"]) == 0
    out = capsys.readouterr().out
    assert f"Policy file in force: {machine}" in out and "[bake] registry" in out
