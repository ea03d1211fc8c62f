"""Reading and writing lockfiles: `<flow stem>.bakery.lock` beside the flow, JSON, sorted keys."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..errors import LockError
from .model import Lockfile

LOCK_SUFFIX = ".bakery.lock"


def lock_path_for(flow_file: str | os.PathLike) -> Path:
    """`flows/train.py` -> `flows/train.bakery.lock`."""
    path = Path(flow_file)
    return path.with_name(path.stem + LOCK_SUFFIX)


def read_lock(path: str | os.PathLike) -> Lockfile | None:
    """The lockfile at `path`, or None when there is none yet."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        if data.get("version") != Lockfile.VERSION:
            raise LockError(
                f"{path} has lockfile version {data.get('version')}, this Bakery reads "
                f"version {Lockfile.VERSION}: delete it and run `bakery lock` again"
            )
        return Lockfile.from_dict(data)
    except (ValueError, KeyError, TypeError) as e:
        raise LockError(
            f"{path} is not a valid Bakery lockfile ({e}); delete it and run `bakery lock` again"
        ) from None


def dumps_lock(lock: Lockfile) -> str:
    return json.dumps(lock.to_dict(), indent=2, sort_keys=False) + "\n"


def write_lock(lock: Lockfile, path: str | os.PathLike) -> bool:
    """Write atomically; return True when the content changed (unchanged files keep their mtime)."""
    path = Path(path)
    text = dumps_lock(lock)
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
