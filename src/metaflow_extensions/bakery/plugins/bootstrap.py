"""Rebuild a step's environment on a remote machine from the run's package snapshot alone.

    python -m metaflow_extensions.bakery.plugins.bootstrap LOCKFILE ENV_ID DATASTORE_TYPE LINK

Runs in the task's folder, where Metaflow extracted the code package (which carries the
lockfile and the `bakery` core). It fetches the tools the environment needs (uv, and for conda
packages py-rattler, as wheels) and every locked artifact from the datastore, builds the
environment offline, and points LINK (e.g. `bakery-env`) at it. The machine needs only a
Python (3.10+ for conda environments): no uv, no rattler, no package index.
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
    from bakery.settings import current, use
    from bakery.snapshot import restore_env

    from .snapshot_store import DatastorePackageStore

    lock = read_lock(lockfile)
    if lock is None or env_id not in lock.environments:
        raise SnapshotError(f"environment {env_id} is not in {lockfile} of the code package")
    env = lock.environments[env_id]
    work = Path(os.environ.get("BAKERY_BOOTSTRAP_DIR", ".bakery")).resolve()
    store = DatastorePackageStore(datastore_type)

    manifest = json.loads(store.get_text(f"envs/{env_id}.json") or "{}")
    if "env" not in manifest:
        raise SnapshotError(
            f"no package snapshot for environment {env_id[:12]} in {store.root}: "
            "run the flow from a workstation with a non-local datastore so Bakery stores it"
        )
    install_tools(env, manifest, store, work / "tools")

    packages = restore_env(env, store, work / "packages")
    settings = current()
    use(
        settings.with_changes(
            # a remote environment serves one task: background compilation would only compete
            compile_bytecode=settings.compile_bytecode
            if settings.source("compile_bytecode") != "default"
            else "never",
            cache_dir=settings.cache_dir or work / "envs",
        )
    )
    cache = EnvCache()
    cached = realize(env, cache, package_dir=packages, python=env.python)
    link_path = Path(link)
    if link_path.is_symlink() or link_path.exists():
        link_path.unlink()
    link_path.symlink_to(cached.path.resolve(), target_is_directory=True)
    return cached.path


def install_tools(env, manifest: dict, store, tools_dir: Path) -> None:
    """Make the tools `env` needs usable in this process, from their snapshotted wheels."""
    from bakery.errors import SnapshotError
    from bakery.snapshot import required_tools, unpack_uv, unpack_wheel

    needed = required_tools(env)
    absent = [tool for tool in needed if tool not in manifest]
    if absent:
        raise SnapshotError(
            f"the package snapshot of environment {env.short_id} lacks {', '.join(absent)}: "
            "delete its envs/<id>.json from the datastore and run the flow again to re-store it"
        )
    fetched = store.get([manifest[tool] for tool in needed], tools_dir / "wheels")
    for tool in needed:
        # whoever can write the datastore must not get to run code in every task
        check_tool_wheel(tool, manifest[tool], fetched.get(manifest[tool]))
    if "uv" in needed:
        from bakery.settings import current, use

        use(current().with_changes(uv=unpack_uv(fetched[manifest["uv"]], tools_dir / "uv")))
    if "rattler" in needed:
        sys.path.insert(0, str(unpack_wheel(fetched[manifest["rattler"]], tools_dir / "rattler")))
        # the package cache lives beside the environment, not in a home folder that may be read-only
        os.environ.setdefault("RATTLER_CACHE_DIR", str(tools_dir / "rattler-cache"))
        _check_importable("rattler", manifest["rattler"])


def check_tool_wheel(tool: str, key: str, path: Path | None) -> None:
    """Refuse a tool wheel whose key is not `tools/<distribution>/<sha256>/<name>.whl` or whose
    bytes do not have the sha256 the key names (nothing of it is unpacked or run)."""
    from bakery.errors import SnapshotError
    from bakery.fetch import file_sha256
    from bakery.snapshot import TOOL_DISTRIBUTIONS

    parts = str(key).split("/")
    well_formed = (
        len(parts) == 4
        and parts[:2] == ["tools", TOOL_DISTRIBUTIONS[tool]]
        and len(parts[2]) == 64
        and all(c in "0123456789abcdef" for c in parts[2])
        and parts[3].endswith(".whl")
    )
    if not well_formed:
        raise SnapshotError(
            f"the snapshot manifest names {key!r} for {tool}, which is not a tool wheel's key "
            f"(tools/{TOOL_DISTRIBUTIONS[tool]}/<sha256>/<file>.whl): nothing was installed. "
            "Delete envs/<id>.json from the datastore and run the flow again to store it anew"
        )
    if path is None:
        raise SnapshotError(
            f"{key} is missing from the datastore: delete envs/<id>.json there and run the flow "
            "again to store the snapshot anew"
        )
    actual = file_sha256(path)
    if actual != parts[2]:
        path.unlink(missing_ok=True)
        raise SnapshotError(
            f"the {tool} wheel in the datastore ({key}) does not have the sha256 its key names "
            f"(it has {actual[:16]}…): it was replaced after it was stored, so nothing of it "
            "was installed or run. Find out who can write the datastore, delete the file, and "
            "run the flow again from a workstation to store it anew"
        )


def _check_importable(module: str, key: str) -> None:
    from bakery.errors import SnapshotError

    try:
        __import__(module)
    except ImportError as e:
        raise SnapshotError(
            f"the snapshotted {key.rsplit('/', 1)[-1]} does not load on Python "
            f"{sys.version.split()[0]} here ({e}): run the bootstrap with Python 3.10+ on "
            "the platform the environment was locked for"
        ) from None


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
