"""`--environment=uv`: core Metaflow's name, Bakery's environments.

Flows written for core's uv environment run unchanged: every step's environment is the uv
project's `uv.lock` (with its `pyproject.toml`, found from the flow's folder upwards, as core
finds them from the working directory), taken as it is, per step: a step may name groups of
its own (`@pypi(groups=["train"])`) or any other source. Everything Bakery's environments do
comes along: the lockfile, cached environments, snapshots for remote steps, and, where
`METAFLOW_BAKERY_REGISTRY` is set, baked images for them as `--environment=fast-bakery` bakes.
"""

from __future__ import annotations

import os

from .bakery_environment import BakeryEnvironmentException
from .fast_bakery import FastBakeryEnvironment


class BakeryUVEnvironment(FastBakeryEnvironment):
    TYPE = "uv"

    def source_defaults(self):
        if getattr(self, "_uv_lock", None) is None:
            self._uv_lock = _find_project(str(self.flow_dir()))
        return {"lockfile": os.path.relpath(self._uv_lock, str(self.flow_dir()))}

    # remote steps bake only where a registry is configured; elsewhere they bootstrap from
    # the snapshot, as under --environment=pypi

    def _bakes(self, step):
        return bool(self.settings().registry) and super()._bakes(step)

    def _runs_baked(self, step_name):
        return bool(self.settings().registry) and super()._runs_baked(step_name)

    def _prepare(self, only_steps=None):
        if self.settings().registry:
            return super()._prepare(only_steps)
        return super(FastBakeryEnvironment, self)._prepare(only_steps)

    def _bake_requests(self, steps):
        return super()._bake_requests(steps) if self.settings().registry else []


def _find_project(start: str) -> str:
    """The uv.lock of the project holding `start` (with a pyproject.toml beside it)."""
    folder = os.path.abspath(start)
    while True:
        lock = os.path.join(folder, "uv.lock")
        if os.path.isfile(lock) and os.path.isfile(os.path.join(folder, "pyproject.toml")):
            return lock
        parent = os.path.dirname(folder)
        if parent == folder:
            raise BakeryEnvironmentException(
                "--environment=uv reads the uv project's pyproject.toml and uv.lock, and found "
                "none in %s or its parents: run `uv lock` in the project" % start
            )
        folder = parent
