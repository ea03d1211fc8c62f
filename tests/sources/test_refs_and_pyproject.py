"""Named environment references, and pyproject.toml's dependencies and groups."""

from __future__ import annotations

import pytest

from bakery.errors import NamedEnvError, SourceFileError, SpecError
from bakery.named import parse_ref
from bakery.sources import step_files
from bakery.sources.compose import Named, SourcePlan
from bakery.spec import TargetPlatform


def test_references_default_to_latest_and_check_names_and_tags():
    assert str(parse_ref("team/torch")) == "team/torch:latest"
    assert parse_ref("team/torch:stable").is_alias
    assert parse_ref("team/torch:2024-11").key == "team%2Ftorch"
    for bad in ("Team/Torch:1", "team//torch:1", "team/torch:bad tag", "/x:1"):
        with pytest.raises(NamedEnvError):
            parse_ref(bad)
    with pytest.raises(NamedEnvError, match="names no tag"):
        parse_ref("team/torch", default_tag=None)


PYPROJECT = """
[project]
name = "p"
version = "1"
requires-python = ">=3.10"
dependencies = ["six==1.17.0", "metaflow>=2.19", "appnope; sys_platform == 'darwin'"]

[project.optional-dependencies]
Train = ["tabulate==0.9.0"]

[dependency-groups]
lint = ["idna==3.7"]
ci = [{include-group = "lint"}, "certifi"]
"""


def read(tmp_path, groups=(), python="3.11"):
    plan = SourcePlan(files=[Named("pypi", "pyproject", "pyproject.toml", "pypi")], groups=groups)
    return step_files(plan, tmp_path, platform=TargetPlatform.parse("linux-64"), python=python)


def test_project_dependencies_extras_and_dependency_groups(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    assert [r.pep508() for r in read(tmp_path).pypi] == ["six==1.17.0"]  # no metaflow, no appnope
    both = read(tmp_path, ("train", "ci"))
    assert [r.pep508() for r in both.pypi] == [
        "certifi",
        "idna==3.7",
        "six==1.17.0",
        "tabulate==0.9.0",
    ]
    with pytest.raises(SourceFileError, match="group 'gpu'.*ci, lint, train"):
        read(tmp_path, ("gpu",))


def test_a_python_the_project_does_not_support_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    with pytest.raises(SpecError, match="requires Python >=3.10.*3.9"):
        read(tmp_path, python="3.9")
