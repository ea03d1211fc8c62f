"""Resolvers: a spec in, a LockedEnv out. PyPI with uv, conda with py-rattler."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import SpecError
from ..lock.model import LockedEnv
from ..spec import EnvSpec, TargetPlatform
from .indexes import IndexConfig
from .python import find_interpreter, refuse_python2


def resolve(
    spec: EnvSpec,
    *,
    indexes: IndexConfig | None = None,
    conda_channels: Sequence[str] = (),
) -> LockedEnv:
    """Resolve a whole spec: conda packages first (they bring Python), PyPI packages on top."""
    from .pypi import resolve_pypi

    refuse_python2(spec.python)
    if spec.conda:
        from .conda import resolve_conda

        conda_env = resolve_conda(spec, channels=conda_channels)
        if not spec.pypi:
            return conda_env
        python = _conda_python_version(conda_env) or conda_env.python
        return resolve_pypi(spec, python, indexes=indexes, base_packages=conda_env.packages)
    return resolve_pypi(spec, python_for_resolution(spec), indexes=indexes)


def python_for_resolution(spec: EnvSpec) -> str:
    """The Python version to resolve PyPI packages for.

    On this machine's platform, the interpreter that will run the environment decides (and must
    exist). For another platform, the requested version itself, which must then be a version.
    """
    if spec.platform == TargetPlatform.host():
        return find_interpreter(spec.python).version
    if re.fullmatch(r"\d+\.\d+(\.\d+)?", spec.python):
        return spec.python
    raise SpecError(
        f"python='{spec.python}' is a range; locking for {spec.platform} needs a version "
        "such as python='3.11'"
    )


def _conda_python_version(env: LockedEnv) -> str | None:
    for package in env.by_kind("conda"):
        if package.name == "python":
            return package.version
    return None
