"""Garbage collection of the image cache: what no bake has used for a while goes.

Everything in the image cache is content addressed and can be made again (fetched, compiled,
compressed, pulled), so it is kept by use, not by reference: each bake marks what it reads
(`mark_used` sets the file's mtime), and `collect_image_garbage` removes what was not used in
`max_age_days`. A blob named by a kept layer record is kept with it. Half-written files left by
an interrupted bake go once they are an hour old, and caches of older layouts go at once.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

# folders holding one file (or folder) per cached thing, and what it is
_KINDS = {
    "wheels": "wheel",
    "bytecode": "bytecode",
    "wheel-facts": "wheel facts",
    "conda": "conda prefix",
    "conda-packages": "conda package",
    "layers": "layer record",
    "pushed": "push record",
    "base-commands": "base check",
    "manifests/sha256": "manifest",
    "blobs/sha256": "blob",
}
_OBSOLETE = ("staged",)  # layout 2 unpacked every wheel here; layout 3 reads wheels directly
_PARTIAL_PREFIXES = (".layer-", ".fetch-", ".install-", ".build-")
_PARTIAL_AGE_S = 3600


def mark_used(path: Path) -> None:
    """Record that a bake just used `path` (its mtime), so gc keeps it."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only or vanished cache entry is still usable for this bake


@dataclass
class ImageGcReport:
    removed: dict[str, int] = field(default_factory=dict)  # kind -> count
    paths: list[tuple[str, Path, int]] = field(default_factory=list)  # (kind, path, bytes)
    kept: int = 0
    bytes_freed: int = 0

    @property
    def removed_count(self) -> int:
        return sum(self.removed.values())


def collect_image_garbage(
    cache_dir: Path,
    *,
    max_age_days: float = 30,
    dry_run: bool = False,
    now: float | None = None,
) -> ImageGcReport:
    """Remove image-cache entries unused for `max_age_days`; see module doc."""
    now = time.time() if now is None else now
    cutoff = now - max_age_days * 86400
    report = ImageGcReport()
    for name in _OBSOLETE:
        if (cache_dir / name).is_dir():
            _remove(cache_dir / name, "obsolete cache", report, dry_run)
    kept_blobs: set[str] = set()
    for folder, kind in _KINDS.items():
        directory = cache_dir / folder
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if entry.name.startswith(_PARTIAL_PREFIXES) or entry.name.endswith(".tmp"):
                if _mtime(entry) < now - _PARTIAL_AGE_S:
                    _remove(entry, "unfinished file", report, dry_run)
                continue
            if kind == "blob" and entry.name in kept_blobs:
                report.kept += 1
                continue
            if _last_used(entry) < cutoff:
                _remove(entry, kind, report, dry_run)
                continue
            report.kept += 1
            if kind == "layer record":
                kept_blobs.add(_blob_of(entry))
    return report


def _last_used(entry: Path) -> float:
    """A wheel's folder was used when its file was; anything else by its own mtime."""
    if entry.is_dir():
        return max((_mtime(p) for p in entry.iterdir()), default=_mtime(entry))
    return _mtime(entry)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _blob_of(record: Path) -> str:
    try:
        return Path(json.loads(record.read_text())["path"]).name
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _remove(path: Path, kind: str, report: ImageGcReport, dry_run: bool) -> None:
    size = _size(path)
    report.removed[kind] = report.removed.get(kind, 0) + 1
    report.paths.append((kind, path, size))
    report.bytes_freed += size
    if dry_run:
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size if path.exists() or path.is_symlink() else 0
    return sum(
        os.lstat(os.path.join(root, name)).st_size
        for root, _, names in os.walk(path)
        for name in names
    )
