"""The platform table: each platform's names for uv, wheels, OCI and markers, and the refusals."""

from __future__ import annotations

import argparse

import pytest
from packaging.markers import Marker

from bakery.cli.main import build_parser
from bakery.errors import SpecError
from bakery.platforms import PLATFORMS, TargetPlatform, platforms_help, supported_platforms

SUPPORTED = ["linux-64", "linux-aarch64", "osx-64", "osx-arm64"]


def test_the_supported_platforms_are_the_four_of_the_table():
    assert supported_platforms() == SUPPORTED == sorted(PLATFORMS)


@pytest.mark.parametrize(
    "name,uv,oci",
    [
        ("linux-64@2.36", "x86_64-manylinux_2_36", ("linux", "amd64")),
        ("linux-aarch64@2.28", "aarch64-manylinux_2_28", ("linux", "arm64")),
        ("osx-64", "x86_64-apple-darwin", ("darwin", "amd64")),
        ("osx-arm64", "aarch64-apple-darwin", ("darwin", "arm64")),
    ],
)
def test_each_platform_has_its_uv_and_oci_names(name, uv, oci):
    platform = TargetPlatform.parse(name)
    assert platform.uv_platform == uv
    assert platform.oci_platform == oci


@pytest.mark.parametrize(
    "name,first,absent",
    [
        ("linux-64@2.31", "manylinux_2_31_x86_64", "manylinux_2_32_x86_64"),
        ("linux-aarch64@2.28", "manylinux_2_28_aarch64", "manylinux_2_28_x86_64"),
        ("osx-64", "macosx_13_0_x86_64", "macosx_13_0_arm64"),
        ("osx-arm64", "macosx_13_0_arm64", "macosx_13_0_x86_64"),
    ],
)
def test_wheel_tags_are_the_platforms_own_most_specific_first(name, first, absent):
    tags = TargetPlatform.parse(name).wheel_platform_tags()
    assert tags[0] == first
    assert absent not in tags
    assert not any("macosx_14" in t for t in tags), "a wheel for a newer macOS was accepted"


@pytest.mark.parametrize(
    "name,machine,system",
    [
        ("linux-64", "x86_64", "Linux"),
        ("linux-aarch64", "aarch64", "Linux"),
        ("osx-64", "x86_64", "Darwin"),
        ("osx-arm64", "arm64", "Darwin"),
    ],
)
def test_markers_are_those_a_python_there_reports(name, machine, system):
    markers = TargetPlatform.parse(name).marker_environment("3.11")
    assert markers["platform_machine"] == machine
    assert markers["platform_system"] == system
    assert markers["sys_platform"] == system.lower()
    assert markers["os_name"] == "posix"
    assert Marker("python_version == '3.11' and python_full_version >= '3.11.0'").evaluate(markers)


def test_a_glibc_uv_does_not_know_locks_for_the_newest_one_it_runs():
    assert TargetPlatform("linux-64", "2.41").uv_platform == "x86_64-manylinux_2_40"
    assert TargetPlatform("linux-64", "2.30").uv_platform == "x86_64-manylinux_2_28"
    with pytest.raises(SpecError, match="linux-64@2.17 or newer"):
        _ = TargetPlatform("linux-64", "2.12").uv_platform


def test_windows_is_refused_with_the_supported_list():
    with pytest.raises(SpecError) as error:
        TargetPlatform.parse("win-64")
    assert str(error.value) == (
        "platform 'win-64' is not supported (Metaflow does not run tasks on Windows): "
        "lock for one of linux-64, linux-aarch64, osx-64, osx-arm64"
    )


def test_an_unknown_platform_names_the_supported_ones():
    with pytest.raises(SpecError, match="unknown platform 'linux-riscv': use one of linux-64, "):
        TargetPlatform.parse("linux-riscv")


def test_only_linux_takes_a_glibc():
    with pytest.raises(SpecError, match="only a Linux platform"):
        TargetPlatform.parse("osx-arm64@2.28")
    with pytest.raises(SpecError, match="not a version such as 2.28"):
        TargetPlatform.parse("linux-64@latest")


def _help(parser: argparse.ArgumentParser, verb: str) -> str:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[verb]._actions if "--platform" in a.option_strings)
    return action.help


@pytest.mark.parametrize("verb", ["lock", "bake"])
def test_platform_help_lists_the_table(verb):
    text = _help(build_parser(), verb)
    assert platforms_help() in text
    assert "linux-64, linux-aarch64, osx-64, osx-arm64" in text


def test_the_cli_refuses_windows_before_reading_the_flow(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["lock", "missing.py", "--platform", "win-64"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "platform 'win-64' is not supported" in err
    assert "linux-64, linux-aarch64, osx-64, osx-arm64" in err
