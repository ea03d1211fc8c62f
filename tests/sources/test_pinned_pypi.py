"""uv.lock and pylock.toml, made by the real uv, taken as they are: the file's pins and hashes,
the artifact an installer would pick for the step's platform, extras and groups as named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bakery.errors import SourceFileError
from bakery.sources import step_files
from bakery.sources.compose import Named, SourcePlan
from bakery.sources.pinned import lock_pinned
from bakery.spec import EnvSpec, Requirement, TargetPlatform
from bakery.uvbin import uv_binary

pytestmark = [pytest.mark.network]

PYPROJECT = """
[project]
name = "demo"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["markupsafe==3.0.2", "colorama==0.4.6; sys_platform == 'win32'"]

[project.optional-dependencies]
train = ["six==1.17.0"]

[dependency-groups]
dev = ["idna==3.7"]
"""


@pytest.fixture(scope="module")
def uv_project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uvproject")
    (folder / "pyproject.toml").write_text(PYPROJECT)
    subprocess.run([uv_binary(), "lock", "-q"], cwd=folder, check=True)
    return folder


def spec_for(folder, lockfile, platform, groups=(), pypi=()):
    plan = SourcePlan(whole=Named("pypi", "lockfile", lockfile, "pypi"), groups=tuple(groups))
    target = TargetPlatform.parse(platform)
    python = "%d.%d" % sys.version_info[:2]
    files = step_files(plan, folder, platform=target, python=python)
    return EnvSpec(
        python=python, pypi=pypi, platform=target, files=files.files, pinned=files.pinned
    )


def wheels(env) -> dict[str, str]:
    return {p.name: p.filename for p in env.packages}


def test_uv_lock_gives_each_platform_its_wheel_with_the_lock_hash(uv_project):
    linux = lock_pinned(spec_for(uv_project, "uv.lock", "linux-64"), uv_project)
    mac = lock_pinned(spec_for(uv_project, "uv.lock", "osx-arm64"), uv_project)
    assert set(wheels(linux)) == {"markupsafe"}  # no colorama (windows), no dev group
    assert "manylinux" in wheels(linux)["markupsafe"] and "x86_64" in wheels(linux)["markupsafe"]
    assert "macosx" in wheels(mac)["markupsafe"] and "arm64" in wheels(mac)["markupsafe"]
    lock_text = (uv_project / "uv.lock").read_text()
    for env in (linux, mac):
        (package,) = env.packages
        assert package.sha256 in lock_text and package.version == "3.0.2"


def test_groups_pick_extras_and_dependency_groups(uv_project):
    env = lock_pinned(spec_for(uv_project, "uv.lock", "linux-64", ["train", "dev"]), uv_project)
    assert {p.name: p.version for p in env.packages} == {
        "markupsafe": "3.0.2",
        "six": "1.17.0",
        "idna": "3.7",
    }
    with pytest.raises(SourceFileError, match="group 'nope'.*dev, train"):
        lock_pinned(spec_for(uv_project, "uv.lock", "linux-64", ["nope"]), uv_project)


def test_the_spec_names_the_lock_and_its_project_by_hash(uv_project):
    spec = spec_for(uv_project, "uv.lock", "linux-64")
    assert [f.path for f in spec.files] == ["uv.lock", "pyproject.toml"]
    assert spec.pinned.format == "uv.lock"


def test_pylock_from_uv_export_is_read_the_same(uv_project):
    subprocess.run(
        [
            uv_binary(),
            "export",
            "--format",
            "pylock.toml",
            "-o",
            "pylock.toml",
            "-q",
            "--all-extras",
        ],
        cwd=uv_project,
        check=True,
    )
    env = lock_pinned(spec_for(uv_project, "pylock.toml", "linux-64"), uv_project)
    assert {p.name for p in env.packages} >= {"markupsafe", "six"}
    assert "demo" not in {p.name for p in env.packages}


def test_what_metaflow_needs_is_added_under_the_lock_pins(uv_project):
    needs = (Requirement("requests", ">=2.21.0"),)
    env = lock_pinned(spec_for(uv_project, "uv.lock", "linux-64", pypi=needs), uv_project)
    names = {p.name: p.version for p in env.packages}
    assert "requests" in names and names["markupsafe"] == "3.0.2"


def test_a_lock_that_does_not_admit_the_step_python_is_refused(uv_project, tmp_path):
    subprocess.run(
        [
            uv_binary(),
            "export",
            "--format",
            "pylock.toml",
            "-o",
            str(tmp_path / "pylock.toml"),
            "-q",
        ],
        cwd=uv_project,
        check=True,
    )
    text = (tmp_path / "pylock.toml").read_text()
    (tmp_path / "pylock.toml").write_text(
        text.replace('requires-python = ">=3.10"', 'requires-python = ">=3.99"')
    )
    with pytest.raises(SourceFileError, match="cannot be installed for Python.*3.99"):
        lock_pinned(spec_for(tmp_path, "pylock.toml", "linux-64"), tmp_path)


def test_an_edited_file_is_refused_until_the_spec_is_made_again(uv_project, tmp_path):
    (tmp_path / "pyproject.toml").write_text((uv_project / "pyproject.toml").read_text())
    (tmp_path / "uv.lock").write_text((uv_project / "uv.lock").read_text())
    spec = spec_for(tmp_path, "uv.lock", "linux-64")
    (tmp_path / "uv.lock").write_text((uv_project / "uv.lock").read_text() + "\n")
    with pytest.raises(SourceFileError, match="changed"):
        lock_pinned(spec, tmp_path)
    assert spec_for(tmp_path, "uv.lock", "linux-64").spec_hash != spec.spec_hash
