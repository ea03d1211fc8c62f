"""The exported admission policies judge what Metaflow really sends to Kubernetes as
`bakery.policy` judges it: the Argo manifest `argo-workflows create --only-json` prints (a step per
reference, and an exit hook) and the Job Metaflow's `@kubernetes` creates, one per reference, each
evaluated with Google's CEL implementation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bakery.policy import ImageRequest, Policies, parse_policy
from bakery.policy.admission import FORMATS, admission_documents
from tests.fixtures.flows import FlowRunner
from tests.flows.test_fast_bakery import argo_create, own_prefix
from tests.policy.admission_eval import admit
from tests.policy.texts import ADMISSION_EXAMPLE, REFERENCES

pytestmark = [pytest.mark.slow]

STEPPED = [reference for reference in REFERENCES if reference]  # "" means "the default image"
HOOK_IMAGE = "registry.example.com/ml/hooks:1"


def _flow(references: list[str]) -> str:
    steps = [f"s{i}" for i in range(len(references))]
    lines = [
        "from metaflow import FlowSpec, exit_hook, kubernetes, step",
        "",
        "def notify():",
        "    pass",
        "",
        f"@exit_hook(on_success=[notify], options={{'image': {HOOK_IMAGE!r}}})",
        "class ImagesFlow(FlowSpec):",
        "    @step",
        "    def start(self):",
        f"        self.next(self.{steps[0]})",
    ]
    for i, (name, reference) in enumerate(zip(steps, references, strict=True)):
        following = steps[i + 1] if i + 1 < len(steps) else "end"
        lines += [
            f"    @kubernetes(image={reference!r})",
            "    @step",
            f"    def {name}(self):",
            f"        self.next(self.{following})",
        ]
    lines += ["    @step", "    def end(self):", "        pass", "", "ImagesFlow()"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    policies = Policies((parse_policy(ADMISSION_EXAMPLE, path=Path("/etc/bakery/policy.toml")),))
    return {format: admission_documents(policies, format)[0] for format in FORMATS}


def python_allows(reference: str) -> bool:
    policy = parse_policy(ADMISSION_EXAMPLE, path=Path("/etc/bakery/policy.toml"))
    return policy.violation(ImageRequest("step", reference, "test")) is None


def _template_images(template: dict[str, Any]) -> list[str]:
    found = [template[k]["image"] for k in ("container", "script") if k in template]
    for key in ("initContainers", "sidecars"):
        found += [c["image"] for c in template.get(key, [])]
    found += [c["image"] for c in template.get("containerSet", {}).get("containers", [])]
    return found


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, shared_env_cache, s3_datastore) -> dict[str, Any]:
    flows = FlowRunner(tmp_path_factory.mktemp("images-flow"), shared_env_cache)
    flow = flows.write("images_flow.py", _flow(STEPPED))
    result = argo_create(flows, flow, own_prefix(s3_datastore), "local").check()
    return json.loads(result.stdout[result.stdout.index("{") :])


def test_the_argo_manifest_names_every_reference(manifest: dict[str, Any]) -> None:
    images = [i for t in manifest["spec"]["templates"] for i in _template_images(t)]
    assert set(STEPPED) | {HOOK_IMAGE} <= set(images)
    assert len(set(STEPPED)) >= 40


@pytest.mark.parametrize("format", FORMATS)
def test_admission_of_the_argo_manifest_matches_bakery_policy(
    manifest: dict[str, Any], documents: dict[str, dict[str, Any]], format: str
) -> None:
    document = documents[format]
    admitted, refused, _ = admit(document, manifest)
    images = [i for t in manifest["spec"]["templates"] for i in _template_images(t)]
    assert manifest["kind"] == "WorkflowTemplate" and 15 <= len(refused) <= len(images) - 15
    assert sorted(refused) == sorted(i for i in images if not python_allows(i))
    assert admitted is all(python_allows(i) for i in images)

    # and template by template: the verdict on each step's image alone
    for template in manifest["spec"]["templates"]:
        alone = {**manifest, "spec": {**manifest["spec"], "templates": [template]}}
        verdict = admit(document, alone)[0]
        assert verdict is all(python_allows(i) for i in _template_images(template)), template


@pytest.fixture(scope="module")
def metaflow_jobs(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """The Job Metaflow's @kubernetes would create for a task in each image (`Kubernetes.
    create_job_object`, with a kubeconfig naming no reachable cluster: nothing is sent)."""
    from kubernetes.client import ApiClient
    from kubernetes.config import kube_config
    from metaflow.metaflow_environment import MetaflowEnvironment
    from metaflow.plugins.kubernetes.kubernetes import Kubernetes

    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: none\n"
        "clusters: [{name: none, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: none, user: {token: none}}]\n"
        "contexts: [{name: none, context: {cluster: none, user: none}}]\n"
    )
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # the client reads $KUBECONFIG once, when first imported (earlier in this session)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))

    class S3:
        TYPE = "s3"

    launcher = Kubernetes(S3(), None, MetaflowEnvironment(None))
    jobs = {}
    for reference in STEPPED:
        job = launcher.create_job_object(
            flow_name="ImagesFlow",
            run_id="1",
            step_name="train",
            task_id="2",
            attempt="0",
            user="dev",
            code_package_metadata="{}",
            code_package_sha="0" * 40,
            code_package_url="s3://bakery-test/code",
            code_package_ds="s3",
            step_cli="python flow.py step train",
            docker_image=reference,
            docker_image_pull_policy=None,
            namespace="default",
            cpu="1",
            memory="4096",
            disk="10240",
            gpu_vendor="nvidia",
            use_tmpfs=False,
            tmpfs_tempdir=True,
            tmpfs_path="/metaflow_temp",
            run_time_limit=600,
            tolerations=[],
            labels={},
            name_pattern="t-",
            qos="Burstable",
            annotations={},
            secrets=[],
        ).create()
        jobs[reference] = ApiClient().sanitize_for_serialization(job._job)
    monkeypatch.undo()
    return jobs


@pytest.mark.parametrize("format", FORMATS)
def test_admission_of_metaflows_jobs_and_pods_matches_bakery_policy(
    metaflow_jobs: dict[str, dict[str, Any]], documents: dict[str, dict[str, Any]], format: str
) -> None:
    document = documents[format]
    for reference, job in metaflow_jobs.items():
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["image"] == reference
        expected = python_allows(reference)
        assert admit(document, job)[0] is expected, reference
        pod = {"apiVersion": "v1", "kind": "Pod", **job["spec"]["template"]}
        assert admit(document, pod)[0] is expected, reference
