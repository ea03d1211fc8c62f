"""Package snapshots: stored once in the datastore, enough to rebuild with PyPI unreachable."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.fixtures.conda_channel import serve_channels
from tests.fixtures.condabuild import host_python
from tests.fixtures.flows import two_step_flow
from tests.fixtures.remote import bootstrap, code_package, run_in_env

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = two_step_flow("SnapFlow", start='@pypi(packages={"tabulate": "0.9.0", "six": "1.17.0"})')
CONDA_FLOW = two_step_flow(
    "CondaSnapFlow",
    start='@conda(packages={"tinylib": "1.0", "tinytool": ""})\n@pypi(packages={"six": "1.17.0"})',
    end="@conda(disabled=True)",
)


@pytest.mark.compat
def test_remote_bootstrap_rebuilds_from_the_snapshot_alone(flows, tmp_path):
    flow = flows.write("snap.py", FLOW)
    first = flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always").check()
    assert "Stored" in first.output
    second = flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always").check()
    assert "Stored" not in second.output, "a second run must not store anything again"

    remote, lock = code_package(flows, flow, tmp_path)
    result = bootstrap(
        remote,
        "snap.bakery.lock",
        lock["steps"]["start"]["linux-64"],
        "local",
        METAFLOW_DATASTORE_SYSROOT_LOCAL=flows.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"],
        HOME=str(tmp_path / "home"),
        UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    check = run_in_env(remote, "import tabulate, six; print(tabulate.__version__, six.__version__)")
    assert check.stdout.split() == ["0.9.0", "1.17.0"], check.stderr


def test_conda_env_bootstraps_without_rattler_or_the_channel(flows, conda_channels, tmp_path):
    flow = flows.write("condasnap.py", CONDA_FLOW)
    with serve_channels(conda_channels, tmp_path) as served:
        flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always", CONDA_CHANNELS=served.main).check()
        remote, lock = code_package(flows, flow, tmp_path, CONDA_CHANNELS=served.main)
    # the channel is gone now; the remote machine has a bare Python: no rattler, no uv
    bare = [str(host_python()[0]), "-s"]
    offline = {"HOME": str(tmp_path / "home"), "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache")}
    no_rattler = subprocess.run([*bare, "-c", "import rattler"], env=offline, capture_output=True)
    assert no_rattler.returncode != 0, "the bare interpreter must not have rattler"

    env_id = lock["steps"]["start"]["linux-64"]
    offline["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = flows.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]
    result = bootstrap(remote, "condasnap.bakery.lock", env_id, "local", *bare, **offline)
    assert result.returncode == 0, result.stderr + result.stdout
    check = run_in_env(remote, "import tinylib, six; print(tinylib.VERSION, six.__version__)")
    assert check.stdout.split() == ["1.0", "1.17.0"], check.stderr
    assert os.access(remote / "bakery-env" / "bin" / "tinytool", os.X_OK)


def test_bootstrap_without_a_snapshot_says_how_to_make_one(flows, tmp_path):
    flow = flows.write("snap.py", FLOW)
    flows.run(flow).check()  # local datastore, no snapshot
    remote, lock = code_package(flows, flow, tmp_path)
    env_id = lock["steps"]["start"]["linux-64"]
    empty = str(tmp_path / "empty-datastore")
    result = bootstrap(
        remote, "snap.bakery.lock", env_id, "local", METAFLOW_DATASTORE_SYSROOT_LOCAL=empty
    )
    assert result.returncode == 1
    assert "no package snapshot" in result.stderr and "Traceback" not in result.stderr
