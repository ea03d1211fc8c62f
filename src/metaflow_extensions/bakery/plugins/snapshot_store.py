"""Bakery's package snapshots on Metaflow's datastore (local, S3, Azure, GS alike).

Snapshots live under the same root core Metaflow uses for conda packages
(`CONDA_PACKAGE_<TYPE>ROOT`, default `<datastore sysroot>/conda`), in a `bakery/` folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def package_root(datastore_class, echo=None) -> str:
    from .compat import datastore_package_root

    return datastore_package_root(datastore_class, echo) + "/bakery"


class DatastorePackageStore:
    """`bakery.snapshot.PackageStore` over a Metaflow DataStoreStorage."""

    def __init__(self, datastore_type: str, echo=None) -> None:
        from metaflow.plugins import DATASTORES

        datastore_class = next(d for d in DATASTORES if d.TYPE == datastore_type)
        self.root = package_root(datastore_class, echo)
        self.storage = datastore_class(self.root)

    def existing(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        return {k for k, present in zip(keys, self.storage.is_file(keys), strict=True) if present}

    def put(self, items: list[tuple[str, Path]]) -> None:
        handles = [(key, open(path, "rb")) for key, path in items]
        try:
            self.storage.save_bytes(iter(handles), overwrite=False, len_hint=len(handles))
        finally:
            for _, handle in handles:
                handle.close()

    def get(self, keys: list[str], dest: Path) -> dict[str, Path]:
        found = {}
        dest.mkdir(parents=True, exist_ok=True)
        with self.storage.load_bytes(keys) as loaded:
            for key, local_path, _ in loaded:
                if local_path is None:
                    continue
                target = dest / (key.replace("/", "_"))
                shutil.copyfile(local_path, target)
                found[key] = target
        return found

    def put_text(self, key: str, text: str, tmp_dir: Path) -> None:
        path = tmp_dir / os.path.basename(key)
        path.write_text(text)
        handle = open(path, "rb")
        try:
            self.storage.save_bytes(iter([(key, handle)]), overwrite=True, len_hint=1)
        finally:
            handle.close()

    def write_text(self, key: str, text: str, *, overwrite: bool) -> None:
        """`bakery.named.TextStore`: write a small document (kept if it exists, unless
        `overwrite`)."""
        import io

        handle = io.BytesIO(text.encode())
        self.storage.save_bytes(iter([(key, handle)]), overwrite=overwrite, len_hint=1)

    def list_keys(self, prefix: str) -> list[str]:
        """`bakery.named.TextStore`: the entries directly under the folder `prefix`."""
        found = []
        for entry in self.storage.list_content([prefix.rstrip("/")]):
            name = self.storage.basename(entry.path.rstrip("/"))
            found.append(name if entry.is_file else name + "/")
        return found

    def get_text(self, key: str) -> str | None:
        with self.storage.load_bytes([key]) as loaded:
            for _, local_path, _ in loaded:
                return Path(local_path).read_text() if local_path else None
        return None


def store_snapshot(env, store: DatastorePackageStore, *, indexes, wheels) -> int:
    """Store `env`'s artifacts and the tools that install it, then its manifest
    (`envs/<id>.json`, what a bootstrap reads); returns how many artifacts were uploaded."""
    import json
    import tempfile

    from bakery.snapshot import snapshot_env, snapshot_tools

    key = "envs/%s.json" % env.env_id
    if _is_complete(store, key, env):
        return 0
    stored = snapshot_env(env, store, indexes=indexes, wheels=wheels)
    tools = snapshot_tools(env, store, indexes=indexes)
    with tempfile.TemporaryDirectory(prefix="bakery-") as tmp:
        store.put_text(key, json.dumps({**tools, "env": env.to_dict()}, sort_keys=True), Path(tmp))
    return stored


def _is_complete(store, manifest_key, env) -> bool:
    """Whether the env's manifest is stored and names every tool its bootstrap needs (older
    manifests may lack one)."""
    import json

    from bakery.snapshot import required_tools

    if not store.existing([manifest_key]):
        return False
    manifest = json.loads(store.get_text(manifest_key) or "{}")
    return all(tool in manifest for tool in required_tools(env))
