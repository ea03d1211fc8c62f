"""The wheel store: fetched once, checked, and shared by snapshots and image bakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery import fetch as fetch_module
from bakery.fetch import ArtifactStore
from bakery.image.stage import stage_env
from bakery.snapshot import snapshot_env

from .locks import lock

pytestmark = pytest.mark.slow


class MemoryStore:
    """A snapshot store that keeps what it is given (a datastore stand-in)."""

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    def existing(self, keys: list[str]) -> set[str]:
        return set(keys) & self.items.keys()

    def put(self, items: list[tuple[str, Path]]) -> None:
        self.items.update((key, path.read_bytes()) for key, path in items)

    def get(self, keys, dest):  # pragma: no cover - not used here
        raise NotImplementedError


def offline(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("fetched from the network although the wheels were stored")

    monkeypatch.setattr(fetch_module, "fetch_pypi", refuse)


def test_a_snapshot_leaves_the_wheels_for_a_bake(cache_dir, monkeypatch):
    env = lock(("requests==2.32.3",))
    store = MemoryStore()
    wheels = ArtifactStore(cache_dir / "wheels")
    assert snapshot_env(env, store, wheels=wheels) == len(env.packages)
    assert all(wheels.path(p).read_bytes() == store.items[k] for p, k in _keys(env))
    offline(monkeypatch)
    staged = stage_env(env, cache_dir)
    assert {s.wheel for s in staged.packages} == {wheels.path(p) for p in env.packages}


def test_a_wheel_is_fetched_once(cache_dir, monkeypatch):
    env = lock(("idna==3.10",))
    first = ArtifactStore(cache_dir / "wheels").fetch_all(env.packages)
    offline(monkeypatch)
    assert ArtifactStore(cache_dir / "wheels").fetch_all(env.packages) == first
    assert not list((cache_dir / "wheels").glob(".fetch-*")), "no leftover temporary folder"


def _keys(env):
    from bakery.snapshot import package_key

    return [(p, package_key(p)) for p in env.packages]
