"""Which cached environments `bakery env verify` (and `bakery doctor`) check, and the checking.

With a flow, the environments its lockfile names (read, and so checked, first) that are built
on this machine; without, every finished environment in the cache. Each is checked file by
file (`integrity.verify_environment`), modified ones too: the cache would rebuild those before
using them, but a user asking wants to know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BakeryError, LockError
from ..lock.io import lock_path_for, read_lock
from ..spec import TargetPlatform
from .cache import EnvCache, read_marker
from .gc import known_locks, live_env_ids
from .integrity import EnvironmentReport, verify_environment
from .realize import key_for


@dataclass
class Verified:
    """One environment's report, with what it is for."""

    env_id: str
    steps: list[str]
    report: EnvironmentReport


@dataclass
class VerifyRun:
    """Every environment checked, and those that could not be (with why)."""

    checked: list[Verified] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "env 1a2b3c4d5e6f (steps a): not built here"

    @property
    def ok(self) -> bool:
        return all(v.report.ok for v in self.checked)


def verify_flow(flow_file: Path, cache: EnvCache) -> VerifyRun:
    """The environments of `flow_file`'s lockfile that are built here, each checked."""
    lock_path = lock_path_for(flow_file)
    lock = read_lock(lock_path)
    if lock is None:
        raise LockError(f"no lockfile at {lock_path}: run `bakery lock {flow_file}` first")
    run = VerifyRun()
    host = str(TargetPlatform.host())
    steps_of: dict[str, list[str]] = {}
    for step, per_platform in lock.steps.items():
        for env_id in per_platform.values():
            steps_of.setdefault(env_id, []).append(step)
    for env_id, env in sorted(lock.environments.items()):
        steps = sorted(steps_of.get(env_id, []))
        label = f"env {env_id[:12]} (steps {', '.join(steps)})"
        if str(env.spec.platform) != host:
            run.skipped.append(f"{label}: for {env.spec.platform}, not built on this machine")
            continue
        try:
            path = cache.path(key_for(env))
        except BakeryError as e:
            run.skipped.append(f"{label}: {e}")
            continue
        marker = read_marker(path)
        if marker is None or marker.get("env_id") != env_id:
            run.skipped.append(f"{label}: not built on this machine yet")
            continue
        run.checked.append(Verified(env_id, steps, verify_environment(path)))
    return run


def verify_cache(cache: EnvCache, env_ids: set[str] | None = None) -> VerifyRun:
    """Every finished environment in `cache` (or those of `env_ids`), each checked."""
    run = VerifyRun()
    for _, path, marker in cache.entries():
        env_id = str(marker.get("env_id", ""))
        if env_ids is None or env_id in env_ids:
            run.checked.append(Verified(env_id, [], verify_environment(path)))
    return run


def known_env_ids(cache: EnvCache) -> tuple[set[str], int]:
    """The env ids the lockfiles this cache knows name, and how many lockfiles those are."""
    locks = [path for path in known_locks(cache) if path.exists()]
    return live_env_ids(locks), len(locks)
