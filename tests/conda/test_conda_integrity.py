"""Conda environments are checked against their conda-meta records (rattler's copy of each
package's paths.json) when built and by `bakery env verify`, like wheels against RECORD."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakery.envs.cache import EnvCache
from bakery.envs.integrity import verify_environment
from bakery.envs.realize import realize
from bakery.resolve.conda import resolve_conda


@pytest.fixture
def rattler_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "rattler-cache"
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(cache))
    monkeypatch.setenv("BAKERY_COMPILE_BYTECODE", "never")
    return cache


@pytest.fixture
def tinylib_env(make_spec, conda_channels):
    return resolve_conda(make_spec("tinylib", "tinytool"), channels=[conda_channels.main])


def _module(root: Path) -> Path:
    return next(root.glob("lib/python*/site-packages/tinylib/__init__.py"))


def test_a_conda_environment_verifies_file_by_file(tmp_path, tinylib_env, rattler_cache):
    cached = realize(tinylib_env, EnvCache(tmp_path / "cache"))
    report = verify_environment(cached.path)
    assert report.ok, report.findings
    assert report.packages["tinylib 1.0 (conda)"] == "ok"
    assert report.packages["tinytool 1.0 (conda)"] == "ok"  # its prefix was written into it
    assert _module(cached.path).stat().st_mode & 0o222 == 0


def test_a_poisoned_rattler_cache_entry_is_extracted_again(tmp_path, tinylib_env, rattler_cache):
    first = realize(tinylib_env, EnvCache(tmp_path / "cache"))
    module = _module(first.path)
    assert module.stat().st_nlink > 1, "linked from rattler's package cache"
    assert list(rattler_cache.rglob("tinylib/__init__.py")), "this test's own package cache"
    os.chmod(module, 0o644)
    module.write_text("POISONED = True\n")  # rattler's cached copy too

    report = verify_environment(first.path)
    assert report.packages["tinylib 1.0 (conda)"] == "modified"

    other = realize(tinylib_env, EnvCache(tmp_path / "other-cache"))
    assert "POISONED" not in _module(other.path).read_text()
    assert verify_environment(other.path).ok
