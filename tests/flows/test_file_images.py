"""Environments from files, baked: `bakery bake` of a flow written for `--environment=uv`, and a
requirements.txt flow run `--with container` in its baked image, whose image `bakery env get
--image` pulls back."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from bakery.uvbin import uv_binary
from tests.flows.test_container import container_env  # noqa: F401 - fixture
from tests.flows.test_file_flows import PYPROJECT, UV_FLOW

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.container]


def test_bake_a_flow_written_for_environment_uv(flows, base_images):
    (flows.folder / "pyproject.toml").write_text(PYPROJECT)
    subprocess.run([uv_binary(), "lock", "-q"], cwd=flows.folder, check=True)
    flows.write("uvflow.py", UV_FLOW)
    registry = f"{base_images.host}/files/uv"
    common = ["--registry", registry, "--base", base_images.oci, "--environment", "uv"]
    baked = flows.bakery("bake", "uvflow.py", *common, "--json").check()
    results = json.loads(baked.stdout)
    by_step = {", ".join(r["steps"]): r["reference"] for r in results.values()}
    shown = flows.bakery("image", "show", by_step["end"], "--json").check()
    packages = json.loads(shown.stdout)["packages"]
    assert "six==1.16.0" in packages and "tabulate==0.9.0" in packages
    start = json.loads(flows.bakery("image", "show", by_step["start"], "--json").check().stdout)
    assert not any(p.startswith("tabulate==") for p in start["packages"])


BOXED = """
from metaflow import FlowSpec, pypi_base, step

@pypi_base(requirements="requirements.txt")
class BoxedFilesFlow(FlowSpec):
    @step
    def start(self):
        import os, tabulate
        print("start in", os.environ.get("METAFLOW_CONTAINER_IMAGE"), tabulate.__version__)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    BoxedFilesFlow()
"""


def test_a_requirements_flow_runs_in_its_baked_images_and_env_get_pulls_them(
    flows,
    container_env,  # noqa: F811 - fixture
    base_images,
):
    (flows.folder / "requirements.txt").write_text("tabulate==0.9.0\n")
    flow = flows.write("boxedfiles.py", BOXED)
    run = flows.run(flow, "run", "--with", "container", environment="fast-bakery", **container_env)
    run.check()
    registry = container_env["METAFLOW_BAKERY_REGISTRY"]
    assert re.search(r"start in %s:\S+ 0\.9\.0" % re.escape(registry), run.output), run.output
    run_id = re.search(r"run-id (\d+)", run.output).group(1)
    pulled = flows.bakery(
        "env", "get", f"BoxedFilesFlow/{run_id}/start", "--image", "--json", **container_env
    )
    answer = json.loads(pulled.check().stdout)
    assert answer["image"].startswith(registry + ":") and answer["pulled"]
    inspect = subprocess.run(["podman", "image", "exists", answer["pulled"]])
    assert inspect.returncode == 0


def test_environment_uv_remote_steps_bake_with_a_registry_and_bootstrap_without(
    flows, s3_datastore, base_images
):
    from tests.flows.test_fast_bakery import step_images

    (flows.folder / "pyproject.toml").write_text(PYPROJECT)
    subprocess.run([uv_binary(), "lock", "-q"], cwd=flows.folder, check=True)
    flow = flows.write("uvremote.py", UV_FLOW.replace("UvProjectFlow", "UvRemoteFlow"))
    s3 = {**s3_datastore, "METAFLOW_DATASTORE_SYSROOT_S3": "s3://bakery-test/uv-remote"}
    extra = ["--with", "kubernetes"]
    plain = flows.run(
        flow,
        *extra,
        "argo-workflows",
        "create",
        "--only-json",
        environment="uv",
        METAFLOW_KUBERNETES_NAMESPACE="default",
        **s3,
    )
    plain.check()
    images = step_images(json.loads(plain.stdout[plain.stdout.index("{") :]))
    assert "bakery.plugins.bootstrap" in images["end"][1]  # from the snapshot, as under pypi

    registry = f"{base_images.host}/files/uvremote"
    baked = flows.run(
        flow,
        *extra,
        "argo-workflows",
        "create",
        "--only-json",
        environment="uv",
        METAFLOW_KUBERNETES_NAMESPACE="default",
        METAFLOW_BAKERY_REGISTRY=registry,
        METAFLOW_BAKERY_BASE_IMAGE=base_images.oci,
        **s3,
    ).check()
    images = step_images(json.loads(baked.stdout[baked.stdout.index("{") :]))
    assert images["end"][0].startswith(registry + ":") and images["start"][0] != images["end"][0]
    assert "bakery.plugins.bootstrap" not in images["end"][1]


EVERY_KIND = """
from metaflow import FlowSpec, conda, pypi, step

class EveryKindFlow(FlowSpec):
    @pypi(requirements="requirements.txt")
    @step
    def start(self):
        self.next(self.project)

    @pypi(pyproject="pyproject.toml", groups=["train"])
    @step
    def project(self):
        self.next(self.uvlock)

    @pypi(lockfile="uv.lock", groups=["dev"])
    @step
    def uvlock(self):
        self.next(self.pylock)

    @pypi(lockfile="pylock.toml")
    @step
    def pylock(self):
        self.next(self.envyml)

    @conda(environment="environment.yml")
    @step
    def envyml(self):
        self.next(self.condalock)

    @conda(lockfile="conda-lock.yml")
    @step
    def condalock(self):
        self.next(self.pixi)

    @conda(lockfile="pixi.lock")
    @step
    def pixi(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    EveryKindFlow()
"""


def test_every_file_kind_bakes_into_an_image_with_its_packages(flows, base_images, conda_channels):
    from tests.fixtures.lockfiles import solve, write_conda_lock, write_pixi_lock

    folder = flows.folder
    (folder / "requirements.txt").write_text("idna==3.7\n")
    (folder / "pyproject.toml").write_text(PYPROJECT)
    subprocess.run([uv_binary(), "lock", "-q"], cwd=folder, check=True)
    subprocess.run(
        [
            uv_binary(),
            "export",
            "--format",
            "pylock.toml",
            "--all-extras",
            "-q",
            "-o",
            "pylock.toml",
        ],
        cwd=folder,
        check=True,
    )
    (folder / "environment.yml").write_text(
        f"channels: [{conda_channels.main}]\ndependencies:\n  - python=3.11\n  - tinytool\n"
    )
    solved = solve(conda_channels.main, {"tinylib": "==1.0"})
    write_conda_lock(folder / "conda-lock.yml", conda_channels.main, solved)
    write_pixi_lock(folder / "pixi.lock", conda_channels.main, solved)
    flows.write("everykind.py", EVERY_KIND)
    registry = f"{base_images.host}/files/every"
    baked = flows.bakery(
        "bake",
        "everykind.py",
        "--registry",
        registry,
        "--base",
        base_images.oci,
        "--json",
        CONDA_CHANNELS=conda_channels.main,
    ).check()
    references = {
        step: result["reference"]
        for result in json.loads(baked.stdout).values()
        for step in result["steps"]
    }
    expected = {
        "start": "idna==3.7",
        "project": "tabulate==0.9.0",
        "uvlock": "idna==3.7",
        "pylock": "tabulate==0.9.0",
        "envyml": "tinytool==1.0",
        "condalock": "tinylib==1.0",
        "pixi": "six==1.17.0",
    }
    for step, package in expected.items():
        shown = json.loads(flows.bakery("image", "show", references[step], "--json").check().stdout)
        assert package in shown["packages"], (step, shown["packages"])


def test_publishing_with_a_registry_bakes_the_image_and_records_it(flows, base_images):
    (flows.folder / "requirements.txt").write_text("six==1.17.0\n")
    flows.bakery("lock", "--from", "requirements.txt").check()
    registry = f"{base_images.host}/files/named"
    published = flows.bakery(
        "env",
        "publish",
        "--lock",
        "requirements.bakery.lock",
        "--step",
        "env",
        "img/base:1",
        "--registry",
        registry,
        "--base",
        base_images.oci,
    ).check()
    assert f"image {registry}:" in published.output
    shown = json.loads(flows.bakery("env", "show", "img/base:1", "--json").check().stdout)
    image = shown["platforms"]["linux-64"]["image"]
    packages = json.loads(flows.bakery("image", "show", image, "--json").check().stdout)["packages"]
    assert "six==1.17.0" in packages
