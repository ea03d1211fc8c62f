"""Garbage collection: remove cached environments that no known lockfile refers to.

The cache remembers every lockfile it built environments for (`known-locks/`); an environment
is live while one of those lockfiles still exists and still lists its env id.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LockError
from ..lock.io import read_lock
from . import shared_bytecode
from .cache import EnvCache


def remember_lock(cache: EnvCache, lock_path: Path) -> None:
    """Record that `lock_path` uses environments of this cache (idempotent, cheap)."""
    lock_path = Path(lock_path).resolve()
    folder = cache.root / "known-locks"
    entry = folder / (hashlib.sha256(str(lock_path).encode()).hexdigest()[:24] + ".json")
    if entry.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"path": str(lock_path)}))
    os.replace(tmp, entry)


def known_locks(cache: EnvCache) -> list[Path]:
    folder = cache.root / "known-locks"
    paths = []
    for entry in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            paths.append(Path(json.loads(entry.read_text())["path"]))
        except (OSError, ValueError, KeyError):
            entry.unlink(missing_ok=True)
    return paths


def live_env_ids(lock_paths: Iterable[Path]) -> set[str]:
    live: set[str] = set()
    for path in lock_paths:
        try:
            lock = read_lock(path)
        except LockError:
            continue  # an unreadable lockfile keeps nothing alive
        if lock is not None:
            live.update(lock.environments)
    return live


def directory_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


@dataclass(frozen=True)
class RemovedEntry:
    """One cache entry that was (or, on a dry run, would be) removed."""

    path: Path
    env_id: str  # "" for an abandoned build
    size: int


@dataclass
class GcReport:
    removed: list[str] = field(default_factory=list)  # cache keys
    entries: list[RemovedEntry] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0


def collect_garbage(
    cache: EnvCache, extra_locks: Iterable[Path] = (), *, dry_run: bool = False
) -> GcReport:
    """Remove environments no known (or given) lockfile refers to, and abandoned builds."""
    locks = [*known_locks(cache), *extra_locks]
    live = live_env_ids(p for p in locks if p.exists())
    report = GcReport()
    for key, path, marker in list(cache.entries()):
        if marker.get("env_id") in live:
            report.kept += 1
            continue
        size = directory_size(path)
        report.bytes_freed += size
        report.removed.append(key)
        report.entries.append(RemovedEntry(path, str(marker.get("env_id", "")), size))
        if not dry_run:
            cache.remove(key)
    for leftover in [*cache.envs_dir.glob(".trash-*"), *cache.envs_dir.glob(".build-*")]:
        if leftover.name.startswith(".build-") and _build_in_progress(cache, leftover):
            continue
        size = directory_size(leftover)
        report.bytes_freed += size
        report.entries.append(RemovedEntry(leftover, "", size))
        if not dry_run:
            shutil.rmtree(leftover, ignore_errors=True)
    if not dry_run:  # bytecode no environment links any more (`shared_bytecode.py`)
        shared_bytecode.prune(cache.root / shared_bytecode.STORE)
    for path in locks:  # forget lockfiles that are gone
        if not path.exists() and not dry_run:
            entry = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
            (cache.root / "known-locks" / f"{entry}.json").unlink(missing_ok=True)
    return report


def _build_in_progress(cache: EnvCache, build_dir: Path) -> bool:
    pid = build_dir.name.rsplit("-", 1)[-1]
    try:
        os.kill(int(pid), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
