"""Locking a step from a file that already pins it: the file's pins, for the step's platform.

Nothing in the file is resolved again: its versions, artifacts and hashes are what the step's
environment installs. Only what Metaflow itself needs in a task (`requests`, and the datastore's
client such as `boto3`) is added when the file lacks it, resolved with uv under the file's pins
as constraints, so it cannot move any of them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from packaging.utils import canonicalize_name

from ..errors import ResolutionError, SourceFileError
from ..lock.model import LockedEnv, LockedPackage
from ..resolve.indexes import IndexConfig
from ..spec import EnvSpec, Requirement
from .condalock import complete_noarch_records, packages_from_conda_lock
from .files import check_unchanged
from .pixilock import packages_from_pixi_lock
from .pylock import packages_from_pylock
from .uvlock import export_uv_lock


def lock_pinned(spec: EnvSpec, root: Path, *, indexes: IndexConfig | None = None) -> LockedEnv:
    """The LockedEnv `spec.pinned` names, for `spec.platform`; `root` is the flow's folder."""
    assert spec.pinned is not None
    check_unchanged(spec.files, root)
    packages = pinned_packages(spec, root)
    conda_python = next(
        (p.version for p in packages if p.kind == "conda" and p.name == "python"), None
    )
    if spec.pinned.format in ("conda-lock", "pixi.lock"):
        if conda_python is None:
            raise SourceFileError(
                f"{spec.pinned.path} has no python package for {spec.platform}: a Metaflow step "
                "needs one; add python to the environment and lock again"
            )
        python_version = conda_python
    else:
        python_version = _python_version(spec)
    packages = packages + _metaflow_needs(spec, packages, python_version, indexes)
    minor = ".".join(python_version.split(".")[:2])
    return LockedEnv(spec=spec, python=minor, packages=packages)


def pinned_packages(spec: EnvSpec, root: Path) -> tuple[LockedPackage, ...]:
    """The file's packages for the spec's Python and platform, without anything added."""
    pinned = spec.pinned
    path, where = root / pinned.path, pinned.path
    if pinned.format in ("uv.lock", "pylock"):
        text = (
            export_uv_lock(path, pinned.groups, where)
            if pinned.format == "uv.lock"
            else path.read_text()
        )
        return packages_from_pylock(
            text,
            where,
            python_version=_python_version(spec),
            platform=spec.platform,
            groups=() if pinned.format == "uv.lock" else pinned.groups,
        )
    if pinned.format == "conda-lock":
        found = packages_from_conda_lock(
            path.read_text(), where, platform=spec.platform, groups=pinned.groups
        )
        return complete_noarch_records(found, spec)
    return packages_from_pixi_lock(path, where, platform=spec.platform, groups=pinned.groups)


def _python_version(spec: EnvSpec) -> str:
    from ..resolve import python_for_resolution

    return python_for_resolution(spec)


def _metaflow_needs(
    spec: EnvSpec,
    packages: tuple[LockedPackage, ...],
    python_version: str,
    indexes: IndexConfig | None,
) -> tuple[LockedPackage, ...]:
    """What `spec.pypi` (Metaflow's own needs) asks for that the file lacks, resolved under the
    file's pins."""
    have = {canonicalize_name(p.name) for p in packages}
    missing = tuple(r for r in spec.pypi if canonicalize_name(r.name.split("[")[0]) not in have)
    if not missing:
        return ()
    from ..resolve.pypi import resolve_pypi

    pins = tuple(Requirement(p.name, f"=={p.version}") for p in packages if p.kind == "pypi")
    extra = dataclasses.replace(
        spec, pypi=missing, constraints=pins, conda=(), pinned=None, files=()
    )
    try:
        env = resolve_pypi(extra, python_version, indexes=indexes)
    except ResolutionError as e:
        names = ", ".join(r.name for r in missing)
        raise ResolutionError(
            f"{spec.pinned.path} lacks {names}, which Metaflow needs in a task here, and "
            f"{names} cannot be added without changing its pins ({e}); add {names} to it "
            "(e.g. `uv add NAME`) and lock it again"
        ) from None
    return tuple(p for p in env.packages if canonicalize_name(p.name) not in have)
