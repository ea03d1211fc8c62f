"""What `bakery env show` reports: per step, its spec, locked packages and cache state."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import BakeryError
from ..lock.io import read_lock
from ..spec import EnvSpec
from .cache import EnvCache
from .gc import directory_size
from .realize import key_for


def describe_steps(
    lock_path: Path, specs: Mapping[str, EnvSpec], cache_root: Path | None = None
) -> dict:
    """A JSON-ready report, steps in the order of `specs` (the flow's graph order); steps whose
    spec is not (or no longer) locked say so."""
    cache = EnvCache(cache_root)
    lock = read_lock(lock_path)
    steps = {}
    for step, spec in specs.items():
        entry: dict = {"spec": spec.to_dict(), "spec_hash": spec.spec_hash}
        env = lock.env_for(step, spec) if lock else None
        if env is None:
            entry["locked"] = False
            steps[step] = entry
            continue
        entry.update(
            locked=True,
            env_id=env.env_id,
            python=env.python,
            packages=[
                {"kind": p.kind, "name": p.name, "version": p.version, "sha256": p.sha256}
                for p in env.packages
            ],
        )
        try:
            key = key_for(env)
        except BakeryError as e:
            entry.update(cached=False, cache_error=str(e))
            steps[step] = entry
            continue
        cached = cache.lookup(key, env)
        entry.update(cache_path=str(cache.path(key)), cached=cached is not None)
        if cached is not None:
            entry["size"] = directory_size(cached.path)
        steps[step] = entry
    return {"lockfile": str(lock_path), "lock_exists": lock is not None, "steps": steps}
