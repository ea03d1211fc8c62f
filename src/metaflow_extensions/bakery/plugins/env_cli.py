"""The datastore half of `bakery env publish|ls|show|alias|get`: named environments and past
runs' environments, read and written through Metaflow's datastore.

    python -m metaflow_extensions.bakery.plugins.env_cli VERB [ARGS...] [--datastore TYPE]

prints one line of JSON on stdout (`{"error": ...}` with exit status 1 for a refusal). The core
`bakery` command runs it in a subprocess (the core never imports Metaflow); everything that
could be tested without Metaflow is in `bakery.named` and `bakery.snapshot`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _store(datastore):
    from .snapshot_store import DatastorePackageStore

    return DatastorePackageStore(datastore)


def _registry(datastore):
    from bakery.named import NamedEnvs

    return NamedEnvs(_store(datastore))


def ls(args) -> dict:
    registry = _registry(args.datastore)
    names = []
    for name in registry.names():
        names.append({"name": name, "tags": registry.tags(name), "aliases": registry.aliases(name)})
    return {"root": registry.store.root, "names": names}


def show(args) -> dict:
    from bakery.named import parse_ref

    registry = _registry(args.datastore)
    ref = parse_ref(args.ref)
    tag = registry.tag_of(ref)
    platforms = {}
    for platform in registry.platforms(tag):
        platforms[platform] = registry.get(str(tag), platform).to_dict()
    if not platforms:
        registry.get(str(tag), "linux-64")  # raises, naming the tags there are
    return {
        "ref": str(ref),
        "tag": tag.tag,
        "alias": registry.alias(ref) if ref.is_alias else None,
        "aliases": {k: v for k, v in registry.aliases(ref.name).items() if v["tag"] == tag.tag},
        "platforms": platforms,
    }


def alias(args) -> dict:
    from bakery.named import parse_ref

    return _registry(args.datastore).move_alias(parse_ref(args.ref, default_tag=None), args.alias)


def publish(args) -> dict:
    """Snapshot the environment (so any machine can build it offline), then record it."""
    from bakery.envs.cache import image_cache_dir
    from bakery.fetch import ArtifactStore
    from bakery.lock.model import LockedEnv
    from bakery.resolve.indexes import IndexConfig

    from .settings import bakery_settings
    from .snapshot_store import store_snapshot

    env = LockedEnv.from_dict(json.loads(Path(args.env).read_text()))
    store = _store(args.datastore)
    wheels = ArtifactStore(image_cache_dir(bakery_settings().cache_root()) / "wheels")
    stored = store_snapshot(env, store, indexes=IndexConfig.from_environment(), wheels=wheels)
    registry = _registry(args.datastore)
    source = json.loads(args.source) if args.source else {}
    record, new = registry.publish(args.ref, env, image=args.image, source=source)
    return {"published": record.to_dict(), "new": new, "stored": stored, "root": store.root}


def run_task(pathspec: str) -> dict:
    """What a past step ran with: its environment id and image (task metadata), and the
    lockfile of the run's code package, if it has one."""
    from metaflow import Step, namespace

    from .verify import _lock_in_code_package

    namespace(None)
    parts = pathspec.strip("/").split("/")
    if len(parts) != 3:
        raise ValueError("name a step as Flow/run_id/step, e.g. TrainFlow/1795630478918496/train")
    step = Step("/".join(parts))
    tasks = sorted(step, key=lambda t: (not t.successful, t.pathspec))
    if not tasks:
        raise ValueError("%s has no tasks" % step.pathspec)
    meta = tasks[0].metadata_dict
    _, lock_text = _lock_in_code_package(step.parent)
    return {
        "step": step.pathspec,
        "task": tasks[0].pathspec,
        "env_id": meta.get("bakery_env_id"),
        "image": meta.get("container-image"),
        "lock": json.loads(lock_text) if lock_text else None,
    }


def get(args) -> dict:
    """Recreate here the environment a past step ran in, from the datastore's snapshot alone."""
    import tempfile

    from bakery.envs.cache import EnvCache
    from bakery.envs.realize import realize
    from bakery.errors import SnapshotError
    from bakery.lock.model import LockedEnv
    from bakery.snapshot import restore_env

    from .settings import bakery_settings

    task = run_task(args.pathspec)
    if args.image_only:
        return task
    env_id = task["env_id"]
    if not env_id:
        raise SnapshotError(
            "%s recorded no Bakery environment: it ran without --environment=pypi, conda, "
            "uv or fast-bakery (or in a disabled step)" % task["task"]
        )
    store = _store(args.datastore)
    manifest = json.loads(store.get_text("envs/%s.json" % env_id) or "{}")
    lock = json.loads(Path(args.lock).read_text()) if args.lock else task["lock"]
    entry = (lock or {}).get("environments", {}).get(env_id)
    if entry is not None:
        from bakery.lock.model import Lockfile

        env = Lockfile.from_dict(lock).environments[env_id]
    elif "env" in manifest:
        env = LockedEnv.from_dict(manifest["env"])
    else:
        raise SnapshotError(
            "no snapshot of environment %s in %s, and no lockfile names it: the run stored "
            "none (a local datastore without METAFLOW_BAKERY_SNAPSHOT=always)"
            % (env_id[:12], store.root)
        )
    if env.env_id != env_id:
        raise SnapshotError("the lockfile's environment %s is not %s" % (env.env_id, env_id))
    cache = EnvCache(bakery_settings().cache_root())
    with tempfile.TemporaryDirectory(prefix="bakery-get-") as tmp:
        packages = restore_env(env, store, Path(tmp) / "packages")
        cached = realize(env, cache, package_dir=packages, python=env.python)
    return {**task, "lock": None, "python": str(cached.python), "path": str(cached.path)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="env_cli")
    parser.add_argument("--datastore", default=None)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("ls").set_defaults(func=ls)
    p = verbs.add_parser("show")
    p.add_argument("ref")
    p.set_defaults(func=show)
    p = verbs.add_parser("alias")
    p.add_argument("ref")
    p.add_argument("alias")
    p.set_defaults(func=alias)
    p = verbs.add_parser("publish")
    p.add_argument("ref")
    p.add_argument("--env", required=True)
    p.add_argument("--image")
    p.add_argument("--source")
    p.set_defaults(func=publish)
    p = verbs.add_parser("get")
    p.add_argument("pathspec")
    p.add_argument("--lock")
    p.add_argument("--image-only", action="store_true")
    p.set_defaults(func=get)
    args = parser.parse_args(argv)
    if args.datastore is None:
        from metaflow.metaflow_config import DEFAULT_DATASTORE

        args.datastore = DEFAULT_DATASTORE
    try:
        print(json.dumps(args.func(args)))
    except Exception as e:  # noqa: BLE001 - the caller shows one line for any failure
        from bakery.errors import BakeryError

        kind = "refused" if isinstance(e, BakeryError) else "failed"
        print(json.dumps({"error": str(e), "kind": kind}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
