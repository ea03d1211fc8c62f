"""`--environment=fast-bakery`: remote steps get images baked from the lock, named in the Argo
manifests; a user's image wins; an unchanged flow bakes nothing."""

from __future__ import annotations

import json
import re

import pytest

from bakery.registry import RegistryClient

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.container]

FLOW = """
from metaflow import FlowSpec, kubernetes, pypi, step

class BakedFlow(FlowSpec):
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def start(self):
        import tabulate
        self.next(self.middle)

    @kubernetes(image="docker.io/library/python:3.11")
    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    BakedFlow()
"""


def own_prefix(s3_datastore: dict[str, str]) -> dict[str, str]:
    """The session's S3 server, under a prefix of this module's own: other tests count what
    their runs store there."""
    return {**s3_datastore, "METAFLOW_DATASTORE_SYSROOT_S3": "s3://bakery-test/fast-bakery"}


def argo_create(flows, flow, env, environment="fast-bakery", **extra):
    return flows.run(
        flow,
        "argo-workflows",
        "create",
        "--only-json",
        environment=environment,
        METAFLOW_KUBERNETES_NAMESPACE="default",
        **env,
        **extra,
    )


def argo_manifest(flows, flow, env):
    result = argo_create(flows, flow, env).check()
    return result, json.loads(result.stdout[result.stdout.index("{") :])


def step_images(manifest: dict) -> dict[str, tuple[str, str]]:
    """Argo template name -> (image, command) of its main container."""
    found = {}
    for template in manifest["spec"]["templates"]:
        container = template.get("container")
        if container:
            found[template["name"]] = (
                container["image"],
                json.dumps(container.get("command")) + json.dumps(container.get("args")),
            )
    return found


@pytest.mark.compat
def test_remote_steps_run_in_images_baked_from_the_lock(flows, s3_datastore, base_images):
    registry = f"{base_images.host}/bakery/envs"
    env = {
        **own_prefix(s3_datastore),
        "METAFLOW_BAKERY_REGISTRY": registry,
        "METAFLOW_BAKERY_BASE_IMAGE": base_images.oci,
    }
    flow = flows.write("baked.py", FLOW)
    first, manifest = argo_manifest(flows, flow, env)
    images = step_images(manifest)
    lock = json.loads((flows.folder / "baked.bakery.lock").read_text())
    start_image, start_command = images["start"]
    assert start_image.startswith(registry + ":") and "@sha256:" in start_image
    tag, digest = start_image[len(registry) + 1 :].split("@")
    assert tag.startswith(lock["steps"]["start"]["linux-64"][:20])
    assert "bakery.plugins.bootstrap" not in start_command  # the env is in the image
    assert images["end"][0].startswith(registry + ":")
    assert images["end"][0] != start_image  # another environment (no tabulate)
    # a user's image wins; that step keeps the snapshot bootstrap
    middle_image, middle_command = images["middle"]
    assert middle_image == "docker.io/library/python:3.11"
    assert "bakery.plugins.bootstrap" in middle_command
    assert re.search(r"Image for step\(s\) start: \S+ \(baked in", first.output)
    assert "note:" not in first.output  # the base has its stdlib bytecode

    with RegistryClient(base_images.host) as client:
        assert client.head_manifest("bakery/envs", tag) == digest

    again, manifest_again = argo_manifest(flows, flow, env)
    assert step_images(manifest_again)["start"][0] == start_image
    assert "up to date" in again.output and "baked in" not in again.output


def test_fast_bakery_without_a_registry_is_one_clear_error(flows, s3_datastore):
    flow = flows.write("noregistry.py", FLOW)
    result = argo_create(flows, flow, own_prefix(s3_datastore))
    assert result.returncode != 0
    assert "METAFLOW_BAKERY_REGISTRY" in result.output and "start" in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_registry_names_the_step_and_launches_nothing(
    flows,
    s3_datastore,
    base_images,
):
    from tests.fixtures.conda_channel import free_port

    dead = f"127.0.0.1:{free_port()}"
    env = {
        **own_prefix(s3_datastore),
        "METAFLOW_BAKERY_REGISTRY": f"{dead}/bakery/envs",
        "METAFLOW_BAKERY_BASE_IMAGE": base_images.oci,
    }
    result = argo_create(flows, flows.write("dead.py", FLOW), env)
    assert result.returncode != 0
    assert "Bakery could not prepare the environment" in result.output
    assert dead in result.output and "step 'end'" in result.output  # the first one baked
    assert "Traceback" not in result.output


def test_a_tagged_registry_is_refused_before_baking(flows, s3_datastore):
    env = {**own_prefix(s3_datastore), "METAFLOW_BAKERY_REGISTRY": "127.0.0.1:5000/bakery/envs:v1"}
    result = argo_create(flows, flows.write("tagged.py", FLOW), env)
    assert result.returncode != 0 and "Traceback" not in result.output
    output = " ".join(result.output.split())
    assert "METAFLOW_BAKERY_REGISTRY '127.0.0.1:5000/bakery/envs:v1' names a tag 'v1'" in output
    assert "e.g. '127.0.0.1:5000/bakery/envs'" in output


def test_a_base_without_stdlib_bytecode_is_noted_in_the_run(flows, s3_datastore, base_images):
    """What `bakery bake` notes about a base reaches the flow's output too: here a base whose
    stdlib bytecode a later layer deleted (as a `RUN rm -rf` would)."""
    from tests.image.test_any_base import _with_whiteouts

    with RegistryClient(base_images.host) as client:
        bare = _with_whiteouts(
            client, "base/debian", "oci", "oci-no-stdlib-bytecode", "usr/lib/python3.11/__pycache__"
        )
    env = {
        **own_prefix(s3_datastore),
        "METAFLOW_BAKERY_REGISTRY": f"{base_images.host}/bakery/bare-envs",
        "METAFLOW_BAKERY_BASE_IMAGE": bare,
    }
    result = argo_create(flows, flows.write("bare.py", FLOW), env).check()
    assert "note: the base's Python 3.11 has no bytecode for its standard library" in result.output
