"""The `@pypi` / `@pypi_base` decorators: core Metaflow's, plus the attributes that name the
files a team already has (`requirements=`, `pyproject=`, `lockfile=`, `groups=`) or a named
environment (`named_env=`). Bakery's environments read them (bakery.sources); they also work
under `--environment=uv`, where core's refuse to.
"""

from __future__ import annotations

from metaflow.plugins.pypi.pypi_decorator import PyPIFlowDecorator, PyPIStepDecorator

from .stand_in import StandInFlowInit, StandInStepInit

FILE_DEFAULTS = {
    "requirements": None,
    "pyproject": None,
    "lockfile": None,
    "groups": None,
    "named_env": None,
}


class BakeryPyPIStepDecorator(StandInStepInit, PyPIStepDecorator):
    """@pypi(packages=..., python=..., disabled=..., requirements=..., pyproject=...,
    lockfile=..., groups=..., named_env=...)."""

    name = "pypi"
    defaults = {**PyPIStepDecorator.defaults, **FILE_DEFAULTS}


class BakeryPyPIFlowDecorator(StandInFlowInit, PyPIFlowDecorator):
    """@pypi_base, with the same file attributes as @pypi."""

    name = "pypi_base"
    defaults = {**PyPIFlowDecorator.defaults, **FILE_DEFAULTS}
