"""The remote path on a real S3 datastore (SeaweedFS on loopback): snapshots land in S3, Argo
manifests carry Bakery's bootstrap, and that bootstrap rebuilds from S3 with PyPI unreachable."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.remote import bootstrap, code_package, run_in_env
from tests.fixtures.s3 import s3_objects

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = """
from metaflow import FlowSpec, pypi, step

class RemoteFlow(FlowSpec):
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        import six
        self.six = six.__version__
        self.next(self.end)

    @step
    def end(self):
        assert self.six == "1.17.0"

if __name__ == "__main__":
    RemoteFlow()
"""


def test_s3_snapshot_argo_manifest_and_offline_bootstrap(flows, s3_datastore, tmp_path):
    flow = flows.write("remote.py", FLOW)
    run = flows.run(flow, **s3_datastore).check()
    assert "Stored" in run.output  # a non-local datastore snapshots automatically
    keys = s3_objects(s3_datastore, "metaflow/conda/bakery/")
    assert any(k.endswith("six-1.17.0-py2.py3-none-any.whl") for k in keys)
    assert any("/tools/uv/" in k for k in keys)

    argo = flows.run(
        flow,
        "argo-workflows",
        "create",
        "--only-json",
        **s3_datastore,
        METAFLOW_KUBERNETES_NAMESPACE="default",
    ).check()
    manifest = argo.stdout[argo.stdout.index("{") :]
    assert "metaflow_extensions.bakery.plugins.bootstrap remote.bakery.lock" in manifest
    assert "bakery-env/bin/python -s" in manifest
    env_id = json.loads((flows.folder / "remote.bakery.lock").read_text())["steps"]["start"][
        "linux-64"
    ]
    assert env_id in manifest

    remote, _ = code_package(flows, flow, tmp_path, **s3_datastore)
    result = bootstrap(
        remote,
        "remote.bakery.lock",
        env_id,
        "s3",
        HOME=str(tmp_path / "home"),
        UV_CACHE_DIR=str(tmp_path / "uv"),
        **s3_datastore,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check = run_in_env(remote, "import six; print(six.__version__)")
    assert check.stdout.strip() == "1.17.0"
