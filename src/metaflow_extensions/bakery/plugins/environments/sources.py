"""Where a Bakery environment's steps get their sources: files named by decorators (relative
to the flow's folder), named environments in the datastore, and the defaults an environment
implies (`--environment=uv`). A mixin of the environments, kept apart for size.
"""

from __future__ import annotations


class StepSources:
    """The source-related half of BakeryCondaEnvironment (which provides lock_path,
    datastore_type, step_specs and _locked)."""

    def flow_dir(self):
        """The flow's folder: files named by decorators are relative to it."""
        from pathlib import Path

        return Path(self.lock_path()).parent

    def source_defaults(self):
        """Flow-level @pypi attributes this environment implies (none; see --environment=uv)."""
        return None

    def named_lookup(self):
        if getattr(self, "_named", None) is None:
            from ..named_envs import NamedLookup

            self._named = NamedLookup(self.datastore_type)
        return self._named

    def resolver(self, indexes):
        """spec -> LockedEnv: a pinned file as it is, a named environment as published, else
        resolved (uv, rattler)."""
        from bakery.resolve import resolve
        from bakery.sources.pinned import lock_pinned

        def resolve_step(spec):
            if spec.pinned is not None:
                return lock_pinned(spec, self.flow_dir(), indexes=indexes)
            if spec.named is not None:
                return self.named_lookup().locked(spec)
            return resolve(spec, indexes=indexes)

        return resolve_step

    def source_files(self, specs):
        """(path here, arcname) of every file the steps' specs were read from."""
        from pathlib import PurePosixPath

        found = {}
        for spec in specs:
            for source in spec.files:
                arcname = source.path
                if arcname.startswith("../"):  # outside the flow's folder: beside the flow
                    arcname = PurePosixPath(arcname).name
                found[str(self.flow_dir() / source.path)] = arcname
        return sorted(found.items())

    def _package_specs(self):
        """The specs of this run's steps (or, before any lock, as the decorators say)."""
        if self._locked:
            return [env.spec for env in self._locked.values()]
        try:
            from bakery.errors import BakeryError
        except ImportError:  # a task without the core: its launcher packaged the files
            return []
        try:
            return list(self.step_specs().values())
        except BakeryError:
            return []  # the run itself reports it
