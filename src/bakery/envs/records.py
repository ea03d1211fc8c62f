"""What an environment's packages say its files are: wheel RECORDs and conda-meta records.

Every installed wheel lists its files with their digests in `*.dist-info/RECORD`; every linked
conda package lists its files, as linked, in `conda-meta/<package>.json` (rattler's copy of the
package's `paths.json`, with `sha256_in_prefix` where the prefix was written into a file).
A dist-info a conda package brought is the conda record's to vouch for, not its RECORD's.
Files no record gives a digest for (the venv's own, RECORD files themselves) are not here: the
cache fingerprints those when it seals the environment (`integrity.py`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path

# digests a RECORD may use (PEP 376 forbids md5 and sha1)
_BASE64 = re.compile(r"[A-Za-z0-9_-]+=*")
# "." or ".." segments, or empty ones: a path to normalize before it is trusted
_NEEDS_NORMALIZING = re.compile(r"(^|/)\.{1,2}(/|$)|//")
_RECORD_ALGORITHMS = {"sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b", "blake2s"}


@dataclass(frozen=True)
class PinnedFile:
    """A file (or symlink) a package record vouches for."""

    path: str  # relative to the environment's root, with forward slashes
    owner: str  # "six 1.16.0", "tinylib 1.0 (conda)"
    # "sha256:<hex>" (conda), "sha256=<urlsafe base64>" (as RECORD writes it); None: existence only
    digest: str | None = None
    symlink: bool = False


@dataclass
class PackageRecords:
    """Every file the environment's package records list, and what is wrong with the records."""

    files: dict[str, PinnedFile]
    problems: list[str]  # "six 1.16.0: RECORD names a path outside the environment (../x)"

    def owners(self) -> set[str]:
        return {pinned.owner for pinned in self.files.values()}


def read_package_records(root: Path) -> PackageRecords:
    """The package-pinned files of the environment at `root` (a venv or a conda prefix)."""
    files: dict[str, PinnedFile] = {}
    problems: list[str] = []
    conda_owned = _read_conda_meta(root, files, problems)
    for site in sorted(root.glob("lib/python*/site-packages")):
        for record in sorted(site.glob("*.dist-info/RECORD")):
            rel = record.relative_to(root).as_posix()
            if rel not in conda_owned:
                _read_record(root, record, files, problems)
    return PackageRecords(files, problems)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes (not following a final symlink is the caller's job)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def digest_matches(path: str, digest: str) -> bool:
    """Whether the regular file at `path` (never a symlink: OSError) has `digest`
    ("algorithm:hex" or RECORD's "algorithm=base64"). One open, one fstat, whole reads: most
    files of a package are small."""
    base64_form = "=" in digest.split(":", 1)[0]
    algorithm, _, expected = digest.partition("=" if base64_form else ":")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(path)
        hasher = hashlib.new(algorithm)
        while chunk := os.read(fd, 1 << 22):
            hasher.update(chunk)
    finally:
        os.close(fd)
    if base64_form:
        return base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode() == expected
    return hasher.hexdigest() == expected


def _read_record(
    root: Path, record: Path, files: dict[str, PinnedFile], problems: list[str]
) -> None:
    owner = _dist_owner(record.parent.name)
    site = record.parent.parent.relative_to(root).as_posix()
    try:
        with record.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        problems.append(f"{owner}: its RECORD cannot be read ({e})")
        return
    for row in rows:
        if not row or not row[0]:
            continue
        path = _inside(site, row[0])
        if path is None:
            problems.append(f"{owner}: RECORD names a path outside the environment ({row[0]})")
            continue
        algorithm, _, value = (row[1] if len(row) > 1 else "").partition("=")
        if algorithm in _RECORD_ALGORITHMS and value:
            if not _BASE64.fullmatch(value):
                problems.append(f"{owner}: RECORD has a malformed digest for {row[0]}")
                continue
            digest = f"{algorithm}={value.rstrip('=')}"
        else:
            digest = None
        files[path] = PinnedFile(path, owner, digest)


def _read_conda_meta(root: Path, files: dict[str, PinnedFile], problems: list[str]) -> set[str]:
    """Conda records into `files`; returns every path a conda package installed."""
    owned: set[str] = set()
    for meta in sorted(root.glob("conda-meta/*.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            owner = f"{data['name']} {data['version']} (conda)"
            entries = data.get("paths_data", {}).get("paths", [])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            problems.append(f"{meta.name}: this conda record cannot be read ({e})")
            continue
        for entry in entries:
            path = _inside("", str(entry.get("_path", "")))
            if path is None:
                problems.append(f"{owner}: a path outside the environment ({entry.get('_path')})")
                continue
            owned.add(path)
            kind = entry.get("path_type", "hardlink")
            if kind == "directory":
                continue
            sha256 = entry.get("sha256_in_prefix") or entry.get("sha256")
            if kind == "softlink":
                files[path] = PinnedFile(path, owner, symlink=True)
            else:
                files[path] = PinnedFile(path, owner, f"sha256:{sha256}" if sha256 else None)
    return owned


def _inside(base: str, name: str) -> str | None:
    """`name`, relative to the folder `base` (itself relative to the root, "" for the root),
    as a path relative to the root; None if it is absolute or climbs out of the root."""
    if not name or name.startswith("/") or "\\" in name:
        return None
    if not _NEEDS_NORMALIZING.search(name):  # most rows: plain relative paths
        return f"{base}/{name}" if base else name
    rel = posixpath.normpath(posixpath.join(base, name))
    if rel in (".", "..") or rel.startswith("../"):
        return None
    return rel


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares it: lower case, runs of `-_.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def owner_key(owner: str) -> tuple[str, str]:
    """("pypi", "pyyaml") for the owner "PyYAML 6.0.1" (a dist-info's), ("conda", name) for a
    conda record's ("tinylib 1.0 (conda)")."""
    kind = "conda" if owner.endswith(" (conda)") else "pypi"
    return kind, canonical_name(owner.split(" ", 1)[0])


def _dist_owner(dist_info: str) -> str:
    name, _, version = dist_info.removesuffix(".dist-info").partition("-")
    return f"{name} {version}".strip()
