"""`--with container`: every task runs in its image with podman, the way a pod would run it;
with fast-bakery the images are baked from the lock, and a second run bakes nothing."""

from __future__ import annotations

import json
import re

import pytest

from tests.flows.test_fast_bakery import own_prefix

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.container]

FLOW = """
from metaflow import FlowSpec, pypi, step

class BoxedFlow(FlowSpec):
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def start(self):
        import os, sys, boto3, tabulate
        self.where = (os.environ.get("METAFLOW_CONTAINER_IMAGE", ""), sys.prefix)
        self.table = tabulate.tabulate([["a", 1]])
        print("start ran in", self.where)
        print("boto3 from", boto3.__file__)
        self.next(self.end)

    @step
    def end(self):
        import os
        assert self.table.strip().startswith("-"), self.table
        print("end read", self.where, "and ran in", os.environ.get("METAFLOW_CONTAINER_IMAGE"))

if __name__ == "__main__":
    BoxedFlow()
"""


@pytest.fixture
def container_env(s3_datastore, base_images, monkeypatch):
    monkeypatch.setenv(
        "BAKERY_CONTAINER_ARGS", "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
    )
    return {
        **own_prefix(s3_datastore),
        "METAFLOW_BAKERY_REGISTRY": f"{base_images.host}/boxed/envs",
        "METAFLOW_BAKERY_BASE_IMAGE": base_images.oci,
        "BAKERY_CONTAINER_ARGS": "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024",
    }


@pytest.mark.compat
def test_fast_bakery_runs_every_step_in_its_baked_image(flows, container_env, base_images):
    flow = flows.write("boxed.py", FLOW)
    first = flows.run(
        flow, "run", "--with", "container", environment="fast-bakery", **container_env
    )
    first.check()
    registry = f"{base_images.host}/boxed/envs"
    assert "start ran in ('%s:" % registry in first.output
    where = re.search(r"start ran in .*", first.output).group(0)
    # the image's environment, in a venv over the image's Python: nothing bootstrapped
    assert where.endswith("', '/tmp/metaflow/bakery-env')"), where
    assert "boto3 from /tmp/metaflow/bakery-env/lib/python3.11/site-packages/" in first.output
    assert "Bootstrapping Bakery environment" not in first.output
    assert (
        "end read ('%s:" % registry in first.output and "and ran in %s:" % registry in first.output
    )
    assert first.output.count("baked in") == 2  # two environments (start has tabulate)
    run_id = re.search(r"run-id (\d+)", first.output).group(1)
    verified = flows.bakery("verify", f"BoxedFlow/{run_id}", "--json", **container_env)
    assert verified.returncode == 0, verified.output
    checks = json.loads(verified.stdout)
    assert {c["verdict"] for c in checks} == {"match"} and len(checks) == 2
    assert all(c["image"].startswith(registry + ":") for c in checks)

    again = flows.run(
        flow, "run", "--with", "container", environment="fast-bakery", **container_env
    )
    again.check()
    assert "baked in" not in again.output and again.output.count("up to date") == 2


def test_a_local_datastore_it_cannot_find_at_its_path_is_one_clear_error(flows):
    """The container finds the local datastore through METAFLOW_DATASTORE_SYSROOT_LOCAL, the
    folder holding `.metaflow`: a `.metaflow` link Metaflow resolves elsewhere cannot be named so."""
    (flows.folder / "store").mkdir()
    (flows.folder / ".metaflow").symlink_to(flows.folder / "store")
    del flows.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]  # found from the flow's folder
    result = flows.run(flows.write("local.py", FLOW), "run", "--with", "container")
    assert result.returncode != 0
    assert "The local datastore cannot be shared with the task's container" in result.output
    assert "METAFLOW_DATASTORE_SYSROOT_LOCAL" in result.output and "store" in result.output
    assert "Traceback" not in result.output and "Workflow starting" not in result.output


def test_a_third_party_image_gets_the_environment_from_the_snapshot(
    flows, container_env, base_images, tmp_path
):
    """--environment=pypi and an image of the user's: the task's environment is rebuilt in the
    container from the package snapshot in S3 (no PyPI inside), as on Kubernetes. The image only
    needs what Metaflow needs in any image: Python with its datastore client (this one has boto3
    and says so, as containers here cannot reach PyPI for Metaflow's own `pip install boto3`)."""
    from bakery.image.bake import BakeOptions, bake
    from tests.image.locks import lock

    third_party = bake(
        lock(("boto3==1.35.0", "requests==2.32.3")),
        base=base_images.oci,
        repository=f"{base_images.host}/vendor/python-aws",
        options=BakeOptions(
            cache_dir=tmp_path / "vendor",
            progress=False,
            env={"METAFLOW_SKIP_INSTALL_DEPENDENCIES": "1"},
        ),
    ).reference
    flow = flows.write("third.py", FLOW)
    env = {k: v for k, v in container_env.items() if not k.startswith("METAFLOW_BAKERY_")}
    result = flows.run(
        flow, "run", "--with", f"container:image={third_party}", environment="pypi", **env
    )
    result.check()
    assert "start ran in ('%s', '/tmp/metaflow/bakery-env')" % third_party in result.output
    assert "Bootstrapping Bakery environment" in result.output
    # the locked boto3, not the image's (on the PYTHONPATH Bakery's baked images set)
    assert "boto3 from /tmp/metaflow/bakery-env/lib/python3.11/site-packages/" in result.output
