"""`pylock.toml` (PEP 751): pins with their wheels and sdists, taken as they are.

Validated and selected with `packaging.pylock` (the reference implementation of the spec's
installer algorithm): for the step's Python and platform it evaluates each package's marker
and picks the wheel an installer would (the target's tag priority), else the sdist. Hashes are
kept from the file. `groups=` names the file's extras or dependency groups.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.utils import canonicalize_name

from ..errors import SourceFileError
from ..lock.model import LockedPackage
from ..resolve.indexes import strip_credentials
from ..spec import TargetPlatform
from .pyproject import load_toml

# Metaflow comes with the code package (core's --environment=uv skips it too)
SKIPPED = frozenset({"metaflow", "metaflow-bakery"})


def packages_from_pylock(
    text: str,
    where: str,
    *,
    python_version: str,
    platform: TargetPlatform,
    groups: Iterable[str] = (),
) -> tuple[LockedPackage, ...]:
    """The packages `where` (a pylock.toml's text) installs for CPython `python_version` on
    `platform`, with the artifact chosen for that target."""
    from packaging.pylock import (
        PackageSdist,
        PackageWheel,
        Pylock,
        PylockSelectError,
        PylockUnsupportedVersionError,
        PylockValidationError,
    )

    from ..resolve.pypi import target_tags

    try:
        lock = Pylock.from_dict(load_toml(text, where))
    except (PylockValidationError, PylockUnsupportedVersionError) as e:
        raise SourceFileError(f"{where} is not a valid pylock.toml (PEP 751): {e}") from None
    extras, dependency_groups = _split_groups(lock, list(groups), where)
    minor = ".".join(python_version.split(".")[:2])
    environment = platform.marker_environment(python_version)
    try:
        selected = list(
            lock.select(
                environment=environment,
                tags=target_tags(minor, platform),
                extras=extras,
                dependency_groups=dependency_groups,
            )
        )
    except PylockSelectError as e:
        raise SourceFileError(
            f"{where} cannot be installed for Python {python_version} on {platform}: {e}"
        ) from None
    out = []
    for package, artifact in selected:
        name = canonicalize_name(package.name)
        if name in SKIPPED:
            continue
        if not isinstance(artifact, (PackageWheel, PackageSdist)) or not artifact.url:
            raise SourceFileError(
                f"{where}: package '{name}' comes from a {type(artifact).__name__[7:].lower()} "
                "or a local path, not an index URL; Bakery locks only index packages"
            )
        sha256 = (artifact.hashes or {}).get("sha256")
        if not sha256:
            raise SourceFileError(
                f"{where}: package '{name}' has no sha256 hash; Bakery installs only files it "
                "can check: lock again with a tool that records hashes"
            )
        url = strip_credentials(artifact.url)
        out.append(
            LockedPackage(
                kind="pypi",
                name=name,
                version=str(package.version),
                url=url,
                sha256=sha256,
                filename=artifact.name or url.rsplit("/", 1)[-1],
                size=artifact.size,
            )
        )
    return tuple(out)


def _split_groups(lock, groups: list[str], where: str) -> tuple[list[str], list[str] | None]:
    extras = {canonicalize_name(e) for e in lock.extras or ()}
    declared = {
        canonicalize_name(g)
        for g in [*(lock.dependency_groups or ()), *(lock.default_groups or ())]
    }
    unknown = [g for g in groups if canonicalize_name(g) not in extras | declared]
    if unknown:
        known = ", ".join(sorted(extras | declared)) or "none"
        raise SourceFileError(
            f"{where} has no extra or dependency group {', '.join(repr(g) for g in unknown)} "
            f"(it declares: {known})"
        )
    chosen_groups = [g for g in groups if canonicalize_name(g) in declared]
    return [g for g in groups if canonicalize_name(g) in extras], (chosen_groups or None)
