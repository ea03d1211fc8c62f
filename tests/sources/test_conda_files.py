"""environment.yml (resolved), conda-lock.yml and pixi.lock (pinned), for the step's platform."""

from __future__ import annotations

import pytest

from bakery.errors import SourceFileError
from bakery.sources import step_files
from bakery.sources.compose import Named, SourcePlan
from bakery.sources.pinned import lock_pinned
from bakery.spec import EnvSpec, TargetPlatform
from tests.fixtures.lockfiles import SIX_SHA256, solve, write_conda_lock, write_pixi_lock

LINUX = TargetPlatform.parse("linux-64")


def files_of(tmp_path, attribute, value, groups=()):
    plan = SourcePlan(groups=tuple(groups))
    named = Named("conda", attribute, value, "conda")
    if attribute == "lockfile":
        plan.whole = named
    else:
        plan.files = [named]
    return step_files(plan, tmp_path, platform=LINUX, python="3.11")


def test_environment_yml_channels_match_specs_python_and_pip(tmp_path):
    (tmp_path / "environment.yml").write_text(
        "name: demo\nprefix: /home/someone/envs/demo\n"
        "channels: [conda-forge, defaults]\n"
        "dependencies:\n"
        "  - python=3.11\n  - numpy>=1.26,<2\n  - conda-forge::scipy=1.11\n  - pip\n"
        "  - pip:\n    - six==1.17.0\n    - -r requirements.txt\n"
    )
    (tmp_path / "requirements.txt").write_text("tabulate==0.9.0\n")
    files = files_of(tmp_path, "environment", "environment.yml")
    assert files.python == "3.11"
    assert files.channels == ("conda-forge",)
    assert [(r.name, r.specifier, r.channel) for r in files.conda] == [
        ("numpy", ">=1.26,<2", None),
        ("scipy", "1.11.*", "conda-forge"),
    ]
    assert [r.pep508() for r in files.pypi] == ["six==1.17.0", "tabulate==0.9.0"]
    assert [f.path for f in files.files] == ["environment.yml", "requirements.txt"]


def test_environment_yml_variables_and_bad_items_are_refused(tmp_path):
    (tmp_path / "environment.yml").write_text("dependencies: [python=3.11]\nvariables: {A: 1}\n")
    with pytest.raises(SourceFileError, match="variables"):
        files_of(tmp_path, "environment", "environment.yml")
    (tmp_path / "environment.yml").write_text("dependencies: [{conda: x}]\n")
    with pytest.raises(SourceFileError, match="item 1"):
        files_of(tmp_path, "environment", "environment.yml")


@pytest.mark.parametrize(
    "name, writer", [("pixi.lock", write_pixi_lock), ("conda-lock.yml", write_conda_lock)]
)
def test_conda_lockfiles_are_taken_as_they_are(tmp_path, conda_channels, name, writer):
    solved = solve(conda_channels.main, {"tinylib": "==1.0", "tinytool": ""})
    writer(tmp_path / name, conda_channels.main, solved)
    files = files_of(tmp_path, "lockfile", name)
    assert files.python == "3.11" and files.pinned.format in ("pixi.lock", "conda-lock")
    spec = EnvSpec(python=files.python, platform=LINUX, files=files.files, pinned=files.pinned)
    env = lock_pinned(spec, tmp_path)
    by_name = {p.name: p for p in env.packages}
    assert {p.sha256 for p in solved} <= {p.sha256 for p in env.packages}
    assert by_name["six"].kind == "pypi" and by_name["six"].sha256 == SIX_SHA256
    # how a noarch package links comes with its record (read from the archive for conda-lock)
    assert by_name["tinylib"].record["noarch"] == "python"
    assert env.python == "3.11"


def test_a_conda_lock_without_the_step_platform_names_the_ones_it_has(tmp_path, conda_channels):
    solved = solve(conda_channels.main, {"tinylib": "==1.0"}, platform="linux-aarch64")
    write_conda_lock(tmp_path / "conda-lock.yml", conda_channels.main, solved, "linux-aarch64")
    with pytest.raises(SourceFileError, match="no packages for linux-64.*linux-aarch64"):
        files_of(tmp_path, "lockfile", "conda-lock.yml")
    write_pixi_lock(tmp_path / "pixi.lock", conda_channels.main, solved, "linux-aarch64")
    with pytest.raises(SourceFileError, match="not locked for linux-64.*linux-aarch64"):
        files_of(tmp_path, "lockfile", "pixi.lock")
    with pytest.raises(SourceFileError, match="no pixi environment 'gpu'.*default"):
        files_of(tmp_path, "lockfile", "pixi.lock", groups=["gpu"])
