"""Bytecode shared between environments made from the same files, so a new environment that
differs from an earlier one by a pin does not compile again what the earlier one compiled.

uv and rattler hard-link an environment's files from their caches: pandas' `frame.py` in a new
environment is the very inode it was in the last one, with the same size and mtime, so the
timestamp `.pyc` compiled for it there is valid here too. Once an environment's bytecode is
sealed, each of its `.pyc` files is linked into `<cache root>/bytecode/`, named by its source
file's identity (device, inode, size, mtime) and the interpreter's cache tag; a new environment
links in, before anything is compiled, the entries for its own source files. Python itself
checks each header against the source, as for any `.pyc`.

An entry's name also holds its own size and mtime when it was linked in: one changed since
(written through any of its links) no longer matches and is not used, the way the seal and the
build stamps treat files (`stamps.py`). `prune` removes entries no environment links any more.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

STORE = "bytecode"


def store_of(env_dir: Path) -> Path | None:
    """The shared store of a cached environment (`<root>/envs/<key>`), or None elsewhere."""
    return env_dir.parent.parent / STORE if env_dir.parent.name == "envs" else None


def _source_key(tag: str, info: os.stat_result) -> str:
    text = f"{tag}|{info.st_dev}|{info.st_ino}|{info.st_size}|{info.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _entry_name(key: str, pyc: os.stat_result) -> str:
    return f"{key}.{pyc.st_size}.{pyc.st_mtime_ns}.pyc"


def _site_packages(env_dir: Path) -> list[Path]:
    return sorted(env_dir.glob("lib/python3*/site-packages"))


def _cache_tag(site: Path) -> str:
    """`cpython-311` for `lib/python3.11/site-packages` (Bakery's environments are CPython)."""
    return "cpython-" + site.parent.name[len("python") :].replace(".", "")


def link_shared(env_dir: Path, store: Path) -> int:
    """Link into the environment the shared `.pyc` of each of its source files that has one
    (none where a `.pyc` is there already); returns how many were linked."""
    try:
        names = os.listdir(store)
    except OSError:
        return 0
    entries: dict[str, str] = {}
    for name in names:
        key, _, rest = name.partition(".")
        entries[key] = rest
    linked = 0
    for site in _site_packages(env_dir):
        tag = _cache_tag(site)
        for folder, dirs, files in os.walk(site):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if not name.endswith(".py"):
                    continue
                source = os.path.join(folder, name)
                try:
                    info = os.lstat(source)
                except OSError:
                    continue
                if info.st_nlink < 2:
                    continue  # written by this build alone: no earlier environment had it
                key = _source_key(tag, info)
                rest = entries.get(key)
                if rest is None:
                    continue
                entry = store / f"{key}.{rest}"
                if not _unchanged(entry, rest):
                    continue
                cache = os.path.join(folder, "__pycache__")
                target = os.path.join(cache, f"{name[:-3]}.{tag}.pyc")
                try:
                    os.makedirs(cache, exist_ok=True)
                    os.link(entry, target)
                except OSError:
                    continue  # compiled meanwhile (by the task), or another file system
                linked += 1
    return linked


def _unchanged(entry: Path, rest: str) -> bool:
    try:
        info = os.stat(entry)
    except OSError:
        return False
    return rest == f"{info.st_size}.{info.st_mtime_ns}.pyc"


def publish(env_dir: Path, store: Path) -> int:
    """Link each sealed `.pyc` of the environment whose source is shared with a cache into the
    store (unless its source has an entry); returns how many were added."""
    added = 0
    try:
        known = {name.partition(".")[0] for name in os.listdir(store)}
    except OSError:
        known = set()
    for site in _site_packages(env_dir):
        tag = _cache_tag(site)
        suffix = f".{tag}.pyc"
        for folder, _, files in os.walk(site):
            if os.path.basename(folder) != "__pycache__":
                continue
            for name in files:
                if not name.endswith(suffix):
                    continue
                source = os.path.join(os.path.dirname(folder), name[: -len(suffix)] + ".py")
                pyc = os.path.join(folder, name)
                try:
                    info = os.lstat(source)
                    pyc_info = os.lstat(pyc)
                except OSError:
                    continue
                if info.st_nlink < 2 or pyc_info.st_mode & 0o222:
                    continue  # a source of this environment alone, or bytecode not sealed
                key = _source_key(tag, info)
                if key in known:
                    continue
                try:
                    store.mkdir(parents=True, exist_ok=True)
                    os.link(pyc, store / _entry_name(key, pyc_info))
                except OSError:
                    continue  # a read-only cache, another file system: only sharing is lost
                known.add(key)
                added += 1
    return added


def prune(store: Path) -> int:
    """Remove the entries no environment links any more; returns how many."""
    removed = 0
    if not store.is_dir():
        return 0
    for entry in store.iterdir():
        try:
            if entry.stat().st_nlink < 2:
                entry.unlink()
                removed += 1
        except OSError:
            continue
    return removed
