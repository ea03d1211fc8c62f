"""A persistent, content-keyed home for the code package that local tasks import Metaflow from.

Core Metaflow links every file of the code package into a fresh temporary folder at each run
and deletes it at the end: hundreds of symlinks made and removed per run, which on slow disks
costs a warm run more than everything else. The folder's content is a pure function of the
package's member list (symlinks to the same files, plus small generated files), so Bakery keys
it by that list and reuses it across runs.

Each folder of symlinks into one source folder also gets that folder's `__pycache__`, linked:
Python then finds the bytecode that was compiled where Metaflow (or the flow's modules) is
installed, and accepts it, since a symlinked source has the same mtime and size. Without it,
every task compiles Metaflow from source again (where PYTHONDONTWRITEBYTECODE is set, or the
home cannot be written), a second or more of CPU per task.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

KEEP_SECONDS = 7 * 24 * 3600


class CodeHome:
    """Stands in for the TemporaryDirectory core's @conda keeps: same `.name`, no cleanup."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)

    def cleanup(self) -> None:
        pass  # kept for the next run; old homes are pruned when a new one is made


def _member_key(package) -> str | None:
    """Hash of what extract_into would lay out; None if this Metaflow hides the member list."""
    from ..compat import code_package_contents, code_package_user_members

    try:
        digest = hashlib.sha256(package.package_metadata.encode())
        for orig, arc in sorted(code_package_user_members(package, lambda: time.sleep(0.002))):
            digest.update(f"U{orig}\0{arc}\0".encode())
        code, other = code_package_contents(package)
        for orig, arc in sorted(code):
            digest.update(f"C{orig}\0{arc}\0".encode())
        for content, arc in other:
            data = content if isinstance(content, bytes) else Path(content).read_bytes()
            digest.update(f"O{arc}\0".encode() + hashlib.sha256(data).digest())
    except (AttributeError, TypeError, OSError):
        return None
    return digest.hexdigest()[:24]


def code_home(package, cache_root: Path) -> Path | None:
    """The folder holding the extracted package (made once per distinct content), or None."""
    key = _member_key(package)
    if key is None:
        return None
    homes = cache_root / "code"
    home = homes / key
    if (home / ".complete").exists():
        os.utime(home / ".complete")
        return home
    homes.mkdir(parents=True, exist_ok=True)
    tmp = homes / f".build-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    package.extract_into(str(tmp))
    link_bytecode(tmp)
    (tmp / ".complete").touch()
    try:
        os.rename(tmp, home)
    except OSError:  # another run made it first
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(homes, keep=home)
    return home


def link_bytecode(root: Path) -> int:
    """Link `__pycache__` into every folder under `root` whose `.py` files are all symlinks into
    one source folder that has one; returns how many were linked."""
    linked = 0
    for folder, dirnames, filenames in os.walk(root):
        if "__pycache__" in dirnames:
            continue
        sources = set()
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                sources.add(
                    os.path.dirname(os.path.realpath(path)) if os.path.islink(path) else None
                )
        if len(sources) != 1 or None in sources:
            continue  # no modules here, a real file, or modules from several places
        cache = os.path.join(sources.pop(), "__pycache__")
        if os.path.isdir(cache):
            os.symlink(cache, os.path.join(folder, "__pycache__"))
            linked += 1
    return linked


def _prune(homes: Path, keep: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for home in homes.iterdir():
        if home == keep:
            continue
        marker = home / ".complete"
        try:
            stale = not marker.exists() or marker.stat().st_mtime < cutoff
        except OSError:
            continue
        if stale and not home.name.startswith(".build-"):
            shutil.rmtree(home, ignore_errors=True)
