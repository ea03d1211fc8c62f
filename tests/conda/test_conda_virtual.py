"""Virtual packages assumed for a target: detected here, defaults elsewhere, overrides on top."""

from __future__ import annotations

import pytest

from bakery.errors import SpecError
from bakery.platforms import OLDEST_MACOS, TargetPlatform
from bakery.resolve.conda_virtual import parse_virtual_package, target_virtual_packages

HOST = TargetPlatform.host()
OTHER_LINUX = TargetPlatform("linux-aarch64" if HOST.subdir == "linux-64" else "linux-64", "2.28")


def test_another_linux_platform_gets_defaults_with_its_glibc():
    packages = target_virtual_packages(OTHER_LINUX, environ={})

    assert packages["__glibc"][0] == "2.28"
    assert {"__unix", "__linux", "__archspec"} <= packages.keys()
    assert "__cuda" not in packages


def test_osx_target_gets_osx_not_glibc():
    packages = target_virtual_packages(TargetPlatform("osx-arm64"), environ={})

    assert packages["__osx"][0] == OLDEST_MACOS  # the oldest macOS the wheels target too
    assert "__glibc" not in packages and "__linux" not in packages


def test_host_glibc_follows_the_requested_platform():
    if not HOST.is_linux:
        pytest.skip("glibc only applies to a Linux host")
    packages = target_virtual_packages(TargetPlatform(HOST.subdir, "2.17"), environ={})

    assert packages["__glibc"][0] == "2.17"


def test_conda_override_cuda_adds_cuda():
    packages = target_virtual_packages(OTHER_LINUX, environ={"CONDA_OVERRIDE_CUDA": "12.4"})

    assert packages["__cuda"] == ("12.4", "0")


def test_empty_conda_override_removes_the_package():
    packages = target_virtual_packages(
        OTHER_LINUX, ["__cuda=12.1"], environ={"CONDA_OVERRIDE_GLIBC": ""}
    )

    assert "__glibc" not in packages
    assert packages["__cuda"] == ("12.1", "0")


def test_explicit_overrides_win_over_environment():
    packages = target_virtual_packages(
        OTHER_LINUX, ["__cuda=12.1"], environ={"CONDA_OVERRIDE_CUDA": "11.8"}
    )

    assert packages["__cuda"] == ("12.1", "0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("__unix", ("__unix", ("0", "0"))),
        ("__cuda=12.4", ("__cuda", ("12.4", "0"))),
        ("__archspec=1=x86_64", ("__archspec", ("1", "x86_64"))),
        ("__glibc==2.28", ("__glibc", ("2.28", "0"))),
    ],
)
def test_parse_virtual_package(text, expected):
    assert parse_virtual_package(text) == expected


def test_malformed_virtual_package_is_a_spec_error():
    with pytest.raises(SpecError, match="__cuda=12.4"):
        parse_virtual_package("cuda=12")
