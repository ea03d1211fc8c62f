"""Named environments in a flow's run: looked up in the datastore when specs are made, and
built from their package snapshot (no package index needed) when a step uses one.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path


class NamedLookup:
    """`(name, tag, platform) -> LockedEnv` over the flow's datastore, read once per process."""

    def __init__(self, datastore_type: str) -> None:
        self.datastore_type = datastore_type
        self._found = {}
        self._registry = None

    def registry(self):
        if self._registry is None:
            from bakery.named import NamedEnvs

            from .snapshot_store import DatastorePackageStore

            self._registry = NamedEnvs(DatastorePackageStore(self.datastore_type))
        return self._registry

    def __call__(self, name: str, tag: str, platform):
        key = (name, tag, str(platform))
        if key not in self._found:
            self._found[key] = self.registry().get("%s:%s" % (name, tag), str(platform)).env
        return self._found[key]

    def locked(self, spec):
        """The published environment a spec on a named environment stands for."""
        from bakery.errors import NamedEnvError

        env = self(spec.named.name, spec.named.tag, spec.platform)
        if env.env_id != spec.named.env_id:
            raise NamedEnvError("%s moved while the flow was being locked; run again" % spec.named)
        return dataclasses.replace(env, spec=spec)


def realize_from_snapshots(envs, cache, datastore_type, log) -> None:
    """Build the named environments among `envs` ({step: LockedEnv}) that this machine lacks
    from their snapshot in the datastore, offline; the others are left to the usual build."""
    from bakery.envs.realize import key_for, realize
    from bakery.errors import SnapshotError
    from bakery.snapshot import restore_env

    from .snapshot_store import DatastorePackageStore

    named = {e.env_id: e for e in envs.values() if e.spec.named is not None}
    missing = [e for e in named.values() if cache.lookup(key_for(e), e) is None]
    if not missing:
        return
    store = DatastorePackageStore(datastore_type)
    for env in missing:
        with tempfile.TemporaryDirectory(prefix="bakery-named-") as tmp:
            try:
                packages = restore_env(env, store, Path(tmp) / "packages")
            except SnapshotError:
                continue  # an incomplete snapshot: the usual build fetches by URL
            realize(env, cache, package_dir=packages)
            log("Built %s (%s) from its snapshot" % (env.spec.named, env.short_id))
