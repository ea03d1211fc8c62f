"""Conda packages for an image: linked by rattler as if at `/opt/bakery/env`, one source each.

rattler installs the environment's conda packages (all of them, offline from the lock's
records, for the image's platform) into a staging prefix in the cache, writing
`/opt/bakery/env` into every file that embeds its prefix (`alternative_target_prefix`): the
staged files are exactly what the image needs, wherever the cache is. It links them from the
archives in `conda-packages/`, each checked against the lock's sha256 (a damaged one is
downloaded again) and refused if a path it installs leaves the prefix (`conda_paths`). Each
package's files are read from its `conda-meta/*.json` record, so each package can be (part of)
a layer of its own, keyed by its sha256, the platform and the Python minor (noarch Python
packages land in that Python's site-packages). The records are kept in the image, without the
fields that name this machine's paths, so `conda list`-style tools work there.

Bytecode for the packages' modules in site-packages is compiled like a wheel's (unchecked-hash,
recording image paths), replacing any timestamp-based `.pyc` a package ships: a layer's
normalized mtimes would make those stale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ..envs.conda_install import download_conda_packages, install_conda
from ..errors import ImageError, UnsafePathError
from ..lock.model import LockedEnv, LockedPackage
from .conda_paths import check_archive_paths
from .gc import mark_used
from .layers import Entry, bytecode_entries, disk_entry
from .licenses import conda_licenses
from .wheel import ENV_ROOT, site_packages_dir

CONDA_LAYOUT = 1
_MARKER = ".bakery-complete"
# PrefixRecord fields that name this machine's package cache: not for the image
_MACHINE_FIELDS = ("extracted_package_dir", "package_tarball_full_path", "link")


@dataclass(frozen=True)
class CondaStaged:
    """One conda package's linked files in the staging prefix, ready to become layer entries."""

    package: LockedPackage
    key: str
    prefix: Path
    files: tuple[str, ...]  # relative to the prefix
    record_name: str  # conda-meta/<record_name>
    record: bytes
    size: int
    bytecode: Path | None
    licenses: tuple[str, ...] = ()  # from index.json and about.json (see `licenses.py`)

    @property
    def pin(self) -> str:
        return f"{self.package.name}=={self.package.version}"

    @property
    def label(self) -> str:
        return f"conda package {self.package.filename}"

    @property
    def compile_source(self) -> Path:
        return self.prefix

    def modules(self, python_minor: str) -> list[tuple[str, str]]:
        """(path in the prefix, image path) of the modules to compile: in site-packages, not
        in packages' own `tests/` folders."""
        site = site_packages_dir(python_minor)[len(ENV_ROOT) + 1 :] + "/"
        return [
            (rel, f"{ENV_ROOT}/{rel}")
            for rel in self.files
            if rel.startswith(site)
            and rel.endswith(".py")
            and "tests" not in rel[len(site) :].split("/")[:-1]
        ]

    def entries(self, stack: ExitStack) -> Iterator[Entry]:
        folder_inside = _FolderCheck(self.prefix)
        for rel in self.files:
            path = self.prefix / rel
            if not folder_inside(os.path.dirname(rel)):
                raise UnsafePathError(
                    f"{self.label} lists {rel!r}, whose folder in the staging prefix "
                    f"{self.prefix} is a symlink out of it: the bake stopped before pushing "
                    f"anything. Lock other versions of {self.package.name} and the package "
                    "that links that folder, or remove one of them."
                )
            try:
                entry = disk_entry(f"{ENV_ROOT}/{rel}", str(path), path.lstat())
            except FileNotFoundError:
                continue  # listed but not linked (clobbered by another package)
            if entry is not None:
                yield entry
        yield Entry.from_bytes(f"{ENV_ROOT}/conda-meta/{self.record_name}", self.record)
        yield from bytecode_entries(stack, self.bytecode)


class _FolderCheck:
    """Whether a folder of the staging prefix really is inside it (no symlink on the way out):
    a file read through such a folder would be a file of this machine. Cached per folder."""

    def __init__(self, prefix: Path) -> None:
        self._prefix = prefix
        self._real = os.path.realpath(prefix)
        self._known: dict[str, bool] = {}

    def __call__(self, folder: str) -> bool:
        if folder not in self._known:
            real = os.path.realpath(self._prefix / folder)
            self._known[folder] = real == self._real or real.startswith(self._real + os.sep)
        return self._known[folder]


def conda_key(package: LockedPackage, env: LockedEnv, compiled: bool) -> str:
    """Content key of a staged conda package: equal keys give equal layer entries."""
    text = (
        f"conda{CONDA_LAYOUT}|{package.sha256}|{env.spec.platform.subdir}|{env.python}|"
        f"{ENV_ROOT}|pyc={compiled}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def stage_conda(env: LockedEnv, cache_dir: Path, *, compiled: bool) -> list[CondaStaged]:
    """Link (or find linked) the conda packages of `env` for the image; one entry each."""
    conda = env.by_kind("conda")
    if not conda:
        return []
    prefix = _staged_prefix(env, cache_dir)
    records = _records(prefix)
    staged = []
    for package in conda:
        found = records.get(package.name)
        if found is None:
            raise ImageError(
                f"rattler linked no {package.name} into the staging prefix {prefix}: delete it "
                "and bake again"
            )
        record_name, record = found
        files = tuple(record.get("files", ()))
        key = conda_key(package, env, compiled)
        size = sum(_size(prefix / rel) for rel in files)
        clean = {k: v for k, v in record.items() if k not in _MACHINE_FIELDS}
        clean["url"] = package.url  # where it was locked from, not this machine's download store
        data = json.dumps(clean, indent=2, sort_keys=True).encode() + b"\n"
        bytecode = cache_dir / "bytecode" / f"{key}.zip" if compiled else None
        licenses = conda_licenses(record, record.get("extracted_package_dir"))
        staged.append(
            CondaStaged(package, key, prefix, files, record_name, data, size, bytecode, licenses)
        )
    return staged


def _staged_prefix(env: LockedEnv, cache_dir: Path) -> Path:
    conda = env.by_kind("conda")
    text = f"conda{CONDA_LAYOUT}|{env.spec.platform.subdir}|{ENV_ROOT}|" + "|".join(
        sorted(p.sha256 for p in conda)
    )
    key = hashlib.sha256(text.encode()).hexdigest()[:40]
    root = cache_dir / "conda"
    prefix = root / key
    if (prefix / _MARKER).is_file():
        mark_used(prefix / _MARKER)
        return prefix
    root.mkdir(parents=True, exist_ok=True)
    build = root / f".build-{key}-{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    only_conda = dataclasses.replace(env, packages=tuple(conda))
    try:
        # archives checked against the lock's sha256 (a damaged one is downloaded again), and
        # their paths checked, before rattler links anything from them
        archives = cache_dir / "conda-packages"
        for package, archive in zip(
            conda, download_conda_packages(only_conda, archives), strict=True
        ):
            check_archive_paths(package, archive)
        install_conda(only_conda, build, package_dir=archives, alternative_prefix="/" + ENV_ROOT)
        (build / _MARKER).touch()
        try:
            os.replace(build, prefix)
        except OSError:  # another bake finished it first
            if not (prefix / _MARKER).is_file():
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return prefix


def _records(prefix: Path) -> dict[str, tuple[str, dict]]:
    """Package name -> (record file name, record) from the prefix's conda-meta."""
    records = {}
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("name"):
            records[record["name"]] = (path.name, record)
    return records


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return 0
