"""Test helpers: wheels crafted member by member (malicious ones too), locked as they are, and
what a registry holds (to show a refused bake pushed nothing)."""

from __future__ import annotations

import base64
import hashlib
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bakery.lock.model import LockedEnv, LockedPackage
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements

PLATFORM = TargetPlatform("linux-64", "2.36")
NAME, VERSION = "demo", "1.0"
FILENAME = f"{NAME}-{VERSION}-py3-none-any.whl"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def record_row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def craft_wheel(
    dest: Path,
    files: dict[str, bytes] | None = None,
    *,
    entry_points: dict[str, str] | None = None,
    extra_record: str = "",
    symlinks: dict[str, str] | None = None,
) -> Path:
    """`demo-1.0-py3-none-any.whl` in `dest` holding `files` (any member names, even `../x`),
    console scripts `entry_points` (name -> `module:function`), RECORD rows `extra_record`, and
    zip members marked as symlinks (name -> target)."""
    members = {
        f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{DIST_INFO}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        "demo/__init__.py": b"def main():\n    print('demo')\n",
        **(files or {}),
    }
    if entry_points:
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        members[f"{DIST_INFO}/entry_points.txt"] = f"[console_scripts]\n{lines}".encode()
    record = "".join(record_row(n, d) for n, d in members.items()) + extra_record
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / FILENAME
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(_info(name, 0o644), data)
        for name, target in (symlinks or {}).items():
            archive.writestr(_info(name, stat.S_IFLNK | 0o777), target)
        archive.writestr(f"{DIST_INFO}/RECORD", record + f"{DIST_INFO}/RECORD,,\n")
    return path


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo()
    info.filename = name  # as is: the constructor would strip a leading `/`
    info.date_time = (2024, 1, 1, 0, 0, 0)
    info.external_attr = mode << 16
    return info


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_wheel(wheel: Path, *, url: str | None = None, sha256: str | None = None) -> LockedEnv:
    """An environment locked to exactly `wheel` (at `url`, file:// by default)."""
    package = LockedPackage(
        kind="pypi",
        name=NAME,
        version=VERSION,
        url=url or wheel.as_uri(),
        sha256=sha256 or sha256_of(wheel),
        filename=wheel.name,
        size=wheel.stat().st_size,
    )
    spec = EnvSpec(python="3.11", pypi=pypi_requirements({NAME: VERSION}), platform=PLATFORM)
    return LockedEnv(spec=spec, python="3.11", packages=(package,))


@dataclass(frozen=True)
class RegistryState:
    """The repositories a registry lists and the blobs it stores."""

    repositories: frozenset[str]
    blobs: frozenset[str]


def registry_state(registry) -> RegistryState:
    """What `registry` (a `RunningRegistry`) holds now: its catalog and its blob store."""
    catalog = httpx.get(f"{registry.url}/v2/_catalog?n=1000").json()["repositories"] or []
    blobs = registry.root / "storage" / "docker" / "registry" / "v2" / "blobs"
    digests = {p.name for p in blobs.glob("sha256/*/*")} if blobs.is_dir() else set()
    return RegistryState(frozenset(catalog), frozenset(digests))
