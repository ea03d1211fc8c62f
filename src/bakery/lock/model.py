"""The lockfile model: what each environment resolved to, pinned and hashed.

A `Lockfile` maps each step (per target platform) to a `LockedEnv` and the spec it was resolved
from; a `LockedEnv` lists the exact artifacts (`LockedPackage`) to install. `LockedEnv.env_id` hashes only what decides the
installed bytes (python, platform, artifacts), so two specs that resolve alike share one
environment, one snapshot and one image.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ..spec import EnvSpec, TargetPlatform

PackageKind = Literal["pypi", "conda"]


@dataclass(frozen=True)
class LockedPackage:
    """One artifact to install: a wheel (or sdist) from PyPI, or a conda package."""

    kind: PackageKind
    name: str
    version: str
    url: str
    sha256: str
    filename: str
    size: int | None = None
    # conda only: the channel it came from and the full repodata record rattler needs to link it
    channel: str | None = None
    record: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "url": self.url,
            "sha256": self.sha256,
            "filename": self.filename,
        }
        if self.size is not None:
            data["size"] = self.size
        if self.channel is not None:
            data["channel"] = self.channel
        if self.record is not None:
            data["record"] = self.record
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockedPackage:
        return cls(**data)


@dataclass(frozen=True)
class LockedEnv:
    """A resolved environment: the spec it answers and the exact packages it installs."""

    spec: EnvSpec
    python: str  # the resolved Python version, major.minor (e.g. "3.11")
    packages: tuple[LockedPackage, ...]

    @functools.cached_property
    def env_id(self) -> str:
        """Content address of the environment: equal ids install equal bytes."""
        return content_id(self)

    @property
    def short_id(self) -> str:
        return self.env_id[:12]

    def by_kind(self, kind: PackageKind) -> tuple[LockedPackage, ...]:
        return tuple(p for p in self.packages if p.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "spec_hash": self.spec.spec_hash,
            "python": self.python,
            "packages": [p.to_dict() for p in sorted(self.packages, key=_package_order)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockedEnv:
        return cls(
            spec=EnvSpec.from_dict(data["spec"]),
            python=data["python"],
            packages=tuple(LockedPackage.from_dict(p) for p in data["packages"]),
        )


def content_id(env: LockedEnv, *, before_md5: bool = False) -> str:
    """The env id `env`'s content hashes to (a lock is checked against it when read).

    A conda package from a channel that publishes no sha256 is pinned by its md5, so that
    counts instead; `before_md5` gives the id Bakery computed before it did (for the message
    that tells an old lockfile from an edited one).
    """
    content = {
        "python": env.python,
        "platform": str(env.spec.platform),
        "glibc": env.spec.platform.glibc,
        "packages": sorted(
            (p.kind, p.name, p.version, p.sha256 if before_md5 else pinned_digest(p))
            for p in env.packages
        ),
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def pinned_digest(package: LockedPackage) -> str:
    """What pins the artifact's bytes: its sha256, else (old conda channels) its md5."""
    if package.sha256:
        return package.sha256
    return "md5:" + str((package.record or {}).get("md5", ""))


def _package_order(package: LockedPackage) -> tuple[int, str]:
    # conda first: it provides the interpreter that PyPI packages are installed on top of
    return (0 if package.kind == "conda" else 1, package.name)


@dataclass
class Lockfile:
    """All environments of one flow.

    `steps[step][platform]` names the step's env id, `specs[step][platform]` the spec it was
    resolved from (the lock is current for a step while that spec is unchanged), and
    `environments[env_id]` what it installs. Different specs may resolve to one environment.
    """

    flow: str
    environments: dict[str, LockedEnv] = field(default_factory=dict)
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    specs: dict[str, dict[str, EnvSpec]] = field(default_factory=dict)
    # steps whose entries failed the lock's self-check when it was read with `repair`
    repaired_steps: list[str] = field(default_factory=list, compare=False, repr=False)

    VERSION = 2

    def env_for(self, step: str, spec: EnvSpec) -> LockedEnv | None:
        """The locked environment for `step` if it still answers `spec`, else None."""
        platform = str(spec.platform)
        recorded = self.specs.get(step, {}).get(platform)
        env_id = self.steps.get(step, {}).get(platform)
        env = self.environments.get(env_id) if env_id else None
        if env is None or recorded is None or recorded.spec_hash != spec.spec_hash:
            return None
        return dataclasses.replace(env, spec=spec)

    def find_by_spec(self, spec: EnvSpec) -> LockedEnv | None:
        """The environment another step with an equal spec is locked to, if any."""
        for step, per_platform in self.specs.items():
            for platform, recorded in per_platform.items():
                if recorded.spec_hash == spec.spec_hash:
                    env = self.environments.get(self.steps.get(step, {}).get(platform, ""))
                    if env is not None:
                        return dataclasses.replace(env, spec=spec)
        return None

    def set_step(self, step: str, env: LockedEnv) -> None:
        platform = str(env.spec.platform)
        self.environments[env.env_id] = env
        self.steps.setdefault(step, {})[platform] = env.env_id
        self.specs.setdefault(step, {})[platform] = env.spec

    def remove_step(self, step: str, platform: str) -> None:
        for table in (self.steps, self.specs):
            table.get(step, {}).pop(platform, None)
            if step in table and not table[step]:
                del table[step]

    def prune(self) -> None:
        """Drop environments no step refers to."""
        used = {env_id for per_platform in self.steps.values() for env_id in per_platform.values()}
        self.environments = {k: v for k, v in self.environments.items() if k in used}

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.VERSION,
            "flow": self.flow,
            "steps": {s: dict(sorted(p.items())) for s, p in sorted(self.steps.items())},
            "specs": {
                s: {platform: spec.to_dict() for platform, spec in sorted(p.items())}
                for s, p in sorted(self.specs.items())
            },
            "environments": {k: _env_entry(v) for k, v in sorted(self.environments.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lockfile:
        return cls(
            flow=data["flow"],
            environments={k: _env_from_entry(v) for k, v in data.get("environments", {}).items()},
            steps={s: dict(p) for s, p in data.get("steps", {}).items()},
            specs={
                s: {platform: EnvSpec.from_dict(spec) for platform, spec in p.items()}
                for s, p in data.get("specs", {}).items()
            },
        )


def _env_entry(env: LockedEnv) -> dict[str, Any]:
    """An environment as the lockfile records it: what it installs, not who asked for it."""
    entry: dict[str, Any] = {"python": env.python, "platform": str(env.spec.platform)}
    if env.spec.platform.glibc:
        entry["glibc"] = env.spec.platform.glibc
    entry["packages"] = [p.to_dict() for p in sorted(env.packages, key=_package_order)]
    return entry


def _env_from_entry(entry: dict[str, Any]) -> LockedEnv:
    # the spec stands for "this python on this platform"; steps bring their own specs
    spec = EnvSpec(
        python=entry["python"],
        platform=TargetPlatform(entry["platform"], entry.get("glibc")),
    )
    packages = tuple(LockedPackage.from_dict(p) for p in entry["packages"])
    return LockedEnv(spec=spec, python=entry["python"], packages=packages)
