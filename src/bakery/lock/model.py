"""The lockfile model: what each environment resolved to, pinned and hashed.

A `Lockfile` maps each step (per target platform) to a `LockedEnv`; a `LockedEnv` lists the
exact artifacts (`LockedPackage`) to install. `LockedEnv.env_id` hashes only what decides the
installed bytes (python, platform, artifacts), so two specs that resolve alike share one
environment, one snapshot and one image.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ..spec import EnvSpec

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
        content = {
            "python": self.python,
            "platform": self.spec.to_dict()["platform"],
            "glibc": self.spec.platform.glibc,
            "packages": sorted((p.kind, p.name, p.version, p.sha256) for p in self.packages),
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

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


def _package_order(package: LockedPackage) -> tuple[int, str]:
    # conda first: it provides the interpreter that PyPI packages are installed on top of
    return (0 if package.kind == "conda" else 1, package.name)


@dataclass
class Lockfile:
    """All environments of one flow: `steps[step][platform] -> env_id`, `environments[env_id]`."""

    flow: str
    environments: dict[str, LockedEnv] = field(default_factory=dict)
    steps: dict[str, dict[str, str]] = field(default_factory=dict)

    VERSION = 1

    def env_for(self, step: str, spec: EnvSpec) -> LockedEnv | None:
        """The locked environment for `step` if it still answers `spec`, else None."""
        env_id = self.steps.get(step, {}).get(str(spec.platform))
        env = self.environments.get(env_id) if env_id else None
        if env is None or env.spec.spec_hash != spec.spec_hash:
            return None
        return env

    def find_by_spec(self, spec: EnvSpec) -> LockedEnv | None:
        """Any locked environment resolved from an equal spec (another step may share it)."""
        for env in self.environments.values():
            if env.spec.spec_hash == spec.spec_hash:
                return env
        return None

    def set_step(self, step: str, env: LockedEnv) -> None:
        self.environments[env.env_id] = env
        self.steps.setdefault(step, {})[str(env.spec.platform)] = env.env_id

    def prune(self, keep_steps: set[str] | None = None) -> None:
        """Drop steps not in `keep_steps` and environments no step refers to."""
        if keep_steps is not None:
            self.steps = {s: p for s, p in self.steps.items() if s in keep_steps}
        used = {env_id for per_platform in self.steps.values() for env_id in per_platform.values()}
        self.environments = {k: v for k, v in self.environments.items() if k in used}

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.VERSION,
            "flow": self.flow,
            "steps": {s: dict(sorted(p.items())) for s, p in sorted(self.steps.items())},
            "environments": {k: v.to_dict() for k, v in sorted(self.environments.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lockfile:
        return cls(
            flow=data["flow"],
            environments={
                k: LockedEnv.from_dict(v) for k, v in data.get("environments", {}).items()
            },
            steps={s: dict(p) for s, p in data.get("steps", {}).items()},
        )
