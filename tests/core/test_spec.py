"""EnvSpec normalization and its stable hash."""

from __future__ import annotations

import pytest

from bakery.errors import SpecError
from bakery.spec import (
    EnvSpec,
    Requirement,
    TargetPlatform,
    conda_requirements,
    decorator_problems,
    normalize_python,
    pypi_requirements,
)


def test_metaflow_style_versions_become_pins_and_operators_are_kept():
    reqs = pypi_requirements({"pandas": "2.2.3", "numpy": ">=1.26,<2", "Requests": ""})
    assert reqs == (
        Requirement("numpy", "<2,>=1.26"),
        Requirement("pandas", "==2.2.3"),
        Requirement("requests", ""),
    )


def test_names_are_canonicalized_so_spellings_share_a_hash():
    a = EnvSpec(python="3.11", pypi=pypi_requirements({"Scikit_Learn": "1.5.0"}))
    b = EnvSpec(python="3.11", pypi=pypi_requirements({"scikit-learn": "1.5.0"}))
    assert a.spec_hash == b.spec_hash


def test_hash_ignores_dict_order_and_changes_with_any_pin():
    a = EnvSpec(python="3.11", pypi=pypi_requirements({"a": "1", "b": "2"}))
    b = EnvSpec(python="3.11", pypi=pypi_requirements({"b": "2", "a": "1"}))
    c = EnvSpec(python="3.11", pypi=pypi_requirements({"b": "2", "a": "1.1"}))
    assert a.spec_hash == b.spec_hash != c.spec_hash


def test_hash_depends_on_python_and_platform():
    base = EnvSpec(python="3.11", platform=TargetPlatform("linux-64", "2.28"))
    assert base.spec_hash != EnvSpec(python="3.12", platform=base.platform).spec_hash
    other = EnvSpec(python="3.11", platform=TargetPlatform("linux-aarch64", "2.28"))
    assert base.spec_hash != other.spec_hash


def test_spec_round_trips_through_its_dict_form():
    spec = EnvSpec(
        python="3.11",
        pypi=pypi_requirements({"six": "1.17.0"}),
        conda=conda_requirements({"conda-forge::numpy": "1.26.4"}),
        channels=("conda-forge",),
        platform=TargetPlatform("linux-64", "2.28"),
    )
    assert EnvSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("bad", ["==>1", "1.0.0.0.a.b c", "=>2"])
def test_malformed_pypi_versions_are_rejected_with_the_package_named(bad):
    with pytest.raises(SpecError, match="tabulate"):
        pypi_requirements({"tabulate": bad})


def test_conda_channel_prefix_is_split_off():
    (req,) = conda_requirements({"pytorch::pytorch": "2.4.0"})
    assert req == Requirement("pytorch", "==2.4.0", "pytorch")
    assert req.matchspec() == "pytorch::pytorch ==2.4.0"


@pytest.mark.parametrize(
    "given,expected", [("3.11", "3.11"), ("3.11.7", "3.11.7"), (">=3.10", ">=3.10")]
)
def test_python_versions_accepted(given, expected):
    assert normalize_python(given) == expected


def test_python_defaults_to_the_running_interpreters_minor_version():
    import sys

    assert normalize_python(None) == "%d.%d" % sys.version_info[:2]


def test_bad_python_version_says_how_to_write_one():
    with pytest.raises(SpecError, match="python='3.11'"):
        normalize_python("three")


def test_platforms_map_to_uv_and_oci_names():
    linux = TargetPlatform("linux-64", "2.36")
    assert linux.uv_platform == "x86_64-manylinux_2_36"
    assert linux.oci_platform == ("linux", "amd64")
    assert TargetPlatform("osx-arm64").uv_platform == "aarch64-apple-darwin"
    with pytest.raises(SpecError, match="unknown platform"):
        TargetPlatform("win-32")


@pytest.mark.parametrize(
    "attributes,expected",
    [
        (
            {"packages": "numpy"},
            "@pypi(packages='numpy'): packages is a dict {name: version} of strings, "
            "e.g. packages={'numpy': ''} ('' for any version)",
        ),
        (
            {"packages": ["numpy==2.2.3", "pandas>=2"]},
            "@pypi(packages=['numpy==2.2.3', 'pandas>=2']): packages is a dict {name: version} "
            "of strings, e.g. packages={'numpy': '2.2.3', 'pandas': '>=2'} ('' for any version)",
        ),
        (
            {"packages": {"numpy": 2.2}},
            "@pypi(packages={'numpy': 2.2}): packages is a dict {name: version} of strings, "
            "e.g. packages={'numpy': '2.2'} ('' for any version)",
        ),
        (
            {"python": 3.1},
            "@pypi(python=3.1): python is a string, e.g. python='3.11' "
            "(a number loses digits: 3.10 is 3.1)",
        ),
        ({"disabled": "yes"}, "@pypi(disabled='yes'): disabled is True or False"),
    ],
)
def test_malformed_decorator_attributes_name_the_attribute_and_its_form(attributes, expected):
    assert decorator_problems("pypi", attributes) == [expected]


def test_conda_channels_are_a_list():
    (problem,) = decorator_problems("conda_base", {"channels": "conda-forge"})
    assert problem == (
        "@conda_base(channels='conda-forge'): channels is a list of names, "
        "e.g. channels=['conda-forge']"
    )


def test_well_formed_decorator_attributes_have_no_problems():
    attributes = {"packages": {"numpy": "2.2.3", "six": ""}, "python": "3.11", "disabled": False}
    assert decorator_problems("pypi", attributes) == []
    assert decorator_problems("conda", {"libraries": {}, "channels": ["conda-forge"]}) == []
