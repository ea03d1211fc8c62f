"""Conda packages whose paths would leave the environment are refused, and nothing is pushed.

Packages are built here (tests/fixtures/condabuild.py) with one bad path each in paths.json:
`..` traversal, an absolute path (rattler itself would abort the whole process on it), or a
symlink whose relative target climbs out of the prefix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.errors import UnsafePathError
from bakery.image.bake import BakeOptions, bake
from bakery.image.conda_paths import archive_paths
from bakery.resolve import resolve
from bakery.spec import EnvSpec, TargetPlatform, conda_requirements
from tests.fixtures.condabuild import CondaPackage, PackageFile, build_channel, python_package

from .crafted import registry_state

pytestmark = pytest.mark.slow

BASE_PYTHON = Path("/usr/bin/python3.11")  # the test base image's (see test_conda_image.py)


def evil_packages(outside: Path) -> dict[str, tuple[CondaPackage, str]]:
    """name -> (package, the path its refusal names); `outside` is where an escape would land."""
    absolute = str(outside / "absolute-evil.txt")
    return {
        "dotdot": (
            CondaPackage(
                "dotdot", "1.0", noarch="generic", files={"share/../../evil.txt": PackageFile(b"x")}
            ),
            "share/../../evil.txt",
        ),
        "absolute": (
            CondaPackage("absolute", "1.0", noarch="generic", files={absolute: PackageFile(b"x")}),
            absolute,
        ),
        "sitedotdot": (
            CondaPackage(
                "sitedotdot",
                "1.0",
                noarch="python",
                depends=["python"],
                files={"site-packages/../../../../evil.py": PackageFile(b"x")},
            ),
            "site-packages/../../../../evil.py",
        ),
        "linkout": (
            CondaPackage(
                "linkout", "1.0", noarch="generic", symlinks={"lib/out": "../../../../../etc"}
            ),
            "'opt/bakery/env/lib/out' -> '../../../../../etc'",
        ),
    }


@pytest.fixture(scope="module")
def evil_channel(tmp_path_factory) -> tuple[str, Path, dict[str, tuple[CondaPackage, str]]]:
    outside = tmp_path_factory.mktemp("outside")
    packages = evil_packages(outside)
    python = python_package("linux-64", BASE_PYTHON, "3.11.2")
    channel = build_channel(
        tmp_path_factory.mktemp("evil-channel"), [python, *(p for p, _ in packages.values())]
    )
    return channel.as_uri(), outside, packages


def lock(channel: str, name: str):
    spec = EnvSpec(
        python="3.11",
        conda=conda_requirements({name: ""}),
        channels=(channel,),
        platform=TargetPlatform("linux-64", "2.36"),
    )
    return resolve(spec)


def test_paths_are_read_from_the_archive_as_rattler_reads_them(evil_channel, tmp_path):
    channel, _, packages = evil_channel
    archive = Path(channel.removeprefix("file://")) / "noarch" / packages["dotdot"][0].filename
    assert archive_paths(archive) == ["share/../../evil.txt"]


@pytest.mark.parametrize("name", ["dotdot", "absolute", "sitedotdot", "linkout"])
def test_a_bake_of_a_malicious_conda_package_is_refused_and_pushes_nothing(
    evil_channel, base_images, registry, cache_dir, name
):
    channel, outside, packages = evil_channel
    package, path = packages[name]
    before = registry_state(registry)
    options = BakeOptions(cache_dir=cache_dir, progress=False)
    with pytest.raises(UnsafePathError) as refused:
        bake(
            lock(channel, name),
            base=base_images.oci,
            repository=f"{base_images.host}/evil-conda/{name}",
            options=options,
        )
    message = str(refused.value)
    assert f"conda package {package.filename}" in message and path in message
    assert "stopped before pushing anything" in message
    assert registry_state(registry) == before, "no blob uploaded, no repository made"
    assert list(outside.iterdir()) == [], "nothing written outside the staging prefix"
    assert not list(cache_dir.rglob("evil.*"))
    assert not list(cache_dir.glob("pushed/*"))
