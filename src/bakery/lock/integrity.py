"""Checking a lockfile against itself when it is read: nothing in it is taken on trust.

Each environment's id is recomputed from its content (python, platform, every artifact's
name, version and sha256), each conda record must agree with the entry it belongs to (rattler
installs from the record), and each step must name an environment the lock holds, for its own
platform, holding every package its spec asks for. The spec hash is never stored: it is always
recomputed from the recorded spec. A lock that fails is refused whole (`LockIntegrityError`),
before anything is resolved, fetched or installed; `bakery lock` re-resolves what failed.

What this catches is damage and hand edits (a package added, removed, or given another version
or sha256 with the env id left as it was). It cannot tell a lock edited *and* re-hashed from one
Bakery wrote: that is what reviewing the lockfile's diff is for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import LockedEnv, Lockfile, content_id

# the record fields that must equal the lock entry's: they decide which bytes rattler links
_RECORD_FIELDS = (("name", "name"), ("version", "version"), ("fn", "filename"))


@dataclass
class LockDamage:
    """What a lockfile's self-check found: one sentence per problem, and what to drop."""

    problems: list[str] = field(default_factory=list)
    bad_envs: set[str] = field(default_factory=set)
    bad_steps: set[tuple[str, str]] = field(default_factory=set)  # (step, platform)
    older_bakery: bool = False  # every bad id is the one an older Bakery computed

    def __bool__(self) -> bool:
        return bool(self.problems)


def check_lock(lock: Lockfile) -> LockDamage:
    """Every way `lock` disagrees with itself (empty when it is intact)."""
    damage = LockDamage()
    older = []
    for key, env in sorted(lock.environments.items()):
        problem = _env_problem(key, env)
        if problem:
            damage.problems.append(problem)
            damage.bad_envs.add(key)
            older.append(content_id(env, before_md5=True) == key)
    damage.older_bakery = bool(older) and all(older)
    for step, per_platform in sorted(lock.steps.items()):
        for platform, env_id in sorted(per_platform.items()):
            problem = _step_problem(lock, step, platform, env_id)
            if problem:
                damage.problems.append(problem)
                damage.bad_steps.add((step, platform))
    return damage


def drop_damaged(lock: Lockfile, damage: LockDamage) -> list[str]:
    """Remove what `damage` found from `lock`, so those steps resolve again; returns the
    steps that lost their environment."""
    steps = set()
    for step, per_platform in list(lock.steps.items()):
        for platform, env_id in list(per_platform.items()):
            if env_id in damage.bad_envs or (step, platform) in damage.bad_steps:
                lock.remove_step(step, platform)
                steps.add(step)
    for key in damage.bad_envs:
        lock.environments.pop(key, None)
    return sorted(steps)


def _env_problem(key: str, env: LockedEnv) -> str | None:
    actual = env.env_id
    if actual != key:
        return (
            f"the content of environment {key[:12]} ({_summary(env)}) hashes to "
            f"{actual[:12]}, not to its id"
        )
    for package in env.by_kind("conda"):
        record = package.record or {}
        for record_field, entry_field in _RECORD_FIELDS:
            said, entry = str(record.get(record_field, "")), getattr(package, entry_field)
            if record_field == "name":  # the entry holds the normalized name
                said, entry = said.lower(), entry.lower()
            if record_field in record and said != entry:
                return (
                    f"environment {key[:12]}: the conda record of '{package.name}' says "
                    f"{record_field} {record[record_field]!r}, its entry {entry!r}"
                )
        if package.sha256 and record.get("sha256", package.sha256) != package.sha256:
            return (
                f"environment {key[:12]}: the conda record of '{package.name}' has another "
                "sha256 than its entry"
            )
    return None


def _step_problem(lock: Lockfile, step: str, platform: str, env_id: str) -> str | None:
    env = lock.environments.get(env_id)
    if env is None:
        return f"step '{step}' ({platform}) names environment {env_id[:12]}, which is not in it"
    if str(env.spec.platform) != platform:
        return (
            f"step '{step}' ({platform}) names environment {env_id[:12]}, "
            f"which is for {env.spec.platform}"
        )
    spec = lock.specs.get(step, {}).get(platform)
    if spec is None:
        return None  # no spec: the step is simply not current and resolves again
    present = {(p.kind, _canonical(p.name)): p for p in env.packages}
    for kind in ("pypi", "conda"):
        for requirement in getattr(spec, kind):
            name = _canonical(requirement.name.split("[", 1)[0])
            package = present.get((kind, name))
            if package is None:
                return (
                    f"step '{step}' asks for {kind} package '{name}', which its environment "
                    f"{env_id[:12]} does not hold"
                )
            if kind == "pypi" and not _satisfies(package.version, requirement.specifier):
                return (
                    f"step '{step}' asks for {name}{requirement.specifier}, its environment "
                    f"{env_id[:12]} holds {package.version}"
                )
    return None


def _summary(env: LockedEnv) -> str:
    names = [f"{p.name} {p.version}" for p in sorted(env.packages, key=lambda p: p.name)]
    shown = ", ".join(names[:6])
    return shown + (f" and {len(names) - 6} more" if len(names) > 6 else "") if names else "empty"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _satisfies(version: str, specifier: str) -> bool:
    if not specifier:
        return True
    try:  # `packaging` is not there in a remote task's bootstrap: the id check still is
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion
    except ImportError:
        return True
    try:
        return SpecifierSet(specifier).contains(version, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True  # not ours to judge here: the resolver reported it when it locked
