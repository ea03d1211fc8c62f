"""Package snapshots: stored once in the datastore, enough to rebuild with PyPI unreachable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.fixtures.conda_channel import serve_channels
from tests.fixtures.condabuild import host_python
from tests.fixtures.flows import two_step_flow

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = two_step_flow("SnapFlow", start='@pypi(packages={"tabulate": "0.9.0", "six": "1.17.0"})')
CONDA_FLOW = two_step_flow(
    "CondaSnapFlow",
    start='@conda(packages={"tinylib": "1.0", "tinytool": ""})\n@pypi(packages={"six": "1.17.0"})',
    end="@conda(disabled=True)",
)

# everything a task could use to reach a package index points at a closed port
OFFLINE = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_CONFIG_FILE": "/dev/null",
}


def _code_package(flows, flow: Path, dest: Path, **env: str) -> tuple[Path, dict]:
    """Save the flow's code package and extract it as a remote task would; returns the task
    folder and the lockfile it carries."""
    job = dest / "job.tar"
    flows.run(flow, "package", "save", str(job), environment="conda", **env).check()
    remote = dest / "remote"
    remote.mkdir()
    with tarfile.open(job) as tar:
        tar.extractall(remote, filter="data")
    return remote, json.loads((remote / flow.name.replace(".py", ".bakery.lock")).read_text())


def _bootstrap(
    remote: Path, lockfile: str, env_id: str, datastore: str, *python: str, **env: str
) -> subprocess.CompletedProcess:
    """Run the bootstrap in `remote` as a task's bootstrap commands do, offline."""
    return subprocess.run(
        [*(python or [sys.executable]), "-m", "metaflow_extensions.bakery.plugins.bootstrap"]
        + [lockfile, env_id, "local", "bakery-env"],
        cwd=remote,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(remote / ".mf_code"),
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": datastore,
            **OFFLINE,
            **env,
        },
    )


def _run_in_env(remote: Path, code: str) -> subprocess.CompletedProcess:
    python = remote / "bakery-env" / "bin" / "python"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True)


def test_remote_bootstrap_rebuilds_from_the_snapshot_alone(flows, tmp_path):
    flow = flows.write("snap.py", FLOW)
    first = flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always").check()
    assert "Stored" in first.output
    second = flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always").check()
    assert "Stored" not in second.output, "a second run must not store anything again"

    remote, lock = _code_package(flows, flow, tmp_path)
    bootstrap = _bootstrap(
        remote,
        "snap.bakery.lock",
        lock["steps"]["start"]["linux-64"],
        flows.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"],
        HOME=str(tmp_path / "home"),
        UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
    )
    assert bootstrap.returncode == 0, bootstrap.stderr + bootstrap.stdout
    check = _run_in_env(
        remote, "import tabulate, six; print(tabulate.__version__, six.__version__)"
    )
    assert check.stdout.split() == ["0.9.0", "1.17.0"], check.stderr


def test_conda_env_bootstraps_without_rattler_or_the_channel(flows, conda_channels, tmp_path):
    flow = flows.write("condasnap.py", CONDA_FLOW)
    with serve_channels(conda_channels, tmp_path) as served:
        flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always", CONDA_CHANNELS=served.main).check()
        remote, lock = _code_package(flows, flow, tmp_path, CONDA_CHANNELS=served.main)
    # the channel is gone now; the remote machine has a bare Python: no rattler, no uv
    bare = [str(host_python()[0]), "-s"]
    offline = {"HOME": str(tmp_path / "home"), "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache")}
    no_rattler = subprocess.run([*bare, "-c", "import rattler"], env=offline, capture_output=True)
    assert no_rattler.returncode != 0, "the bare interpreter must not have rattler"

    env_id = lock["steps"]["start"]["linux-64"]
    datastore = flows.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]
    bootstrap = _bootstrap(remote, "condasnap.bakery.lock", env_id, datastore, *bare, **offline)
    assert bootstrap.returncode == 0, bootstrap.stderr + bootstrap.stdout
    check = _run_in_env(remote, "import tinylib, six; print(tinylib.VERSION, six.__version__)")
    assert check.stdout.split() == ["1.0", "1.17.0"], check.stderr
    assert os.access(remote / "bakery-env" / "bin" / "tinytool", os.X_OK)


def test_bootstrap_without_a_snapshot_says_how_to_make_one(flows, tmp_path):
    flow = flows.write("snap.py", FLOW)
    flows.run(flow).check()  # local datastore, no snapshot
    remote, lock = _code_package(flows, flow, tmp_path)
    env_id = lock["steps"]["start"]["linux-64"]
    result = _bootstrap(remote, "snap.bakery.lock", env_id, str(tmp_path / "empty-datastore"))
    assert result.returncode == 1
    assert "no package snapshot" in result.stderr and "Traceback" not in result.stderr
