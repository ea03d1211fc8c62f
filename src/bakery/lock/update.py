"""Bringing a lockfile up to date with a flow's step specs (or refusing to, when frozen)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BakeryError, FrozenLockError, name_steps
from ..spec import EnvSpec
from .io import LOCK_SUFFIX, read_lock, write_lock
from .model import LockedEnv, Lockfile

Resolver = Callable[[EnvSpec], LockedEnv]


@dataclass
class LockUpdate:
    """The lock after an update, and what the update did."""

    lock: Lockfile
    resolved_steps: list[str] = field(default_factory=list)  # steps that needed a new resolve
    written: bool = False
    repaired_steps: list[str] = field(default_factory=list)  # their lock entries were damaged

    def env(self, step: str, spec: EnvSpec) -> LockedEnv:
        found = self.lock.env_for(step, spec)
        assert found is not None, f"step {step} missing from the lock"
        return found


def update_lock(
    lock_path: Path,
    flow_name: str,
    step_specs: Mapping[str, EnvSpec],
    resolver: Resolver,
    *,
    frozen: bool = False,
    force: bool = False,
    repair: bool = False,
    on_resolve: Callable[[int], Callable[[], None]] | None = None,
) -> LockUpdate:
    """Resolve only the steps whose spec changed; write the lock if anything changed.

    `frozen` refuses to change the lock and names the steps that would change. `force`
    re-resolves every step (e.g. `bakery lock --upgrade`). `repair` re-resolves the steps whose
    entries fail the lock's self-check instead of refusing it (`bakery lock`; a run refuses).
    `on_resolve(n)` is told when `n` specs start resolving and returns the function called
    when they are done.
    """
    existing = read_lock(lock_path, repair=repair and not frozen)
    if existing is None and frozen and step_specs:
        flow_file = lock_path.name.removesuffix(LOCK_SUFFIX) + ".py"
        raise FrozenLockError(
            f"no lockfile at {lock_path}: run `bakery lock {flow_file}` "
            "(or a run without METAFLOW_BAKERY_FROZEN) to make one"
        )
    lock = existing or Lockfile(flow=flow_name)
    lock.flow = flow_name
    stale = {
        step: spec for step, spec in step_specs.items() if force or lock.env_for(step, spec) is None
    }
    if stale and frozen:
        raise FrozenLockError(_frozen_message(lock_path, lock, stale))

    # steps with equal specs share one resolution; specs another step already locked are reused
    to_resolve: dict[str, EnvSpec] = {}
    for spec in stale.values():
        if force or lock.find_by_spec(spec) is None:
            to_resolve.setdefault(spec.spec_hash, spec)
    finish = on_resolve(len(to_resolve)) if (on_resolve and to_resolve) else None
    try:
        resolved = _resolve_all(to_resolve, stale, resolver)
    finally:
        if finish:
            finish()
    for step, spec in stale.items():
        env = resolved.get(spec.spec_hash) or lock.find_by_spec(spec)
        lock.set_step(step, env)

    platforms = {str(spec.platform) for spec in step_specs.values()}
    for step in list(lock.steps):
        if step not in step_specs:  # the step is gone, or no longer has an environment
            for platform in platforms:
                lock.remove_step(step, platform)
    lock.prune()
    written = write_lock(lock, lock_path)
    return LockUpdate(lock, sorted(stale), written, repaired_steps=list(lock.repaired_steps))


def _resolve_all(
    to_resolve: dict[str, EnvSpec], stale: Mapping[str, EnvSpec], resolver: Resolver
) -> dict[str, LockedEnv]:
    steps_of = {h: [s for s, spec in stale.items() if spec.spec_hash == h] for h in to_resolve}

    def resolve(item: tuple[str, EnvSpec]) -> tuple[str, LockedEnv | BakeryError]:
        spec_hash, spec = item
        try:
            return spec_hash, resolver(spec)
        except BakeryError as e:
            return spec_hash, e

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(resolve, to_resolve.items()))
    failed = {h: e for h, e in results.items() if isinstance(e, BakeryError)}
    if failed:
        raise _one_error(failed, steps_of)
    return results  # type: ignore[return-value]  # no errors left


def _one_error(failed: dict[str, BakeryError], steps_of: dict[str, list[str]]) -> BakeryError:
    """Every step's failure in one error, in the flow's order; steps that failed alike are
    named together."""
    order = {step: i for i, step in enumerate(s for steps in steps_of.values() for s in steps)}
    steps_by_message: dict[str, list[str]] = {}
    errors_by_message: dict[str, BakeryError] = {}
    for spec_hash, error in failed.items():
        message = str(error)
        steps_by_message.setdefault(message, []).extend(steps_of[spec_hash])
        errors_by_message.setdefault(message, error)
    for steps in steps_by_message.values():
        steps.sort(key=order.__getitem__)
    ordered = sorted(steps_by_message.items(), key=lambda item: order[item[1][0]])
    first = errors_by_message[ordered[0][0]]
    if len(ordered) == 1:
        return first.with_step(ordered[0][1])
    lines = [f"{name_steps(steps)}: {message}" for message, steps in ordered]
    return type(first)("\n".join(lines), step=", ".join(s for _, st in ordered for s in st))


def _frozen_message(lock_path: Path, lock: Lockfile, stale: Mapping[str, EnvSpec]) -> str:
    parts = []
    for step, spec in sorted(stale.items()):
        old = lock.specs.get(step, {}).get(str(spec.platform))
        parts.append(f"step '{step}' {_describe_change(old, spec)}")
    return (
        f"the lockfile {lock_path.name} is frozen but does not match the flow: "
        + "; ".join(parts)
        + ". Run `bakery lock` (or run without the frozen setting) to update it, then commit it"
    )


def _describe_change(old: EnvSpec | None, new: EnvSpec) -> str:
    if old is None:
        return "is not in the lockfile"
    changes = []
    if old.python != new.python:
        changes.append(f"python {old.python} -> {new.python}")
    for kind in ("pypi", "conda"):
        before = {r.name: r.specifier for r in getattr(old, kind)}
        after = {r.name: r.specifier for r in getattr(new, kind)}
        for name in sorted(before.keys() | after.keys()):
            if before.get(name) != after.get(name):
                changes.append(
                    f"{name} {before.get(name, 'absent') or 'any'} -> {after.get(name, 'absent') or 'any'}"
                )
    if old.channels != new.channels:
        changes.append("channels changed")
    edited = sorted({f.path for f in set(old.files) ^ set(new.files)})
    if edited:
        changes.append(f"{', '.join(edited)} changed")
    if old.pinned != new.pinned and not edited:
        changes.append("lockfile= or groups= changed")
    if old.named != new.named:
        before = f"{old.named} ({old.named.env_id[:12]})" if old.named else "none"
        after = f"{new.named} ({new.named.env_id[:12]})" if new.named else "none"
        changes.append(f"named environment {before} -> {after}")
    return "changed: " + (", ".join(changes) or "settings changed")
