"""Test helper: lock requirements into a `LockedEnv` for linux-64 with Bakery's own resolver.

Results are cached per requirement set, so tests that share an environment resolve it once.
"""

from __future__ import annotations

import functools

from bakery.lock.model import LockedEnv
from bakery.resolve.pypi import resolve_pypi
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements

PLATFORM = TargetPlatform("linux-64", "2.36")


@functools.cache
def lock(requirements: tuple[str, ...], python: str = "3.11") -> LockedEnv:
    """Resolve `requirements` (e.g. `("requests==2.32.3",)`) for linux-64 / `python`."""
    specs = dict(r.split("==") if "==" in r else (r, "") for r in requirements)
    spec = EnvSpec(python=python, pypi=pypi_requirements(specs), platform=PLATFORM)
    return resolve_pypi(spec, python)
