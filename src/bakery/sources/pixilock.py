"""`pixi.lock`: a pixi workspace's lock, read with rattler (the library pixi writes it with).

`groups=` names the pixi environment (one; `default` if none is named). For the step's
platform, its conda packages come with their full repodata records, its PyPI packages with
their URL and sha256.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SourceFileError
from ..lock.model import LockedPackage
from ..resolve.indexes import strip_credentials
from ..spec import TargetPlatform
from .pylock import SKIPPED


def packages_from_pixi_lock(
    path: Path, where: str, *, platform: TargetPlatform, groups: tuple[str, ...] = ()
) -> tuple[LockedPackage, ...]:
    from rattler import LockFile

    from ..resolve.conda import locked_package

    if len(groups) > 1:
        raise SourceFileError(
            f"{where}: groups= names the one pixi environment to use, e.g. groups=['gpu']; "
            f"got {list(groups)}"
        )
    name = groups[0] if groups else "default"
    try:
        lock = LockFile.from_path(path)
    except Exception as e:  # noqa: BLE001 - rattler's parse errors have their own types
        raise SourceFileError(
            f"{where} is not a pixi.lock rattler can read ({_first_line(e)})"
        ) from None
    environment = lock.environment(name)
    if environment is None:
        known = ", ".join(sorted(n for n, _ in lock.environments())) or "none"
        raise SourceFileError(f"{where} has no pixi environment '{name}' (it has: {known})")
    target = next((p for p in environment.platforms() if p.name == platform.subdir), None)
    if target is None:
        have = ", ".join(p.name for p in environment.platforms()) or "none"
        raise SourceFileError(
            f"{where}: environment '{name}' is not locked for {platform.subdir} (it has: {have}); "
            f"add the platform to the workspace and run `pixi lock`"
        )
    conda = [
        locked_package(r) for r in environment.conda_repodata_records_for_platform(target) or []
    ]
    pypi = [_pypi(p, where) for p in environment.pypi_packages_for_platform(target) or []]
    return tuple(p for p in (*conda, *pypi) if p.name not in SKIPPED)


def _pypi(package, where: str) -> LockedPackage:
    url = str(package.location)
    hashes = package.hashes
    sha256 = getattr(hashes, "sha256", None) if hashes is not None else None
    if not sha256:
        raise SourceFileError(
            f"{where}: PyPI package '{package.name}' has no sha256; Bakery installs only files "
            "it can check: run `pixi lock` again"
        )
    if not url.startswith(("https://", "http://", "file://")):
        raise SourceFileError(
            f"{where}: PyPI package '{package.name}' comes from {url}, not an index URL; "
            "Bakery locks only index packages"
        )
    url = strip_credentials(url)
    sha = sha256.hex() if isinstance(sha256, bytes) else str(sha256)
    return LockedPackage(
        "pypi", str(package.name).lower(), str(package.version), url, sha, url.rsplit("/", 1)[-1]
    )


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
