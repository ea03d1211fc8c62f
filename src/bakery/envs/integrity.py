"""What runs is what was locked: checking an environment's files, and sealing it once built.

uv and rattler hard-link the files of a new environment from their caches, so an environment
shares inodes with the cache and with every other environment made from the same wheel: a file
changed in one changes them all, and the next build links the changed file again. Hence:

- **At build**, every file a package record pins (wheel RECORD, conda-meta) is hashed and
  compared (`check_package_files`); a mismatch means a poisoned cache entry, which the builder
  drops and fetches again (`realize`), or refuses. Skipped: files already hashed by an earlier
  build and unchanged since (`stamps.py`), and those of wheels uv fetched, checked against the
  lock and unpacked in this very build (`pypi_install.py`): only a cache entry that existed
  before the build can have been changed.
- **Sealing** (`seal`, by the cache, before the environment is renamed into place) fingerprints
  the files no record pins (the venv's own files, RECORDs themselves, symlink targets), notes
  every file's size and mtime in `.bakery-files.json`, and makes every file read-only. Files are
  shared with uv's and rattler's caches, so those entries turn read-only too: neither tool
  writes to a cached file (they replace or delete, which needs only the folder writable), and a
  shared inode should not be writable from any one place. Folders stay writable: bytecode
  compiled after the build, Python's own `__pycache__` and removing an environment need them.
  Root ignores file modes: the checks below are what holds against it.
- **Each use** (`changed_since_sealed`, from the cache's lookup) compares every file's size and
  mtime with the seal, and the entries of site-packages and bin/ (where an added `.pth` file or
  command takes effect unasked), so an edited environment is rebuilt, not run: a stat per file.
- **`bakery env verify`** (`verify_environment`) hashes everything again and also reports files
  nobody put there. Bytecode in `__pycache__` is derived, not pinned by any record: a `.pyc` of a
  known source is compared with the hash the bytecode compile recorded right after the build
  (`bytecode.py`); one Python wrote later (compile mode `never`) is not compared; a `.pyc` of no
  known source is unexpected.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .bytecode import BYTECODE_SEAL, read_bytecode_seal
from .records import (
    PackageRecords,
    PinnedFile,
    canonical_name,
    digest_matches,
    file_digest,
    owner_key,
    read_package_records,
)
from .stamps import VerifiedStamps, linked_files, package_stamp

SEAL = ".bakery-files.json"
# the cache's own files, written around the seal (and the bytecode's, after it)
_BOOKKEEPING = {SEAL, ".bakery-env.json", BYTECODE_SEAL}
T = TypeVar("T")
_PYC = re.compile(r"(?P<dir>(?:.*/)?)__pycache__/(?P<stem>[^/.]+)\.[^/]+\.pyc")


@dataclass(frozen=True)
class Finding:
    """One file that is not as it should be."""

    path: str
    owner: str  # the package, or "" for a file of the environment's own
    state: str  # "modified", "missing" or "unexpected"


def hashing_threads() -> int:
    # hashlib releases the GIL on large buffers: a few threads keep the disks and cores busy
    return max(1, min(4, os.cpu_count() or 1))


def check_package_files(
    root: Path,
    records: PackageRecords | None = None,
    stamps: VerifiedStamps | None = None,
    fetched_now: Collection[str] = (),
) -> list[Finding]:
    """Every package-pinned file of the environment at `root` that is missing or differs.

    With `stamps`, packages whose files a build already hashed, unchanged since, are skipped,
    and those found intact now are remembered (`stamps.py`). So are the PyPI packages named in
    `fetched_now` (canonical names): the installer fetched them, checked each archive against
    the lock's sha256 and unpacked it in this build, so the files it linked are the archive's.
    """
    records = records or read_package_records(root)
    to_check: list[PinnedFile] = list(records.files.values())
    fresh: dict[str, str] = {}  # owner -> stamp, for packages hashed (or fetched) now
    fetched = {("pypi", canonical_name(name)) for name in fetched_now}
    if stamps is not None:
        by_owner: dict[str, list[PinnedFile]] = {}
        for pinned in to_check:
            by_owner.setdefault(pinned.owner, []).append(pinned)
        to_check = []
        for owner, files in by_owner.items():
            linked = linked_files(root, files)
            stamp = package_stamp(linked)
            if linked and owner_key(owner) in fetched:
                fresh[owner] = stamp  # remembered below, unless a file it wrote itself differs
            elif not (linked and stamps.known(stamp)):
                fresh[owner] = stamp
                to_check += files
                continue
            skipped = {pinned.path for pinned, _ in linked}
            to_check += [p for p in files if p.path not in skipped]
    states = _in_batches(lambda p: _pinned_state(root, p), to_check)
    findings = [Finding(p.path, p.owner, s) for p, s in zip(to_check, states, strict=True) if s]
    if stamps is not None:
        bad = {f.owner for f in findings}
        stamps.remember(stamp for owner, stamp in fresh.items() if owner not in bad)
    return findings


def _in_batches(check: Callable[[T], str | None], items: list[T]) -> list[str | None]:
    """`check` over `items`, in order, on a few threads each taking one slice (a future per
    file would cost more than hashing most files)."""
    threads = min(hashing_threads(), max(1, len(items) // 256))
    if threads == 1:
        return [check(item) for item in items]
    slices = [items[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        done = list(pool.map(lambda part: [check(item) for item in part], slices))
    results: list[str | None] = [None] * len(items)
    for i, part in enumerate(done):
        results[i::threads] = part
    return results


def seal(root: Path, records: PackageRecords | None = None) -> None:
    """Fingerprint what no record pins, note every file's size and mtime, make files read-only."""
    records = records or read_package_records(root)
    own: dict[str, list[str]] = {}
    stats: list[list] = []
    for rel, full in _walk(root):
        if rel in _BOOKKEEPING:
            continue
        info = os.lstat(full)
        pinned = records.files.get(rel)
        owner = pinned.owner if pinned else ""
        if stat.S_ISLNK(info.st_mode):
            own[rel] = ["->" + os.readlink(full), owner]
            continue
        if (pinned is None or pinned.digest is None) and not (
            pinned is None and _derived_bytecode(rel, records.files)
        ):
            own[rel] = ["sha256:" + file_digest(Path(full)), owner]
        if info.st_mode & 0o222:  # chmod changes neither size nor mtime
            os.chmod(full, stat.S_IMODE(info.st_mode) & ~0o222)
        stats.append([rel, info.st_size, info.st_mtime_ns])
    entries = {rel: _entries(root / rel) for rel in _watched_folders(root)}
    seal_data = {"version": 1, "own": own, "stat": stats, "entries": entries}
    (root / SEAL).write_text(json.dumps(seal_data, separators=(",", ":")))


def changed_since_sealed(root: Path) -> str | None:
    """The first file whose size or mtime differs from the seal (or why the seal is unusable),
    or None when every sealed file looks as it did: cheap, one stat per file."""
    seal_data = read_seal(root)
    if seal_data is None:
        return f"{SEAL} is missing (built by an older Bakery)"
    base = str(root)
    for rel, size, mtime_ns in seal_data.get("stat", []):
        try:
            info = os.lstat(os.path.join(base, rel))
        except OSError:
            return f"{rel} is missing"
        if info.st_size != size or info.st_mtime_ns != mtime_ns:
            return f"{rel} changed"
    for rel, (size, mtime_ns, _) in read_bytecode_seal(root).items():
        try:
            info = os.lstat(os.path.join(base, rel))
        except OSError:
            continue  # Python compiles it again from its (checked) source
        if info.st_size != size or info.st_mtime_ns != mtime_ns:
            return f"{rel} changed"
    for rel, names in seal_data.get("entries", {}).items():
        added = sorted(set(_entries(root / rel)) - set(names))
        if added:
            return f"{rel}/{added[0]} was added"
    return None


def read_seal(root: Path) -> dict | None:
    try:
        data = json.loads((root / SEAL).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == 1 else None


@dataclass
class EnvironmentReport:
    """What `bakery env verify` says about one environment."""

    path: Path
    checked: int = 0  # files hashed or compared
    findings: list[Finding] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)  # owner -> ok / modified / missing
    unsealed: bool = False  # built before environments were sealed: nothing to compare with

    @property
    def ok(self) -> bool:
        return not self.findings and not self.unsealed


def verify_environment(root: Path) -> EnvironmentReport:
    """Every file against its package record or the seal, and every file nobody put there."""
    report = EnvironmentReport(root)
    seal_data = read_seal(root)
    if seal_data is None:
        report.unsealed = True
        return report
    records = read_package_records(root)
    report.findings += [Finding(problem, "", "bad record") for problem in records.problems]
    report.findings += check_package_files(root, records)
    own = dict(seal_data.get("own", {}))
    states = _in_batches(lambda item: _own_state(root, *item), list(own.items()))
    for (rel, (_, owner)), state in zip(own.items(), states, strict=True):
        if state:
            report.findings.append(Finding(rel, owner, state))
    known = set(records.files) | set(own) | _BOOKKEEPING
    bytecode = read_bytecode_seal(root)
    compiled = []
    for rel, full in _walk(root):
        if rel in known or (rel.startswith(".bakery-") and "/" not in rel):
            continue  # the cache's own files (and one a killed compile left half-written)
        if not _derived_bytecode(rel, known):
            report.findings.append(Finding(rel, "", "unexpected"))
        elif rel in bytecode:
            compiled.append((rel, full))
    states = _in_batches(lambda item: _bytecode_state(item[1], bytecode[item[0]][2]), compiled)
    for (rel, _), state in zip(compiled, states, strict=True):
        if state:
            report.findings.append(Finding(rel, "", state))
    report.checked = len(records.files) + len(own) + len(compiled)
    for owner in sorted(records.owners() | {o for _, o in own.values() if o}):
        states = {f.state for f in report.findings if f.owner == owner}
        report.packages[owner] = next((s for s in ("modified", "missing") if s in states), "ok")
    return report


def _pinned_state(root: Path, pinned: PinnedFile) -> str | None:
    path = os.path.join(root, pinned.path)
    if pinned.symlink:
        return None if os.path.islink(path) else "modified" if os.path.exists(path) else "missing"
    if pinned.digest is None:
        return None if os.path.isfile(path) and not os.path.islink(path) else _absent(path)
    try:
        return None if digest_matches(path, pinned.digest) else "modified"
    except FileNotFoundError:
        return "missing"
    except OSError:  # a symlink (O_NOFOLLOW), a folder, unreadable: not the file it was
        return "modified"


def _absent(path: str) -> str:
    return "modified" if os.path.lexists(path) else "missing"


def _bytecode_state(full: str, sha256: str) -> str | None:
    try:
        return None if digest_matches(full, f"sha256:{sha256}") else "modified"
    except OSError:
        return "modified"


def _own_state(root: Path, rel: str, value: list[str]) -> str | None:
    path = root / rel
    if not os.path.lexists(path):
        return "missing"
    try:
        return None if _fingerprint(path) == value[0] else "modified"
    except OSError:
        return "modified"


def _fingerprint(path: Path) -> str:
    if path.is_symlink():
        return "->" + os.readlink(path)
    return "sha256:" + file_digest(path)


def _watched_folders(root: Path) -> list[str]:
    """Where an added file takes effect without anything importing it: `.pth` files and
    modules that shadow others in site-packages, commands in bin/."""
    folders = [p.relative_to(root).as_posix() for p in root.glob("lib/python*/site-packages")]
    return folders + (["bin"] if (root / "bin").is_dir() else [])


def _entries(folder: Path) -> list[str]:
    try:
        return sorted(name for name in os.listdir(folder) if name != "__pycache__")
    except OSError:
        return []


def _walk(root: Path) -> Iterable[tuple[str, str]]:
    """(relative path, full path) of every file and symlink under `root`, symlinks not followed."""
    base = str(root)
    cut = len(base) + 1
    for folder, dirs, files in os.walk(base):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            full = os.path.join(folder, name)
            yield full[cut:], full


def _derived_bytecode(rel: str, known: Iterable[str]) -> bool:
    """Whether `rel` is `__pycache__/<stem>.<tag>.pyc` of a known `<stem>.py` beside it."""
    match = _PYC.fullmatch(rel)
    return bool(match) and f"{match['dir']}{match['stem']}.py" in known
