"""Perimeter policies in the run path: every violation refused before anything launches or is
built, with one message naming the steps, the images or decorators, and the rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakery.registry import RegistryClient
from tests.fixtures.flows import two_step_flow
from tests.flows.test_fast_bakery import FLOW, argo_create, own_prefix

pytestmark = [pytest.mark.slow, pytest.mark.network]

PYPI_FLOW = two_step_flow("PolicedFlow", start='@pypi(packages={"tabulate": "0.9.0"})')


def write_policy(folder: Path, text: str) -> Path:
    path = folder / "policy.toml"
    path.write_text("version = 1\n" + text)
    return path


def assert_refused(result, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Refused by the perimeter policy" in result.output, result.output[-3000:]
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output[-3000:]}"
    assert "Traceback" not in result.output
    assert "Workflow starting" not in result.output


def test_no_on_the_fly_dependencies_refuses_pypi_before_building(flows, tmp_path):
    policy = write_policy(tmp_path, "[dependencies]\non_the_fly = false\n")
    before = flows.cached_envs()
    result = flows.run(
        flows.write("policed.py", PYPI_FLOW), METAFLOW_BAKERY_POLICY_FILE=str(policy)
    )
    assert_refused(result, "step 'start'", "@pypi(packages={'tabulate': '0.9.0'})", str(policy))
    assert flows.cached_envs() == before, "an environment was built despite the policy"
    assert not (flows.folder / "policed.bakery.lock").exists()


def test_the_same_flow_runs_when_the_policy_allows_it(flows, tmp_path):
    policy = write_policy(tmp_path, "[dependencies]\non_the_fly = true\n")
    flows.run(flows.write("allowed.py", PYPI_FLOW), BAKERY_POLICY_FILE=str(policy)).check()


def test_a_configured_policy_that_is_missing_stops_the_run(flows, tmp_path):
    result = flows.run(
        flows.write("missing.py", PYPI_FLOW), BAKERY_POLICY_FILE=str(tmp_path / "gone.toml")
    )
    assert result.returncode != 0 and "gone.toml" in result.output
    assert "Workflow starting" not in result.output


@pytest.mark.container
def test_images_outside_the_allowed_list_are_all_named(flows, s3_datastore, tmp_path):
    policy = write_policy(tmp_path, '[images]\nallowed = ["registry.example.com/ml/*"]\n')
    flow = flows.write("images.py", FLOW)
    env = own_prefix(s3_datastore)
    result = argo_create(flows, flow, env, "pypi", BAKERY_POLICY_FILE=str(policy))
    assert_refused(
        result,
        "step 'middle'",
        "docker.io/library/python:3.11",
        "@kubernetes(image=...)",
        "step 'start'",  # the default image of the attached @kubernetes
        "the default image of @kubernetes",
    )


@pytest.mark.container
def test_fast_bakery_must_push_where_the_policy_says(flows, s3_datastore, base_images, tmp_path):
    policy = write_policy(tmp_path, '[bake]\nregistry = "registry.example.com/team/envs"\n')
    env = {
        **own_prefix(s3_datastore),
        "METAFLOW_BAKERY_REGISTRY": f"{base_images.host}/policed/envs",
        "METAFLOW_BAKERY_BASE_IMAGE": base_images.oci,
        "BAKERY_POLICY_FILE": str(policy),
    }
    result = argo_create(flows, flows.write("pushto.py", FLOW), env)
    assert_refused(result, "step 'start'", "policed/envs", "registry.example.com/team/envs")
    assert "Image for step" not in result.output  # refused before baking
    with RegistryClient(base_images.host) as client:
        assert client.head_manifest("policed/envs", "latest") is None


@pytest.mark.container
def test_fast_bakery_within_the_policy_bakes_and_deploys(
    flows, s3_datastore, base_images, tmp_path
):
    host = base_images.host
    allowed = f'"{host}/allowed/*", "docker.io/library/python:3.11"'
    bake = f'[bake]\nregistry = "{host}/allowed"\n'
    env = {
        **own_prefix(s3_datastore),
        "METAFLOW_BAKERY_REGISTRY": f"{host}/allowed/envs",
        "METAFLOW_BAKERY_BASE_IMAGE": base_images.oci,
    }
    flow = flows.write("within.py", FLOW)
    # the base image must be an allowed image too, refused before anything is baked
    policy = write_policy(tmp_path, f"[images]\nallowed = [{allowed}]\n{bake}")
    refused = argo_create(flows, flow, env, BAKERY_POLICY_FILE=str(policy))
    assert_refused(refused, base_images.oci, "the base image of --environment=fast-bakery")
    assert "Image for step" not in refused.output

    policy = write_policy(tmp_path, f'[images]\nallowed = [{allowed}, "{host}/base/*"]\n{bake}')
    result = argo_create(flows, flow, env, BAKERY_POLICY_FILE=str(policy)).check()
    manifest = json.loads(result.stdout[result.stdout.index("{") :])
    images = {
        t["name"]: t["container"]["image"]
        for t in manifest["spec"]["templates"]
        if "container" in t
    }
    assert images["start"].startswith(f"{host}/allowed/envs:")
    assert images["middle"] == "docker.io/library/python:3.11"


@pytest.mark.container
def test_without_a_bakery_environment_kubernetes_images_are_checked_too(
    flows, s3_datastore, tmp_path
):
    policy = write_policy(tmp_path, '[images]\nallowed = ["registry.example.com/ml/*"]\n')
    flow = flows.write("plain.py", FLOW.replace('@pypi(packages={"tabulate": "0.9.0"})', ""))
    env = own_prefix(s3_datastore)
    result = argo_create(flows, flow, env, "local", BAKERY_POLICY_FILE=str(policy))
    # "*" shows as U+2217: Metaflow's console would drop a plain one
    assert_refused(result, "docker.io/library/python:3.11", "registry.example.com/ml/\u2217")

    allowed = write_policy(tmp_path, '[images]\nallowed = ["docker.io/library/python:*"]\n')
    argo_create(flows, flow, env, "local", BAKERY_POLICY_FILE=str(allowed)).check()


EXIT_HOOK_FLOW = """
from metaflow import FlowSpec, exit_hook, step

def notify():
    print("done")

@exit_hook(on_success=[notify], options={"image": "docker.io/library/ubuntu:22.04"})
class HookedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    HookedFlow()
"""


@pytest.mark.container
@pytest.mark.parametrize("environment", ["local", "pypi"])
def test_an_exit_hook_image_is_checked_before_the_manifest_is_made(
    flows, s3_datastore, tmp_path, environment
):
    policy = write_policy(tmp_path, '[images]\nallowed = ["docker.io/library/python:*"]\n')
    flow = flows.write(f"hooked_{environment}.py", EXIT_HOOK_FLOW)
    env = own_prefix(s3_datastore)
    result = argo_create(flows, flow, env, environment, BAKERY_POLICY_FILE=str(policy))
    assert_refused(
        result,
        "exit hook notify",
        "docker.io/library/ubuntu:22.04",
        "@exit_hook(options={'image': ...})",
        "BAKERY_POLICY_FILE in the environment",
    )
    assert "ubuntu:22.04" not in result.stdout  # no manifest printed

    allowed = write_policy(tmp_path, '[images]\nallowed = ["docker.io/library/*"]\n')
    result = argo_create(flows, flow, env, environment, BAKERY_POLICY_FILE=str(allowed)).check()
    manifest = json.loads(result.stdout[result.stdout.index("{") :])
    images = {t["name"]: t.get("container", {}).get("image") for t in manifest["spec"]["templates"]}
    assert images["success-notify"] == "docker.io/library/ubuntu:22.04"  # the hook's own image


def test_batch_images_are_checked_without_a_bakery_environment(flows, tmp_path):
    policy = write_policy(tmp_path, '[images]\nallowed = ["docker.io/library/python:*"]\n')
    flow = flows.write("batched.py", two_step_flow("BatchedFlow"))
    result = flows.run(
        flow,
        "run",
        "--with",
        "batch:image=docker.io/library/ubuntu:22.04",
        environment="local",
        BAKERY_POLICY_FILE=str(policy),
    )
    assert_refused(result, "docker.io/library/ubuntu:22.04", "--with batch:image=...")

    allowed = flows.run(
        flow,
        "run",
        "--with",
        "batch:image=docker.io/library/python:3.11",
        environment="local",
        BAKERY_POLICY_FILE=str(policy),
    )
    assert allowed.returncode != 0  # no AWS here: what stops it now is @batch itself
    assert "Refused by the perimeter policy" not in allowed.output
    assert "--datastore=s3" in allowed.output


def test_the_machine_policy_holds_whatever_file_the_user_names(flows, tmp_path):
    machine = write_policy(tmp_path, "[dependencies]\non_the_fly = false\n")
    mine = tmp_path / "mine.toml"
    mine.write_text("version = 1\n")
    home = tmp_path / "my-metaflow-home"
    home.mkdir()
    (home / "config_loose.json").write_text(json.dumps({"METAFLOW_BAKERY_POLICY_FILE": str(mine)}))
    flow = flows.write("machine.py", PYPI_FLOW)
    for escape in (
        {"BAKERY_POLICY_FILE": str(mine)},
        {"METAFLOW_BAKERY_POLICY_FILE": str(mine)},
        {"METAFLOW_HOME": str(home), "METAFLOW_PROFILE": "loose"},
    ):
        result = flows.run(flow, BAKERY_TESTS_MACHINE_POLICY=str(machine), **escape)
        assert_refused(result, "on_the_fly = false", f"{machine} (the machine's policy file")
        assert str(mine) in result.output  # named too, as a file in force that adds to it
