"""`bakery env get Flow/run/step`: a finished run's environment, made again on another cache
from the datastore alone, with every package index out of reach."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.fixtures.flows import two_step_flow
from tests.fixtures.remote import OFFLINE

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = two_step_flow(
    "GetFlow",
    flow='@pypi_base(requirements="requirements.txt")',
    end='@pypi(packages={"six": "1.16.0"})',
)


@pytest.fixture
def s3(s3_datastore):
    return {**s3_datastore, "METAFLOW_DATASTORE_SYSROOT_S3": "s3://bakery-test/env-get"}


def test_a_finished_runs_environment_is_recreated_offline(flows, s3, tmp_path):
    (flows.folder / "requirements.txt").write_text("six==1.17.0\ntabulate==0.9.0\n")
    flow = flows.write("get.py", FLOW)
    run = flows.run(flow, **s3).check()  # a non-local datastore: the run stores its snapshot
    assert "Stored" in run.output
    run_id = re.search(r"run-id (\d+)", run.output).group(1)

    offline = {
        **s3,
        **OFFLINE,
        "BAKERY_CACHE_DIR": str(tmp_path / "other-machine"),
        "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"),
    }
    got = flows.bakery("env", "get", f"GetFlow/{run_id}/end", **offline).check()
    python = got.stdout.strip().splitlines()[-1]
    assert python.startswith(str(tmp_path / "other-machine"))
    versions = subprocess.run(
        [python, "-c", "import six, tabulate; print(six.__version__, tabulate.__version__)"],
        capture_output=True,
        text=True,
    )
    assert versions.stdout.split() == ["1.16.0", "0.9.0"], versions.stderr

    as_json = flows.bakery("env", "get", f"GetFlow/{run_id}/end", "--json", **offline).check()
    assert '"env_id"' in as_json.stdout and python in as_json.stdout  # built once: found again
    no_image = flows.bakery("env", "get", f"GetFlow/{run_id}/start", "--image", **offline)
    assert no_image.returncode == 1 and "ran without an image" in no_image.output


def test_a_run_on_a_local_datastore_without_a_snapshot_says_why(flows, tmp_path):
    flow = flows.write("get.py", FLOW)
    (flows.folder / "requirements.txt").write_text("six==1.17.0\n")
    run = flows.run(flow).check()
    run_id = re.search(r"run-id (\d+)", run.output).group(1)
    result = flows.bakery("env", "get", f"GetFlow/{run_id}/start")
    assert result.returncode == 1 and "METAFLOW_BAKERY_SNAPSHOT=always" in result.output
    assert "Traceback" not in result.output
    bad = flows.bakery("env", "get", "GetFlow/start")
    assert bad.returncode == 1 and "Flow/run_id/step" in bad.output
