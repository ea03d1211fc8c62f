"""Package snapshots: every artifact of an environment, stored once in a datastore.

Remote tasks rebuild their environment from the snapshot alone, so they never depend on PyPI or
a conda channel being up. Keys are content addressed (`packages/<sha256>/<filename>`), so an
artifact shared by many environments and runs is stored once. The store is anything with
`existing`, `put` and `get` (the Metaflow adapter wraps the flow's datastore).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from .errors import SnapshotError
from .fetch import ArtifactStore, fetch_pypi, verify_sha256
from .lock.model import LockedEnv, LockedPackage
from .resolve.indexes import IndexConfig


class PackageStore(Protocol):
    """Where snapshots live: keys are relative paths."""

    def existing(self, keys: list[str]) -> set[str]: ...

    def put(self, items: list[tuple[str, Path]]) -> None: ...

    def get(self, keys: list[str], dest: Path) -> dict[str, Path]: ...


def package_key(package: LockedPackage) -> str:
    return f"packages/{package.sha256}/{package.filename}"


def tool_key(name: str, sha256: str, filename: str) -> str:
    return f"tools/{name}/{sha256}/{filename}"


def snapshot_env(
    env: LockedEnv,
    store: PackageStore,
    *,
    indexes: IndexConfig | None = None,
    work_dir: Path | None = None,
    wheels: ArtifactStore | None = None,
) -> int:
    """Store the artifacts of `env` that the store lacks; returns how many were uploaded.

    With `wheels`, PyPI artifacts are fetched through that local store (and stay there), so
    an image bake of the same environment on this machine downloads nothing.
    """
    wanted = {package_key(p): p for p in env.packages}
    missing = [wanted[k] for k in sorted(wanted.keys() - store.existing(list(wanted)))]
    if not missing:
        return 0
    kept = [p for p in missing if p.kind == "pypi"] if wheels is not None else []
    with tempfile.TemporaryDirectory(prefix="bakery-snapshot-", dir=work_dir) as tmp:
        rest = [p for p in missing if p not in kept]
        files = download_packages(env, rest, Path(tmp), indexes=indexes)
        if wheels is not None and kept:
            files.update(wheels.fetch_all(kept, indexes=indexes))
        store.put([(package_key(p), files[p.sha256]) for p in missing])
    return len(missing)


def restore_env(env: LockedEnv, store: PackageStore, dest: Path) -> Path:
    """Fetch every artifact of `env` from the store into `dest` (by filename), sha256-checked."""
    dest.mkdir(parents=True, exist_ok=True)
    keys = [package_key(p) for p in env.packages]
    absent = set(keys) - store.existing(keys)
    if absent:
        names = ", ".join(sorted(k.rsplit("/", 1)[-1] for k in absent)[:5])
        raise SnapshotError(
            f"the package snapshot of environment {env.short_id} is incomplete ({names} missing): "
            "run the flow again from a machine that can reach the package index to re-store it"
        )
    fetched = store.get(keys, dest)
    for package in env.packages:
        path = fetched[package_key(package)]
        verify_sha256(path, package.sha256, package.filename)
        target = dest / package.filename
        if path != target:
            shutil.move(str(path), target)
    return dest


def download_packages(
    env: LockedEnv,
    packages: Iterable[LockedPackage],
    dest: Path,
    *,
    indexes: IndexConfig | None = None,
) -> dict[str, Path]:
    """Download some of `env`'s artifacts by their lock URL, verified; sha256 -> path."""
    packages = list(packages)
    conda = [p for p in packages if p.kind == "conda"]
    pypi = [p for p in packages if p.kind != "conda"]
    result: dict[str, Path] = {}
    if conda:
        from .envs.conda_install import download_conda_packages

        subset = dataclasses.replace(env, packages=tuple(conda))
        for package, path in zip(conda, download_conda_packages(subset, dest), strict=True):
            result[package.sha256] = path
    if pypi:
        result.update(fetch_pypi(pypi, dest, indexes=indexes))
    return result


# The tools a bootstrap needs, by the name it knows them: their PyPI distributions. Each is
# stored as the wheel of the version installed here, for the environment's platform.
TOOL_DISTRIBUTIONS = {"uv": "uv", "rattler": "py-rattler"}


def required_tools(env: LockedEnv) -> list[str]:
    """The tools that rebuild `env`: rattler for conda packages, uv for a venv or PyPI ones."""
    conda = bool(env.by_kind("conda"))
    tools = ["rattler"] if conda else []
    if env.by_kind("pypi") or not conda:
        tools.append("uv")
    return tools


def snapshot_tools(
    env: LockedEnv, store: PackageStore, *, indexes: IndexConfig | None = None
) -> dict[str, str]:
    """Store the wheel of every tool `env`'s bootstrap needs; returns tool name -> key."""
    return {
        tool: snapshot_tool(TOOL_DISTRIBUTIONS[tool], env, store, indexes=indexes)
        for tool in required_tools(env)
    }


def snapshot_tool(
    distribution: str, env: LockedEnv, store: PackageStore, *, indexes: IndexConfig | None = None
) -> str:
    """Store the wheel of `distribution` (the version installed here) for `env`'s platform and
    Python; returns its key. The bootstrap unpacks it instead of installing anything."""
    from importlib.metadata import version

    from .resolve.pypi import resolve_pypi
    from .spec import Requirement

    pin = Requirement(distribution, f"=={version(distribution)}")
    spec = dataclasses.replace(env.spec, pypi=(pin,), conda=(), channels=())
    tool_env = resolve_pypi(spec, env.python, indexes=indexes)
    wheel = next(p for p in tool_env.packages if p.name == pin.name)
    key = tool_key(distribution, wheel.sha256, wheel.filename)
    if not store.existing([key]):
        with tempfile.TemporaryDirectory(prefix="bakery-snapshot-") as tmp:
            files = download_packages(tool_env, [wheel], Path(tmp), indexes=indexes)
            store.put([(key, files[wheel.sha256])])
    return key


def unpack_wheel(wheel: Path, dest: Path) -> Path:
    """Extract a wheel into `dest`, which then works as a `sys.path` entry; returns `dest`."""
    import zipfile

    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            target = (dest / member.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise SnapshotError(
                    f"{wheel.name} holds a path outside its folder: {member.filename}"
                )
            archive.extract(member, dest)
            mode = member.external_attr >> 16
            if mode & 0o111:
                target.chmod(mode & 0o777)
    return dest


def unpack_uv(wheel: Path, dest: Path) -> Path:
    """Extract the uv wheel into `dest`; returns the path of the uv binary in it."""
    site = unpack_wheel(wheel, dest)
    found = [*site.glob("*.data/scripts/uv"), *site.glob("*.data/scripts/uv.exe")]
    if not found:
        raise SnapshotError(f"{wheel.name} holds no uv binary: store the snapshot again")
    found[0].chmod(0o755)
    return found[0]
