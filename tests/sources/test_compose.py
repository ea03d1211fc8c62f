"""Which sources make a step's environment: step over flow, whole environments alone."""

from __future__ import annotations

import pytest

from bakery.errors import SpecError
from bakery.sources import pinned_format, plan_sources


def plan(flow_pypi=None, step_pypi=None, flow_conda=None, step_conda=None):
    return plan_sources({"pypi": (flow_pypi, step_pypi), "conda": (flow_conda, step_conda)})


def test_step_file_attributes_replace_the_flows_and_files_add_up():
    found = plan({"requirements": "base.txt"}, {"requirements": "train.txt", "pyproject": "p.toml"})
    assert sorted((n.attribute, n.value, n.decorator) for n in found.files) == [
        ("pyproject", "p.toml", "pypi"),
        ("requirements", "train.txt", "pypi"),
    ]
    assert found.whole is None and found.flow_packages


def test_a_flow_lockfile_is_inherited_with_the_step_groups():
    found = plan({"lockfile": "uv.lock"}, {"groups": ["train"]})
    assert str(found.whole) == "@pypi_base(lockfile='uv.lock')" and found.groups == ("train",)


def test_a_step_source_of_its_own_replaces_a_flow_whole_environment():
    found = plan({"lockfile": "uv.lock"}, {"requirements": "r.txt"})
    assert found.whole is None and [n.value for n in found.files] == ["r.txt"]


def test_a_step_lockfile_drops_the_flow_packages():
    found = plan({"packages": {"pandas": "2.2"}}, {"lockfile": "uv.lock"})
    assert found.whole.value == "uv.lock" and not found.flow_packages


@pytest.mark.parametrize(
    "levels, fragments",
    [
        (
            dict(step_pypi={"lockfile": "uv.lock", "packages": {"six": ""}}),
            ["@pypi(lockfile='uv.lock')", "@pypi(packages={'six': ''})", "uv add"],
        ),
        (
            dict(flow_pypi={"lockfile": "uv.lock"}, step_pypi={"packages": {"six": ""}}),
            ["@pypi_base(lockfile='uv.lock')", "@pypi(packages="],
        ),
        (
            dict(step_pypi={"lockfile": "uv.lock"}, step_conda={"lockfile": "pixi.lock"}),
            ["each name a whole environment"],
        ),
        (
            dict(
                step_pypi={"named_env": "team/x:1"}, step_conda={"environment": "environment.yml"}
            ),
            ["@conda(environment='environment.yml')", "publish a named environment"],
        ),
        (dict(step_pypi={"requirements": "r.txt", "groups": ["x"]}), ["groups= selects"]),
    ],
)
def test_conflicting_sources_are_one_error_naming_both(levels, fragments):
    with pytest.raises(SpecError) as error:
        plan(**levels)
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("uv.lock", "uv.lock"),
        ("sub/pylock.toml", "pylock"),
        ("pylock.gpu.toml", "pylock"),
        ("conda-lock.yml", "conda-lock"),
        ("envs/pixi.lock", "pixi.lock"),
    ],
)
def test_lockfile_formats_are_known_by_name(name, fmt):
    assert pinned_format(name) == fmt


def test_an_unknown_lockfile_name_lists_those_accepted():
    with pytest.raises(SpecError, match="uv.lock, pylock.toml.*conda-lock.yml or pixi.lock"):
        pinned_format("poetry.lock")
