"""The content-addressed environment cache: atomic builds, one builder at a time, no half-builds.

Layout under the cache root (`BAKERY_CACHE_DIR`, default `~/.cache/bakery`)::

    envs/<key>/                  a finished environment (relocatable venv or conda prefix)
    envs/<key>/.bakery-env.json  its marker: written last, so its presence means "complete"
    envs/<key>/.bakery-files.json  its seal: fingerprints and stats of its files (integrity.py)
    envs/.build-<key>-<pid>/     an environment being built; renamed into place when done
    locks/<key>.lock             flock held while building <key>
    verified/<stamp>             packages whose linked files a build hashed (stamps.py)

A build killed half-way leaves only a `.build-*` folder, which is never used and is removed by
the next build of that key. Concurrent processes that need the same new environment wait on
the lock; the first builds it, the others find it finished. A finished environment is sealed
(its files read-only, their sizes and mtimes noted) and rebuilt if any file changed since.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..lock.model import LockedEnv
from ..settings import current
from .integrity import SEAL, changed_since_sealed, seal

MARKER = ".bakery-env.json"


def default_cache_root() -> Path:
    """The cache root of this process's settings (`BAKERY_CACHE_DIR`, else the XDG default)."""
    return current().cache_root()


def image_cache_dir(cache_root: Path) -> Path:
    """Where images are made under a Bakery cache root: wheels, bytecode, layers, records."""
    return cache_root / "image"


@dataclass(frozen=True)
class CachedEnv:
    """A finished environment in the cache."""

    key: str
    path: Path
    env_id: str
    created: bool  # True when this call built it

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def cache_key(env: LockedEnv, base_interpreter: str | None) -> str:
    """The env id, plus the host interpreter a venv is tied to (conda prefixes bring their own)."""
    if base_interpreter is None:
        return env.env_id[:24]
    digest = hashlib.sha256(f"{env.env_id}:{base_interpreter}".encode()).hexdigest()
    return digest[:24]


class EnvCache:
    """Finished environments by key, built at most once, atomically."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_root()
        self.envs_dir = self.root / "envs"
        self.locks_dir = self.root / "locks"

    def path(self, key: str) -> Path:
        return self.envs_dir / key

    def lookup(self, key: str, env: LockedEnv) -> CachedEnv | None:
        """The finished environment for `key`, or None if absent or not intact."""
        path = self.path(key)
        if is_intact(path, env):
            return CachedEnv(key, path, env.env_id, created=False)
        return None

    def ensure(self, key: str, env: LockedEnv, build: Callable[[Path], None]) -> CachedEnv:
        """Return the environment for `key`, calling `build(tmp_dir)` once if it is missing."""
        found = self.lookup(key, env)
        if found:
            return found
        with self._locked(key):
            found = self.lookup(key, env)
            if found:  # another process built it while we waited
                return found
            final = self.path(key)
            self._discard(final)  # absent, or present but corrupt
            for stale in self.envs_dir.glob(f".build-{key}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            tmp = self.envs_dir / f".build-{key}-{os.getpid()}"
            try:
                build(tmp)
                if not (tmp / SEAL).exists():  # realize seals as it checks the build
                    seal(tmp)  # fingerprinted and read-only before anything can use it
                write_marker(tmp, env)
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return CachedEnv(key, final, env.env_id, created=True)

    def entries(self) -> Iterator[tuple[str, Path, dict]]:
        """(key, path, marker) for every finished environment."""
        if not self.envs_dir.is_dir():
            return
        for path in sorted(self.envs_dir.iterdir()):
            marker = read_marker(path)
            if marker is not None:
                yield path.name, path, marker

    def remove(self, key: str) -> None:
        with self._locked(key):
            self._discard(self.path(key))

    def _discard(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            # rename first so no reader ever sees a half-deleted environment
            trash = path.with_name(f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
            os.rename(path, trash)
            shutil.rmtree(trash, ignore_errors=True)

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        self.envs_dir.mkdir(parents=True, exist_ok=True)
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        with open(self.locks_dir / f"{key}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def write_marker(path: Path, env: LockedEnv) -> None:
    marker = {
        "env_id": env.env_id,
        "python": env.python,
        "platform": str(env.spec.platform),
        "packages": [f"{p.name}=={p.version}" for p in env.packages],
        "created": time.time(),
    }
    (path / MARKER).write_text(json.dumps(marker, indent=2))


def read_marker(path: Path) -> dict | None:
    try:
        return json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None


def is_intact(path: Path, env: LockedEnv) -> bool:
    """Cheap check that a cached environment is the one wanted and still usable."""
    marker = read_marker(path)
    if marker is None or marker.get("env_id") != env.env_id:
        return False
    python = path / "bin" / "python"
    if not python.exists():  # follows the symlink: a removed base interpreter fails here
        return False
    pypi = env.by_kind("pypi")
    if pypi:
        site = next(path.glob("lib/python*/site-packages"), None)
        if site is None:
            return False
        installed = {_dist_name(p.name) for p in site.glob("*.dist-info")}
        if any(_norm(p.name) not in installed for p in pypi):
            return False
    # a file edited since the build (through any environment sharing its inode) means rebuild
    return changed_since_sealed(path) is None


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _dist_name(dist_info_dir: str) -> str:
    return _norm(dist_info_dir.removesuffix(".dist-info").rsplit("-", 1)[0])
