"""A conda package's paths, checked before rattler links them into the staging prefix.

rattler links each path of a package's `info/paths.json` (or, for packages older than
paths.json, `info/files`) to `<prefix>/<path>`. A path that climbs out with `..` is linked
outside the prefix, onto this machine, and an absolute one aborts the whole process (rattler
panics); so the paths are read from the archive, after its sha256 is checked against the lock,
and the package is refused (`UnsafePathError`) before anything is linked. Symlinks a package
links are checked where they enter a layer (`safe_paths.checked_member`).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from ..lock.model import LockedPackage
from .safe_paths import checked_relative


def check_archive_paths(package: LockedPackage, archive: Path) -> None:
    """Refuse `package` (its archive at `archive`) if a path it installs is absolute or climbs
    out of the prefix."""
    owner = f"conda package {package.filename}"
    action = (
        f"Lock another build or version of {package.name} (this package is broken or "
        "malicious), or remove it from the step's requirements."
    )
    for path in archive_paths(archive):
        checked_relative(path, owner, action)


def archive_paths(archive: Path) -> list[str]:
    """The paths a package archive (.conda or .tar.bz2) installs, as rattler reads them."""
    try:
        from rattler.package import PathsJson

        return [str(entry.relative_path) for entry in PathsJson.from_package_archive(archive).paths]
    except Exception:  # noqa: BLE001 - no paths.json (an old package), or an older py-rattler
        return _tar_bz2_paths(archive)


def _tar_bz2_paths(archive: Path) -> list[str]:
    """`info/paths.json`, else `info/files`, of a .tar.bz2 archive ([] if it has neither: then
    rattler refuses the package itself)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:bz2") as tar:
            for member in tar:
                if member.name in ("info/paths.json", "info/files") and member.isfile():
                    stream = tar.extractfile(member)
                    found[member.name] = stream.read() if stream else b""
    except (tarfile.TarError, OSError, EOFError):
        return []
    if "info/paths.json" in found:
        try:
            entries = json.loads(found["info/paths.json"]).get("paths", [])
            return [str(entry["_path"]) for entry in entries]
        except (ValueError, AttributeError, KeyError, TypeError):
            return []
    return [line for line in found.get("info/files", b"").decode().splitlines() if line]
