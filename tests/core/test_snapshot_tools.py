"""Which tool wheels a snapshot carries, and how the bootstrap unpacks them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bakery.errors import SnapshotError
from bakery.lock.model import LockedEnv, LockedPackage
from bakery.snapshot import required_tools, unpack_uv, unpack_wheel
from bakery.spec import EnvSpec


def _env(*kinds: str) -> LockedEnv:
    packages = tuple(
        LockedPackage(kind, f"p{i}", "1.0", "file:///x", "0" * 64, f"p{i}.whl")  # type: ignore[arg-type]
        for i, kind in enumerate(kinds)
    )
    return LockedEnv(spec=EnvSpec(python="3.11"), python="3.11", packages=packages)


@pytest.mark.parametrize(
    ("kinds", "tools"),
    [
        (("pypi",), ["uv"]),
        ((), ["uv"]),  # a bare venv is still made by uv
        (("conda",), ["rattler"]),
        (("conda", "pypi"), ["rattler", "uv"]),
    ],
)
def test_required_tools_follow_the_package_kinds(kinds, tools):
    assert required_tools(_env(*kinds)) == tools


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_unpacked_wheel_is_importable_and_uv_is_found(tmp_path):
    wheel = _wheel(
        tmp_path / "uv-1.0-py3-none-any.whl",
        {"uv/__init__.py": b"", "uv-1.0.data/scripts/uv": b"#!/bin/sh\n"},
    )
    uv = unpack_uv(wheel, tmp_path / "out")
    assert uv == tmp_path / "out" / "uv-1.0.data" / "scripts" / "uv"
    assert uv.stat().st_mode & 0o111
    assert (tmp_path / "out" / "uv" / "__init__.py").is_file()


def test_wheel_with_a_path_outside_its_folder_is_refused(tmp_path):
    wheel = _wheel(tmp_path / "evil-1.0-py3-none-any.whl", {"../escaped.py": b""})
    with pytest.raises(SnapshotError, match="outside its folder"):
        unpack_wheel(wheel, tmp_path / "out")
    assert not (tmp_path / "escaped.py").exists()
