"""Bakery installed beside another Metaflow extension distribution, as users install it.

Metaflow finds installed extension distributions by `metaflow_extensions` in their
`top_level.txt`; one without it is found only by a PYTHONPATH walk that stops at the first
installed distribution owning the folder. So with any other extension installed, a Bakery
without `top_level.txt` silently vanishes and `--environment=pypi` falls back to core Metaflow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.flows import FlowRunner

from .other_extension import build_wheel, write_other_extension

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.network]

PLUGINS = """
import json
from metaflow.plugins import ENVIRONMENTS, STEP_DECORATORS
print(json.dumps({
    "pypi": [e.__module__ for e in ENVIRONMENTS if e.TYPE == "pypi"],
    "conda": [e.__module__ for e in ENVIRONMENTS if e.TYPE == "conda"],
    "decorators": sorted(d.name for d in STEP_DECORATORS),
}))
"""

FLOW = """
from metaflow import FlowSpec, acme_stamp, pypi, step


class BesideFlow(FlowSpec):
    @acme_stamp(value="stamped")
    @pypi(packages={"six": "1.16.0"})
    @step
    def start(self):
        import sys

        import six

        self.six_version = six.__version__
        self.interpreter = sys.executable
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BesideFlow()
"""


def _venv(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "uv", "venv", "-q", "--seed", "--python", sys.executable, folder],
        check=True,
    )
    return folder / "bin" / "python"


def _plugins(python: Path) -> dict:
    out = subprocess.run(
        [str(python), "-c", PLUGINS], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """Bakery's wheel (built from its sdist) and the other extension's."""
    root = tmp_path_factory.mktemp("wheels")
    other = write_other_extension(root / "acme-src")
    return {
        "bakery": build_wheel(REPO, root / "bakery"),
        "other": build_wheel(other, root / "acme"),
    }


@pytest.fixture(scope="module")
def pip_venv(tmp_path_factory, wheels) -> Path:
    """A fresh venv where pip installed both wheels (and their dependencies from the index)."""
    python = _venv(tmp_path_factory.mktemp("beside") / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", wheels["bakery"], wheels["other"]],
        check=True,
    )
    return python


def test_wheel_carries_top_level_txt(wheels):
    import zipfile

    with zipfile.ZipFile(wheels["bakery"]) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/top_level.txt"))
        assert "metaflow_extensions" in wheel.read(name).decode().split()


def test_metaflow_loads_both_extensions(pip_venv):
    plugins = _plugins(pip_venv)
    assert plugins["pypi"] == ["metaflow_extensions.bakery.plugins.environments.bakery_environment"]
    assert plugins["conda"] == plugins["pypi"]
    assert "acme_stamp" in plugins["decorators"]


def test_pypi_flow_runs_in_bakery_env_beside_other_plugin(pip_venv, tmp_path):
    flows = FlowRunner(tmp_path, tmp_path / "cache", python=str(pip_venv))
    flow = flows.write("beside_flow.py", FLOW)
    result = flows.run(flow).check()
    assert "step environment(s) in beside_flow.bakery.lock" in result.output
    read = (
        "import json; from metaflow import Flow, namespace; namespace(None); "
        "t = Flow('BesideFlow').latest_run['start'].task; "
        "print(json.dumps({k: t[k].data for k in ('acme_stamp', 'six_version', 'interpreter')}))"
    )
    out = subprocess.run(
        [str(pip_venv), "-c", read],
        cwd=tmp_path,
        env=flows.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    artifacts = json.loads(out.strip().splitlines()[-1])
    assert artifacts["acme_stamp"] == "stamped"
    assert artifacts["six_version"] == "1.16.0"
    assert artifacts["interpreter"].startswith(str(tmp_path / "cache"))


def test_editable_install_is_found_beside_other_extension(tmp_path, wheels):
    python = _venv(tmp_path / "venv")
    install = [sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(python)]
    subprocess.run([*install, wheels["other"], "-e", str(REPO)], check=True)
    plugins = _plugins(python)
    assert plugins["pypi"] == ["metaflow_extensions.bakery.plugins.environments.bakery_environment"]
    assert "acme_stamp" in plugins["decorators"]


def _doctor(python: Path, **env: str) -> tuple[int, list[dict]]:
    proc = subprocess.run(
        [str(python), "-m", "bakery.cli.main", "doctor", "--json"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    return proc.returncode, json.loads(proc.stdout)


def test_doctor_sees_bakery_beside_the_other_extension(pip_venv):
    code, checks = _doctor(pip_venv)
    loaded = checks[0]
    assert code == 0, checks
    assert loaded["status"] == "ok" and "acme-metaflow-ext" in loaded["detail"]


def test_doctor_fails_and_says_why_when_metaflow_cannot_see_bakery(tmp_path, wheels):
    python = _venv(tmp_path / "venv")
    install = [sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(python)]
    subprocess.run([*install, wheels["bakery"], wheels["other"]], check=True)
    # an install whose dist-info lacks top_level.txt, as the hatchling wheel of 2bbc8a8 was
    (dist_info,) = (tmp_path / "venv").glob("lib/python*/site-packages/metaflow_bakery-*.dist-info")
    (dist_info / "top_level.txt").unlink()
    assert _plugins(python)["pypi"] != [
        "metaflow_extensions.bakery.plugins.environments.bakery_environment"
    ]
    code, checks = _doctor(python)
    assert code == 1
    assert checks[0]["status"] == "fail"
    assert "top_level.txt" in checks[0]["detail"] and "acme-metaflow-ext" in checks[0]["detail"]
