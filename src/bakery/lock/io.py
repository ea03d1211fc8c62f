"""Reading and writing lockfiles: `<flow stem>.bakery.lock` beside the flow, JSON, sorted keys."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..errors import LockError, LockIntegrityError
from .integrity import LockDamage, check_lock, drop_damaged
from .model import Lockfile

LOCK_SUFFIX = ".bakery.lock"


def lock_path_for(flow_file: str | os.PathLike) -> Path:
    """`flows/train.py` -> `flows/train.bakery.lock`."""
    path = Path(flow_file)
    return path.with_name(path.stem + LOCK_SUFFIX)


def read_lock(path: str | os.PathLike, *, repair: bool = False) -> Lockfile | None:
    """The lockfile at `path`, or None when there is none yet.

    The lock is checked against itself (`bakery.lock.integrity`): one that disagrees raises
    `LockIntegrityError`, unless `repair`, which drops what disagrees so that those steps
    resolve again (`bakery lock`); `lock.repaired_steps` then names them.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LockError(f"cannot read the lockfile {path}: {e.strerror or e}") from None
    lock = _parse(path, raw)
    damage = check_lock(lock)
    if damage and repair:
        lock.repaired_steps = drop_damaged(lock, damage)
    elif damage:
        raise LockIntegrityError(_damage_message(path, damage))
    return lock


def _parse(path: Path, raw: bytes) -> Lockfile:
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise LockError(
            f"{path} is not a Bakery lockfile (not UTF-8 text: byte {e.start} is "
            f"0x{raw[e.start]:02x}); restore it from version control, or delete it and run "
            f"`bakery lock {_flow_name(path)}`"
        ) from None
    except ValueError as e:
        raise LockError(
            f"{path} is not a valid Bakery lockfile ({e}); restore it from version control, "
            f"or delete it and run `bakery lock {_flow_name(path)}`"
        ) from None
    version = data.get("version") if isinstance(data, dict) else None
    if isinstance(data, dict) and version != Lockfile.VERSION:
        newer = isinstance(version, int) and version > Lockfile.VERSION
        raise LockError(
            f"{path} has lockfile version {version}, this Bakery reads version "
            f"{Lockfile.VERSION}: "
            + (
                "upgrade Bakery (`pip install -U metaflow-bakery`) to read it"
                if newer
                else f"it was written by an older Bakery; delete it and run "
                f"`bakery lock {_flow_name(path)}` to write it anew"
            )
        )
    try:
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        return Lockfile.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise LockError(
            f"{path} is not a valid Bakery lockfile ({type(e).__name__}: {e}); restore it "
            f"from version control, or delete it and run `bakery lock {_flow_name(path)}`"
        ) from None


def _damage_message(path: Path, damage: LockDamage) -> str:
    what = "; ".join(damage.problems)
    if damage.older_bakery:
        return (
            f"{path} was written by an older Bakery, which computed env ids differently "
            f"({what}): run `bakery lock {_flow_name(path)}` to rewrite it, then commit it"
        )
    return (
        f"{path} was edited by hand or damaged: {what}. Nothing was installed. Run "
        f"`bakery lock {_flow_name(path)}` to re-resolve those steps (or restore the lockfile "
        "from version control), then review and commit it"
    )


def _flow_name(lock_path: Path) -> str:
    return lock_path.name.removesuffix(LOCK_SUFFIX) + ".py"


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
