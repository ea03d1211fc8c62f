"""Bytecode shared between environments made from the same files: a new environment that
differs from an earlier one by a pin links in what the earlier one compiled, Python accepts it,
the seals cover it, a changed entry is not used, and gc removes entries nothing links."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bakery.envs.cache import EnvCache
from bakery.envs.gc import collect_garbage
from bakery.envs.integrity import verify_environment
from bakery.envs.realize import realize
from bakery.envs.shared_bytecode import STORE
from bakery.resolve import resolve
from bakery.spec import EnvSpec, host_python_version, pypi_requirements

pytestmark = pytest.mark.network


@pytest.fixture(autouse=True)
def own_caches(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("BAKERY_COMPILE_BYTECODE", "sync")


def _env(tabulate: str):
    spec = EnvSpec(
        python=host_python_version(),
        pypi=pypi_requirements({"six": "1.16.0", "tabulate": tabulate}),
    )
    return resolve(spec)


def _pyc(env_dir: Path, module: str) -> Path:
    site = next(env_dir.glob("lib/python*/site-packages"))
    (pyc,) = (site / "__pycache__").glob(f"{module}.*.pyc")
    return pyc


def test_a_new_environment_links_what_an_earlier_one_compiled_for_the_same_files(tmp_path):
    cache = EnvCache(tmp_path / "cache")
    first = realize(_env("0.9.0"), cache)
    second = realize(_env("0.8.10"), cache)

    assert _pyc(second.path, "six").stat().st_ino == _pyc(first.path, "six").stat().st_ino
    assert _pyc(second.path, "tabulate").stat().st_nlink == 2, "its own, and the store's link"
    loaded = subprocess.run(
        [str(second.path / "bin" / "python"), "-v", "-c", "import six"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=True,
    ).stderr
    assert f"{_pyc(second.path, 'six')} matches" in loaded, "Python runs the linked bytecode"
    assert verify_environment(second.path).ok

    collect_garbage(cache, dry_run=False)  # no lockfile keeps either: both go, then the store
    assert not list((cache.root / STORE).iterdir())


def test_a_shared_entry_changed_since_it_was_linked_in_is_not_used(tmp_path):
    cache = EnvCache(tmp_path / "cache")
    first = realize(_env("0.9.0"), cache)
    pyc = _pyc(first.path, "six")
    os.chmod(pyc, 0o644)  # what root editing it through any link does (the store's too)
    with pyc.open("ab") as handle:
        handle.write(b"\0")

    second = realize(_env("0.8.10"), cache)

    assert _pyc(second.path, "six").stat().st_ino != pyc.stat().st_ino, "compiled afresh"
    assert verify_environment(second.path).ok


def test_a_cache_where_the_store_cannot_be_written_only_loses_the_sharing(tmp_path):
    cache = EnvCache(tmp_path / "cache")
    cache.root.mkdir(parents=True)
    (cache.root / STORE).write_text("not a folder")  # mkdir and listing both fail

    first = realize(_env("0.9.0"), cache)
    second = realize(_env("0.8.10"), cache)

    assert _pyc(first.path, "six").exists() and _pyc(second.path, "six").exists()
    assert verify_environment(second.path).ok
