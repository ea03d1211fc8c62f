"""Rebuild a step's environment on a remote machine from the run's package snapshot alone.

    python -m metaflow_extensions.bakery.plugins.bootstrap LOCKFILE ENV_ID DATASTORE_TYPE LINK

Runs in the task's folder, where Metaflow extracted the code package (which carries the
lockfile and the `bakery` core). It fetches uv and every locked artifact from the datastore,
builds the environment offline, and points LINK (e.g. `bakery-env`) at it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def bootstrap(lockfile: str, env_id: str, datastore_type: str, link: str) -> Path:
    from bakery.envs.cache import EnvCache
    from bakery.envs.realize import realize
    from bakery.errors import SnapshotError
    from bakery.lock.io import read_lock
    from bakery.snapshot import restore_env, unpack_uv

    from .snapshot_store import DatastorePackageStore

    lock = read_lock(lockfile)
    if lock is None or env_id not in lock.environments:
        raise SnapshotError(f"environment {env_id} is not in {lockfile} of the code package")
    env = lock.environments[env_id]
    work = Path(os.environ.get("BAKERY_BOOTSTRAP_DIR", ".bakery"))
    store = DatastorePackageStore(datastore_type)

    manifest = json.loads(store.get_text(f"envs/{env_id}.json") or "{}")
    if "uv" not in manifest:
        raise SnapshotError(
            f"no package snapshot for environment {env_id[:12]} in {store.root}: "
            "run the flow from a workstation with a non-local datastore so Bakery stores it"
        )
    fetched = store.get([manifest["uv"]], work)
    os.environ["BAKERY_UV"] = str(unpack_uv(fetched[manifest["uv"]], work / "tools"))

    packages = restore_env(env, store, work / "packages")
    cache = EnvCache(Path(os.environ.get("BAKERY_CACHE_DIR", work / "envs")))
    cached = realize(env, cache, package_dir=packages, python=env.python)
    link_path = Path(link)
    if link_path.is_symlink() or link_path.exists():
        link_path.unlink()
    link_path.symlink_to(cached.path.resolve(), target_is_directory=True)
    return cached.path


def main(argv: list[str]) -> int:
    from bakery.errors import BakeryError

    start = time.monotonic()
    try:
        path = bootstrap(*argv)
    except BakeryError as e:
        print(f"Bakery bootstrap failed: {e}", file=sys.stderr)
        return 1
    print("Bakery environment ready at %s in %.1fs" % (path, time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
