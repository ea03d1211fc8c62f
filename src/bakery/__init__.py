"""Bakery core: spec -> lock -> environment | image -> registry. Never imports Metaflow.

The public surface is importable from here (`from bakery import EnvSpec, resolve, realize`).
Names load on first use: task environments and remote bootstraps import `bakery` with only the
standard library available, so nothing heavy (httpx, rich, rattler) loads unless it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "BakeResult": "bakery.image.bake",
    "BakeryError": "bakery.errors",
    "CachedEnv": "bakery.envs.cache",
    "EnvCache": "bakery.envs.cache",
    "EnvSpec": "bakery.spec",
    "ImageReference": "bakery.registry.reference",
    "IndexConfig": "bakery.resolve.indexes",
    "LockedEnv": "bakery.lock.model",
    "LockedPackage": "bakery.lock.model",
    "Lockfile": "bakery.lock.model",
    "RegistryClient": "bakery.registry.client",
    "Settings": "bakery.settings",
    "Requirement": "bakery.spec",
    "TargetPlatform": "bakery.spec",
    "bake": "bakery.image.bake",
    "read_lock": "bakery.lock.io",
    "realize": "bakery.envs.realize",
    "resolve": "bakery.resolve",
    "update_lock": "bakery.lock.update",
    "write_lock": "bakery.lock.io",
}

__all__ = sorted(["__version__", *_EXPORTS])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bakery' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
