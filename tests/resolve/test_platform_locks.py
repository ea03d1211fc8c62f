"""Locking for each supported platform from this (linux-64) machine, with real uv and PyPI:
the wheels chosen are the target's, and dependency markers are evaluated for the target."""

from __future__ import annotations

import functools

import pytest

from bakery.lock.model import LockedEnv
from bakery.resolve.pypi import resolve_pypi
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements

pytestmark = [pytest.mark.network]

# psutil: one abi3 wheel per platform; charset-normalizer: universal2 beside native macOS wheels;
# keyring: secretstorage/jeepney only `; sys_platform == "linux"`; sqlalchemy: greenlet only
# where platform_machine is x86_64 or aarch64 (not a Mac's arm64).
REQUIREMENTS = {
    "psutil": "6.1.0",
    "charset-normalizer": "3.4.0",
    "keyring": "25.5.0",
    "sqlalchemy": "2.0.36",
}

WHEEL_SUFFIX = {
    "linux-64": "x86_64.whl",
    "linux-aarch64": "aarch64.whl",
    "osx-64": "_x86_64.whl",
    "osx-arm64": "_arm64.whl",
}


@functools.cache
def _lock(platform: str) -> LockedEnv:
    spec = EnvSpec(
        python="3.11",
        pypi=pypi_requirements(REQUIREMENTS),
        platform=TargetPlatform.parse(f"{platform}@2.28" if "linux" in platform else platform),
    )
    return resolve_pypi(spec, "3.11")


def _files(env: LockedEnv) -> dict[str, str]:
    return {p.name: p.filename for p in env.packages}


@pytest.mark.parametrize("platform", sorted(WHEEL_SUFFIX))
def test_native_wheels_are_chosen_for_each_platform(platform):
    files = _files(_lock(platform))
    for name in ("psutil", "charset-normalizer"):
        assert files[name].endswith(WHEEL_SUFFIX[platform]), files[name]
        assert "universal2" not in files[name], "a fat wheel beat the native one"
    if platform.startswith("linux"):
        assert "manylinux" in files["psutil"]
        assert "manylinux_2_31" not in files["charset-normalizer"], "newer than glibc 2.28"
    else:
        assert "macosx_" in files["psutil"]


@pytest.mark.parametrize("platform", sorted(WHEEL_SUFFIX))
def test_sys_platform_markers_are_evaluated_for_the_target(platform):
    names = set(_files(_lock(platform)))
    linux_only = {"secretstorage", "jeepney", "cryptography"}
    if platform.startswith("linux"):
        assert linux_only <= names
    else:
        assert not linux_only & names, "a Linux-only dependency was locked for macOS"
    assert "pywin32-ctypes" not in names


@pytest.mark.parametrize(
    "platform,has_greenlet",
    [("linux-64", True), ("linux-aarch64", True), ("osx-64", True), ("osx-arm64", False)],
)
def test_platform_machine_markers_are_evaluated_for_the_target(platform, has_greenlet):
    assert ("greenlet" in _files(_lock(platform))) is has_greenlet


@pytest.mark.parametrize(
    "platform,wheel",
    [
        ("osx-64", "numpy-2.1.3-cp311-cp311-macosx_10_9_x86_64.whl"),
        ("osx-arm64", "numpy-2.1.3-cp311-cp311-macosx_11_0_arm64.whl"),
    ],
)
def test_macos_wheels_target_the_oldest_supported_macos(monkeypatch, platform, wheel):
    # numpy also has macosx_14_0 wheels; the caller's own deployment target must not make a
    # lock for every Mac of the platform pick them
    monkeypatch.setenv("MACOSX_DEPLOYMENT_TARGET", "15.0")
    spec = EnvSpec(
        python="3.11",
        pypi=pypi_requirements({"numpy": "2.1.3"}),
        platform=TargetPlatform(platform),
    )
    (numpy,) = resolve_pypi(spec, "3.11").packages
    assert numpy.filename == wheel
