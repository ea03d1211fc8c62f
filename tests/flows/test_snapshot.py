"""Package snapshots: stored once in the datastore, enough to rebuild with PyPI unreachable."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = """
from metaflow import FlowSpec, pypi, step

class SnapFlow(FlowSpec):
    @pypi(packages={"tabulate": "0.9.0", "six": "1.17.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SnapFlow()
"""

# everything a task could use to reach a package index points at a closed port
OFFLINE = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_CONFIG_FILE": "/dev/null",
}


def test_remote_bootstrap_rebuilds_from_the_snapshot_alone(flows, tmp_path):
    flow = flows.write("snap.py", FLOW)
    first = flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always").check()
    assert "Stored" in first.output
    second = flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always").check()
    assert "Stored" not in second.output, "a second run must not store anything again"

    job = tmp_path / "job.tar"
    flows.run(flow, "package", "save", str(job)).check()
    remote = tmp_path / "remote"
    remote.mkdir()
    with tarfile.open(job) as tar:
        tar.extractall(remote, filter="data")
    lock = json.loads((remote / "snap.bakery.lock").read_text())
    env_id = lock["steps"]["start"]["linux-64"]

    bootstrap = subprocess.run(
        [
            sys.executable,
            "-m",
            "metaflow_extensions.bakery.plugins.bootstrap",
            "snap.bakery.lock",
            env_id,
            "local",
            "bakery-env",
        ],
        cwd=remote,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(remote / ".mf_code"),
            "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"),
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": flows.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"],
            **OFFLINE,
        },
    )
    assert bootstrap.returncode == 0, bootstrap.stderr + bootstrap.stdout
    check = subprocess.run(
        [
            str(remote / "bakery-env" / "bin" / "python"),
            "-c",
            "import tabulate, six; print(tabulate.__version__, six.__version__)",
        ],
        capture_output=True,
        text=True,
    )
    assert check.stdout.split() == ["0.9.0", "1.17.0"], check.stderr


def test_bootstrap_without_a_snapshot_says_how_to_make_one(flows, tmp_path):
    flow = flows.write("snap.py", FLOW)
    flows.run(flow).check()  # local datastore, no snapshot
    job = tmp_path / "job.tar"
    flows.run(flow, "package", "save", str(job)).check()
    remote = tmp_path / "remote"
    remote.mkdir()
    with tarfile.open(job) as tar:
        tar.extractall(remote, filter="data")
    env_id = json.loads((remote / "snap.bakery.lock").read_text())["steps"]["start"]["linux-64"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "metaflow_extensions.bakery.plugins.bootstrap",
            "snap.bakery.lock",
            env_id,
            "local",
            "bakery-env",
        ],
        cwd=remote,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(remote / ".mf_code"),
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp_path / "empty-datastore"),
            **OFFLINE,
        },
    )
    assert result.returncode == 1
    assert "no package snapshot" in result.stderr and "Traceback" not in result.stderr
