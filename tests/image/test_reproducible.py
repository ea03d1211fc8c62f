"""Reproducible by proof: one lock on one base, baked on two machines' worth of differences,
gives the same image manifest digest (and the same SBOM and provenance).

The two bakes run as `bakery bake --lock` subprocesses, each with its own cache (so every wheel
is fetched, every module compiled and every layer written anew), a different umask, hash seed,
time zone and locale; the second cache's wheels are fetched one by one in reverse order
beforehand and their mtimes scattered.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from bakery.fetch import ArtifactStore
from bakery.lock import Lockfile, write_lock

from .locks import lock
from .test_conda_image import image_channel, lock_conda  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.container]

# charset-normalizer brings a console script, certifi data files, markupsafe a C extension
PYPI = ("requests==2.32.3", "markupsafe==3.0.2")


def bake_in_subprocess(lockfile, registry, base, cache, *, umask, env) -> dict:
    command = [sys.executable, "-m", "bakery.cli.main", "bake", "--lock", str(lockfile)]
    command += ["--registry", registry, "--base", base, "--cache-dir", str(cache), "--json"]
    done = subprocess.run(
        command, capture_output=True, text=True, umask=umask, env={**os.environ, **env}
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_two_caches_umasks_and_download_orders_give_the_same_manifest_digest(
    tmp_path,
    base_images,
    image_channel,  # noqa: F811
):
    lockfile = Lockfile(flow="flow.py")
    pypi_env = lock(PYPI)
    lockfile.set_step("start", pypi_env)
    lockfile.set_step("end", lock_conda(image_channel, {"six": "1.17.0"}))
    path = tmp_path / "flow.bakery.lock"
    write_lock(lockfile, path)

    second = tmp_path / "cache-b"
    store = ArtifactStore(second / "wheels")
    for package in reversed(sorted(pypi_env.packages, key=lambda p: p.name)):
        store.fetch_all([package])  # one at a time, in the other order
        os.utime(store.path(package), (random.randint(1, 2**31), random.randint(1, 2**31)))

    registry, base = f"{base_images.host}/t/reproducible", base_images.oci
    a = bake_in_subprocess(
        path,
        registry,
        base,
        tmp_path / "cache-a",
        umask=0o022,
        env={"PYTHONHASHSEED": "1", "TZ": "UTC", "LC_ALL": "C.UTF-8"},
    )
    b = bake_in_subprocess(
        path,
        registry,
        base,
        second,
        umask=0o077,
        env={"PYTHONHASHSEED": "2", "TZ": "Asia/Kolkata", "LC_ALL": "C"},
    )
    assert set(a) == set(b) == set(lockfile.environments) and len(a) == 2
    for env_id in a:
        assert not a[env_id]["up_to_date"] and not b[env_id]["up_to_date"]
        assert a[env_id]["layers_built"] == b[env_id]["layers_built"] > 0
        assert a[env_id]["digest"] == b[env_id]["digest"], f"environment {env_id} differs"
        assert a[env_id]["referrers"] == b[env_id]["referrers"]
