"""Real flows whose environments come from the files teams already have: requirements.txt,
pyproject.toml, uv.lock and pylock.toml made by uv, environment.yml, conda-lock.yml and
pixi.lock (from a real solve of the test channel); `--environment=uv` as core Metaflow names it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from bakery.uvbin import uv_binary
from tests.fixtures.flows import assert_clean_failure
from tests.fixtures.lockfiles import solve, write_conda_lock, write_pixi_lock

pytestmark = [pytest.mark.slow, pytest.mark.network]

PYPROJECT = """
[project]
name = "team-project"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["six==1.16.0"]

[project.optional-dependencies]
train = ["tabulate==0.9.0"]

[dependency-groups]
dev = ["idna==3.7"]
"""

PYPI_FLOW = """
from metaflow import FlowSpec, pypi, pypi_base, step

@pypi_base(requirements="requirements.txt")
class FilesFlow(FlowSpec):
    @step
    def start(self):
        import six
        print("start six", six.__version__)
        self.next(self.project)

    @pypi(pyproject="project/pyproject.toml", groups=["train"])
    @step
    def project(self):
        import six, tabulate
        print("project", six.__version__, tabulate.__version__)
        self.next(self.locked)

    @pypi(lockfile="project/uv.lock", groups=["dev"])
    @step
    def locked(self):
        import idna, six
        print("locked", six.__version__, idna.__version__)
        self.next(self.end)

    @pypi(lockfile="pylock.toml")
    @step
    def end(self):
        import tabulate
        print("pylock", tabulate.__version__)

if __name__ == "__main__":
    FilesFlow()
"""


def uv_project(folder):
    project = folder / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    subprocess.run([uv_binary(), "lock", "-q"], cwd=project, check=True)
    subprocess.run(
        [
            uv_binary(),
            "export",
            "--format",
            "pylock.toml",
            "--all-extras",
            "-q",
            "-o",
            str(folder / "pylock.toml"),
        ],
        cwd=project,
        check=True,
    )
    return project


def resolved_steps(output: str) -> list[str]:
    found = re.search(r"re-resolved: (.*)", output)
    return found.group(1).split(", ") if found else []


def test_pypi_files_per_step_and_an_edit_relocks_only_its_steps(flows):
    (flows.folder / "requirements.txt").write_text("six==1.17.0\n")
    uv_project(flows.folder)
    flow = flows.write("files.py", PYPI_FLOW)
    run = flows.run(flow).check()
    assert "start six 1.17.0" in run.output
    assert "project 1.16.0 0.9.0" in run.output
    assert "locked 1.16.0 3.7" in run.output
    assert "pylock 0.9.0" in run.output

    listed = flows.run(flow, "package", "list").check().output
    for name in ("requirements.txt", "project/pyproject.toml", "project/uv.lock", "pylock.toml"):
        assert name in listed, name

    (flows.folder / "requirements.txt").write_text("six==1.16.0\n")
    relock = flows.bakery("lock", "files.py").check()
    # only the steps the file feeds (project's pyproject adds to the flow's requirements);
    # the steps on whole lockfiles are untouched
    assert resolved_steps(relock.output) == ["project", "start"]
    lock = json.loads((flows.folder / "files.bakery.lock").read_text())
    locked = lock["specs"]["locked"]["linux-64"]
    assert locked["pinned"] == {"format": "uv.lock", "path": "project/uv.lock", "groups": ["dev"]}
    assert [f["path"] for f in locked["files"]] == ["project/uv.lock", "project/pyproject.toml"]


def test_conflicting_sources_stop_the_run_naming_the_step(flows):
    uv_project(flows.folder)
    flow = flows.write(
        "clash.py",
        PYPI_FLOW.replace(
            '@pypi(lockfile="pylock.toml")', '@pypi(lockfile="pylock.toml", packages={"six": ""})'
        ),
    )
    (flows.folder / "requirements.txt").write_text("six\n")
    before = flows.cached_envs()
    result = flows.run(flow)
    assert_clean_failure(
        flows,
        result,
        "step 'end'",
        "@pypi(lockfile='pylock.toml')",
        "@pypi(packages={'six': ''})",
        cached_before=before,
    )


UV_FLOW = """
from metaflow import FlowSpec, pypi, step

class UvProjectFlow(FlowSpec):
    @step
    def start(self):
        import six
        try:
            import tabulate
            self.tabulate = True
        except ImportError:
            self.tabulate = False
        print("start", six.__version__, "tabulate" if self.tabulate else "no tabulate")
        self.next(self.end)

    @pypi(groups=["train"])
    @step
    def end(self):
        import six, tabulate
        print("end", six.__version__, tabulate.__version__)

if __name__ == "__main__":
    UvProjectFlow()
"""


@pytest.mark.compat
def test_a_flow_written_for_environment_uv_runs_with_per_step_environments(flows):
    project = uv_project(flows.folder)
    flow = project / "flows" / "train.py"
    flow.parent.mkdir()
    flow.write_text(UV_FLOW)  # the project is found from the flow's folder upwards
    run = flows.run(flow, environment="uv").check()
    assert "start 1.16.0 no tabulate" in run.output and "end 1.16.0 0.9.0" in run.output
    lock = json.loads((flow.parent / "train.bakery.lock").read_text())
    assert lock["specs"]["start"]["linux-64"]["pinned"]["path"] == "../uv.lock"
    listed = flows.run(flow, "package", "list", environment="uv").check().output
    assert "uv.lock" in listed and "pyproject.toml" in listed
    shown = flows.bakery("env", "show", str(flow), "--environment", "uv").check().output
    assert "requested: ../uv.lock (groups: train) as it is; plus requests" in shown


def test_environment_uv_without_a_project_says_how_to_make_one(flows):
    flow = flows.write("lonely.py", UV_FLOW)
    result = flows.run(flow, environment="uv")
    assert result.returncode != 0 and "uv lock" in result.output
    assert "Traceback" not in result.output


CONDA_FLOW = """
from metaflow import FlowSpec, conda, conda_base, step

@conda_base({attribute}="{file}")
class CondaFilesFlow(FlowSpec):
    @step
    def start(self):
        import subprocess, six, tinylib
        tool = subprocess.run(["tinytool"], capture_output=True, text=True).stdout.split()[:2]
        print("conda file", tinylib.VERSION, six.__version__, *tool)
        self.next(self.end)

    @conda(disabled=True)
    @step
    def end(self):
        pass

if __name__ == "__main__":
    CondaFilesFlow()
"""


@pytest.mark.parametrize(
    "attribute, name",
    [("environment", "environment.yml"), ("lockfile", "conda-lock.yml"), ("lockfile", "pixi.lock")],
)
def test_conda_files_make_the_step_environment(flows, conda_channels, attribute, name):
    path = flows.folder / name
    if name == "environment.yml":
        path.write_text(
            f"channels: [{conda_channels.main}]\n"
            "dependencies:\n  - python=3.11\n  - tinylib=1.0\n  - tinytool\n"
            "  - pip:\n    - six==1.17.0\n"
        )
    else:
        solved = solve(conda_channels.main, {"tinylib": "==1.0", "tinytool": ""})
        writer = write_conda_lock if name == "conda-lock.yml" else write_pixi_lock
        writer(path, conda_channels.main, solved)
    flow = flows.write("condafiles.py", CONDA_FLOW.format(attribute=attribute, file=name))
    run = flows.run(flow, environment="conda").check()
    assert "conda file 1.0 1.17.0 tinytool 1.0" in run.output
    assert name in flows.run(flow, "package", "list", environment="conda").check().output
