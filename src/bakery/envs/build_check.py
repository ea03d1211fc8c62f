"""A new environment's files against its packages' records, before the cache accepts it.

uv and rattler link files from their caches without checking them again, so a cache entry
changed since it was unpacked (through an environment sharing its inodes, or on purpose) would
be built into every new environment. `check_new_environment` hashes each pinned file; for each
package that differs it has the caller drop that package's cache entry and install it again,
then checks once more and refuses the environment if it still differs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Collection
from pathlib import Path

from ..errors import EnvironmentIntegrityError
from ..lock.model import LockedEnv, LockedPackage
from .integrity import Finding, check_package_files, seal
from .records import canonical_name, owner_key, read_package_records
from .stamps import VerifiedStamps

# called with the locked packages whose files differ: fetch them again into the environment
Refetch = Callable[[list[LockedPackage]], None]


def check_new_environment(
    env: LockedEnv,
    root: Path,
    refetch: Refetch,
    stamps: VerifiedStamps | None = None,
    fetched_now: Collection[str] = (),
) -> list[LockedPackage]:
    """Make the environment at `root` match its records, then seal it; returns the packages
    fetched again. `fetched_now`: PyPI packages (canonical names) the installer fetched and
    checked against the lock in this build, whose linked files need no hashing."""
    records = read_package_records(root)
    findings = check_package_files(root, records, stamps, fetched_now)
    bad = _packages_of(env, findings) if findings else []
    if bad:
        refetch(bad)
        records = read_package_records(root)
        still = check_package_files(root, records, stamps)
        if still:
            raise EnvironmentIntegrityError(
                f"{_describe(still)} even as fetched again: the package itself lists other "
                "digests than it holds, or something changes its files as they are installed. "
                "Nothing was kept; check the package's origin (its index or channel) and re-lock"
            )
    seal(root, records)  # here, where the records are read already (the cache seals otherwise)
    return bad


def drop_conda_cache_entries(root: Path, packages: list[LockedPackage]) -> None:
    """Remove the package cache folders rattler linked `packages` from into `root`, so that
    linking them again extracts them afresh from their archives."""
    wanted = {(p.name, p.version) for p in packages if p.kind == "conda"}
    for meta in root.glob("conda-meta/*.json"):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if (data.get("name"), data.get("version")) in wanted:
            source = data.get("extracted_package_dir") or (data.get("link") or {}).get("source")
            if source:
                shutil.rmtree(source, ignore_errors=True)


def _packages_of(env: LockedEnv, findings: list[Finding]) -> list[LockedPackage]:
    """The locked packages the findings' files belong to (every one, if a file has no owner)."""
    owners = {owner_key(f.owner) for f in findings}
    found = [p for p in env.packages if (p.kind, canonical_name(p.name)) in owners]
    return found or list(env.packages)


def _describe(findings: list[Finding]) -> str:
    by_owner: dict[str, list[str]] = {}
    for finding in findings:
        by_owner.setdefault(finding.owner or "the environment", []).append(
            f"{finding.path} {finding.state}"
        )
    parts = []
    for owner, files in sorted(by_owner.items()):
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        parts.append(f"{owner}: {shown}")
    return "files differ from their package records (" + "; ".join(parts) + ")"
