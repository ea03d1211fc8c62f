"""Each access Bakery makes to Metaflow's internals (plugins/compat.py), against the Metaflow
installed here. CI also runs this module under the lowest and the newest supported Metaflow,
each in a venv of its own (`scripts/test.sh`).

One probe run (tests/compat/probe_flow.py) exercises every access on real Metaflow objects; each
test reads one entry, so a Metaflow release that moves one internal fails one test, by name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PYTHON = sys.executable

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def probed(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("compat")
    shutil.copy(HERE / "probe_flow.py", folder / "probe_flow.py")
    env = {
        **os.environ,
        "USER": "dev",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(folder / "sysroot"),
    }
    proc = subprocess.run(
        [PYTHON, "probe_flow.py"], cwd=folder, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _value(probed: dict, name: str):
    entry = probed[name]
    assert "error" not in entry, f"Metaflow's internals moved ({name}):\n{entry['error']}"
    return entry["value"]


def test_user_defined_tells_a_users_attribute_from_a_default(probed):
    assert _value(probed, "user_defined") == {
        "kubernetes.image": True,
        "kubernetes.cpu": False,
        "pypi.packages": True,
        "pypi.python": False,
    }


def test_flow_decorators_finds_conda_base(probed):
    assert _value(probed, "flow_decorators") == ["3.11"]


def test_steps_in_order_follows_the_graph(probed):
    assert _value(probed, "steps_in_order") == ["start", "end"]


def test_written_in_flow_tells_a_decorator_in_code_from_an_added_one(probed):
    assert _value(probed, "written_in_flow") == {"written": True, "added": False}


def test_core_pypi_takes_bakerys_uv_environment_through_its_stand_in(probed):
    assert _value(probed, "as_virtual_environment") == {
        "uv": "InvalidEnvironmentException",
        "stand_in": "accepted",
        "real": True,
    }


def test_written_attributes_leave_config_expressions_out(probed):
    assert _value(probed, "written_attributes") == {
        "written": {"six": "1.17.0"},
        # Bakery's @pypi adds the attributes that name files and named environments
        "deferred": [
            "disabled",
            "groups",
            "lockfile",
            "named_env",
            "pyproject",
            "python",
            "requirements",
        ],
    }


def test_kubernetes_task_command_wraps_the_step_in_the_pod_command(probed):
    command = _value(probed, "kubernetes_task_command")
    assert command[:2] == ["bash", "-c"]
    script = command[2]
    assert "echo probe-step" in script and "Downloading code package" in script
    assert "s3://b/mf/package.tgz" in script or '"b", "mf/package.tgz"' in script
    assert "MF_PATHSPEC=CompatProbeFlow/1/start/2" in script


def test_datastore_package_root_is_cores_conda_root(probed, tmp_path_factory):
    root = _value(probed, "datastore_package_root")
    assert root.endswith("/sysroot/.metaflow/conda"), root


def test_code_package_contents_lists_metaflow_and_extensions(probed):
    contents = _value(probed, "code_package_contents")
    assert any(arc.endswith("metaflow/__init__.py") for arc in contents["code"])
    assert any("metaflow_extensions/bakery/plugins/" in arc for arc in contents["code"])
    assert contents["other"], "no INFO/meta content listed"


def test_code_package_user_members_lists_the_flow_file(probed):
    assert "probe_flow.py" in _value(probed, "code_package_user_members")


def test_conda_decorator_state_is_cores_per_class_state(probed):
    assert _value(probed, "conda_decorator_state") == {
        "before": None,
        "after": "home",
        "env_vars": {"A": "1"},
    }


def test_local_metadata_round_trips_through_the_datastore(probed):
    assert _value(probed, "local_metadata_sync") == ["CompatProbeFlow/1/start/2/_meta/probe.json"]


def test_code_package_pythonpath_is_what_core_exports_after_extracting(probed):
    assert _value(probed, "code_package_pythonpath") == ["$(pwd)/.mf_code", "/task/.mf_code"]


def test_replace_local_package_commands_puts_ours_in_the_pod_command(probed):
    command = _value(probed, "replace_local_package_commands")
    assert command[:2] == ["bash", "-c"]
    script = command[2]
    assert "cp /ds/.metaflow/Flow/data/ab/abc job.tar" in script
    assert "python --version" in script and "MF_DATASTORE=local" in script


def test_local_card_and_datatools_roots_are_cores(probed):
    roots = _value(probed, "local_roots")
    assert roots["card_folder"] == "mf.cards"
    assert roots["cards"].endswith("/.metaflow/mf.cards"), roots  # no .metaflow here or above
    assert roots["datatools"].endswith("/sysroot/data"), roots  # METAFLOW_DATASTORE_SYSROOT_LOCAL


def test_a_task_registered_in_local_metadata_is_found_by_the_client(probed):
    value = _value(probed, "register_task_in_local_metadata")
    assert value["made"] == [
        "CompatProbeFlow/_meta/_self.json",
        "CompatProbeFlow/7/_meta/_self.json",
        "CompatProbeFlow/7/start/_meta/_self.json",
        "CompatProbeFlow/7/start/3/_meta/_self.json",
    ]
    assert value["again"] == [] and value["mtimes"] == [0]
    assert value["task"] == "CompatProbeFlow/7/start/3"


def test_a_live_card_data_update_is_written_where_card_create_writes_it(probed):
    assert _value(probed, "live_card_data_writer") == {
        "path": ".metaflow/mf.cards/CompatProbeFlow/runs/5/steps/start/tasks/6/runtime/blank-probe",
        "token": "runtime",
        "sources": ["after"],
    }


def test_every_access_in_compat_has_a_probe():
    from metaflow_extensions.bakery.plugins import compat

    probes = (HERE / "probe_flow.py").read_text()
    for name in compat.__all__:
        assert f"compat.{name}(" in probes, f"compat.{name} is not probed"
