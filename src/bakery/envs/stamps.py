"""Packages whose linked files were already hashed, so a new environment need not hash them again.

Environments share inodes with uv's (and rattler's) cache: a new environment of pandas links
the very files an earlier build hashed. A package's *stamp* digests, for each of its pinned
files, the path, the digest its record expects, and the file's device, inode, size and mtime.
Once a build has hashed a package's files and found them as recorded, it leaves an empty file
named by the stamp under `<cache root>/verified/`; a later build whose stamp for the package is
there skips hashing those linked files (files the build wrote itself, with one link, such as
uv's RECORD and INSTALLER or a script rattler rewrote, are always hashed). A file changed since
(written in place through any hard link) has another size or mtime, so another stamp, and is
hashed again. This trusts mtimes the way the
cache's seal does; `bakery env verify` never skips: it hashes every file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .records import PinnedFile


class VerifiedStamps:
    """The stamps of packages found as recorded, as empty files (safe for concurrent builds)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def known(self, stamp: str) -> bool:
        return (self.folder / stamp[:2] / stamp).exists()

    def remember(self, stamps: Iterable[str]) -> None:
        for stamp in stamps:
            path = self.folder / stamp[:2] / stamp
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            except OSError:
                return  # a read-only cache only costs hashing again next time


def linked_files(root: Path, files: list[PinnedFile]) -> list[tuple[PinnedFile, os.stat_result]]:
    """The files of `files` that share their inode (with a cache, or another environment): only
    those can have come in changed; a file with one link was written by this build itself."""
    base = str(root)
    linked = []
    for pinned in files:
        try:
            info = os.lstat(os.path.join(base, pinned.path))
        except OSError:
            continue
        if info.st_nlink > 1 and stat.S_ISREG(info.st_mode):
            linked.append((pinned, info))
    return linked


def package_stamp(linked: list[tuple[PinnedFile, os.stat_result]]) -> str:
    """The stamp of one package's linked files as they are now."""
    digest = hashlib.sha256()
    for pinned, info in sorted(linked, key=lambda item: item[0].path):
        # not the permissions, which sealing changes, nor the link count
        fields = (pinned.path, pinned.digest or "", info.st_dev, info.st_ino, info.st_size)
        digest.update(repr((*fields, info.st_mtime_ns)).encode())
    return digest.hexdigest()
