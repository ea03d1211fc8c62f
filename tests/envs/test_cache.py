"""The environment cache under concurrency, interruption and corruption, with real uv builds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bakery.envs.cache import EnvCache
from bakery.envs.realize import key_for, realize
from bakery.lock.model import LockedEnv
from bakery.resolve import resolve
from bakery.spec import EnvSpec, host_python_version, pypi_requirements

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def tabulate_env() -> LockedEnv:
    spec = EnvSpec(python=host_python_version(), pypi=pypi_requirements({"tabulate": "0.9.0"}))
    return resolve(spec)


REALIZE_SCRIPT = """
import json, sys
from pathlib import Path
from bakery.envs.cache import EnvCache
from bakery.envs.realize import realize
from bakery.lock.model import LockedEnv
env = LockedEnv.from_dict(json.loads(Path(sys.argv[1]).read_text()))
cached = realize(env, EnvCache(Path(sys.argv[2])))
print(json.dumps({"created": cached.created, "path": str(cached.path)}))
"""


def test_eight_processes_needing_one_new_environment_build_it_once(tmp_path, tabulate_env):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(tabulate_env.to_dict()))
    cache_root = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", REALIZE_SCRIPT, str(env_file), str(cache_root)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8
    assert sum(r["created"] for r in results) == 1
    assert len({r["path"] for r in results}) == 1
    python = Path(results[0]["path"]) / "bin" / "python"
    check = subprocess.run(
        [python, "-c", "import tabulate; print(tabulate.__version__)"],
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "0.9.0"


KILLED_BUILD = """
import sys, time
from pathlib import Path
from bakery.envs.cache import EnvCache
from bakery.lock.model import LockedEnv
import json
env = LockedEnv.from_dict(json.loads(Path(sys.argv[1]).read_text()))
def slow_build(tmp):
    (tmp / "bin").mkdir(parents=True)
    (tmp / "bin" / "python").write_text("half-made")
    print("building", flush=True)
    time.sleep(60)
EnvCache(Path(sys.argv[2])).ensure(sys.argv[3], env, slow_build)
"""


def test_a_build_killed_half_way_is_never_used(tmp_path, tabulate_env):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(tabulate_env.to_dict()))
    cache = EnvCache(tmp_path / "cache")
    key = key_for(tabulate_env)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(env_file), str(cache.root), key],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "building"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert cache.lookup(key, tabulate_env) is None
    assert list(cache.envs_dir.glob(".build-*")), "the killed build should have left its folder"

    cached = realize(tabulate_env, cache)
    assert cached.created
    assert not list(cache.envs_dir.glob(".build-*")), "stale build folders are cleaned up"
    out = subprocess.run([cached.python, "-c", "import tabulate"], capture_output=True)
    assert out.returncode == 0


def test_a_corrupt_cache_entry_is_rebuilt(tmp_path, tabulate_env):
    cache = EnvCache(tmp_path / "cache")
    first = realize(tabulate_env, cache)
    site = next(first.path.glob("lib/python*/site-packages"))
    for dist_info in site.glob("tabulate-*.dist-info"):
        for f in dist_info.iterdir():
            f.unlink()
        dist_info.rmdir()
    assert cache.lookup(first.key, tabulate_env) is None
    second = realize(tabulate_env, cache)
    assert second.created and second.path == first.path
    assert cache.lookup(first.key, tabulate_env) is not None


def test_a_failed_build_leaves_nothing_behind(tmp_path, tabulate_env):
    cache = EnvCache(tmp_path / "cache")

    def failing_build(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        (tmp / "partial").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.ensure("somekey", tabulate_env, failing_build)
    assert not cache.path("somekey").exists()
    assert not list(cache.envs_dir.glob(".build-*"))


def test_a_cached_environment_is_reused_not_rebuilt(tmp_path, tabulate_env):
    cache = EnvCache(tmp_path / "cache")
    first = realize(tabulate_env, cache)
    marker = (first.path / ".bakery-env.json").stat().st_mtime_ns
    again = realize(tabulate_env, cache)
    assert not again.created and again.path == first.path
    assert (first.path / ".bakery-env.json").stat().st_mtime_ns == marker
