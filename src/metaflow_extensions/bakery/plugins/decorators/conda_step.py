"""The `@conda` / `@conda_base` decorators: core Metaflow's, plus `channels=`, with the
environment's own `bin/` on PATH.

Metaflow attaches it to every step under `--environment=conda|pypi`. Core puts the folder of the
interpreter's *real path* on PATH, which for a venv is the base interpreter's folder; Bakery's
environments are venvs, so the environment's own `bin/` must come first instead.
"""

from __future__ import annotations

import os
import sys

from metaflow.plugins.pypi.conda_decorator import CondaFlowDecorator, CondaStepDecorator

from .. import compat
from ..task_metadata import record
from .stand_in import StandInFlowInit, StandInStepInit

# the attributes that name a conda environment file, a conda lock or a named environment
FILE_DEFAULTS = {"environment": None, "lockfile": None, "groups": None, "named_env": None}


class BakeryCondaStepDecorator(StandInStepInit, CondaStepDecorator):
    """@conda(packages=..., libraries=..., python=..., channels=..., disabled=...,
    environment=..., lockfile=..., groups=..., named_env=...)."""

    name = "conda"
    defaults = {**CondaStepDecorator.defaults, "channels": [], **FILE_DEFAULTS}

    def step_init(self, flow, graph, step, decos, environment, flow_datastore, logger):
        super().step_init(flow, graph, step, decos, environment, flow_datastore, logger)
        self.environment = compat.real_environment(environment)  # not the stand-in above

    def task_pre_step(
        self,
        step_name,
        task_datastore,
        meta,
        run_id,
        task_id,
        flow,
        graph,
        retry_count,
        max_retries,
        ubf_context,
        inputs,
    ):
        if self.disabled:
            return
        env_bin = os.path.join(sys.prefix, "bin")
        path = os.environ.get("PATH", "")
        if env_bin not in path.split(os.pathsep):
            os.environ["PATH"] = os.pathsep.join(filter(None, (env_bin, path)))
        env_id = os.environ.get("BAKERY_ENV_ID")
        if env_id:
            record(meta, run_id, step_name, task_id, retry_count, "bakery_env_id", env_id)

    def runtime_init(self, flow, graph, package, run_id):
        if self.disabled:
            return
        cls = self.__class__
        if compat.conda_decorator_state(cls) is None:
            from pathlib import Path

            from .code_home import CodeHome, code_home

            home = code_home(package, Path(self.environment.cache_root()))
            if home is None:  # this Metaflow's package API differs: core's way
                return super().runtime_init(flow, graph, package, run_id)
            env_vars = package.get_post_extract_env_vars(package.package_metadata, str(home))
            compat.set_conda_decorator_state(cls, CodeHome(home), env_vars)

    def runtime_step_cli(self, cli_args, retry_count, max_user_code_retries, ubf_context):
        super().runtime_step_cli(cli_args, retry_count, max_user_code_retries, ubf_context)
        if self.disabled:
            return
        env_id = self.environment.env_id(self.step)
        if env_id:
            cli_args.env["BAKERY_ENV_ID"] = env_id


class BakeryCondaFlowDecorator(StandInFlowInit, CondaFlowDecorator):
    """@conda_base, accepting `channels=` like @conda."""

    name = "conda_base"
    defaults = {**CondaFlowDecorator.defaults, "channels": [], **FILE_DEFAULTS}
