"""`bakery lock --from FILE`: a file's environment locked on its own, without a flow.

The lock is a Bakery lockfile beside the file (`requirements.txt` -> `requirements.bakery.lock`)
with one step, `env`, per platform asked for: what `bakery bake --lock` bakes and `bakery env
publish --lock` publishes. Nothing is added for Metaflow (a flow that uses the environment
brings its own needs through its decorators).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..errors import SourceFileError
from ..lock.io import LOCK_SUFFIX
from ..lock.model import LockedEnv
from ..lock.update import update_lock
from ..resolve.indexes import IndexConfig
from ..spec import EnvSpec, TargetPlatform, normalize_python
from . import PINNED_FORMATS, pinned_format, step_files
from .compose import Named, SourcePlan

STEP = "env"


def attribute_for(path: str) -> tuple[str, str]:
    """(decorator kind, attribute) that takes the file `path`, judged by its name."""
    name = PurePosixPath(path).name
    try:
        return PINNED_FORMATS[pinned_format(path)], "lockfile"
    except SourceFileError:
        pass
    if name == "pyproject.toml":
        return "pypi", "pyproject"
    if name.endswith((".txt", ".in")):
        return "pypi", "requirements"
    if name.endswith((".yml", ".yaml")):
        return "conda", "environment"
    raise SourceFileError(
        f"--from {path}: Bakery locks requirements files (*.txt, *.in), pyproject.toml, "
        "environment.yml, uv.lock, pylock.toml, conda-lock.yml and pixi.lock"
    )


def lock_path_for_file(path: Path) -> Path:
    stem = path.name.split(".")[0] or path.name
    return path.with_name(stem + LOCK_SUFFIX)


def spec_from_file(
    path: Path,
    platform: TargetPlatform,
    *,
    python: str | None = None,
    groups: tuple[str, ...] = (),
    channels: tuple[str, ...] = (),
) -> EnvSpec:
    """The spec of the environment `path` describes, for `platform`."""
    kind, attribute = attribute_for(str(path))
    named = Named(kind, attribute, path.name, kind)
    plan = SourcePlan(groups=tuple(groups))
    if attribute == "lockfile":
        plan.whole = named
    else:
        plan.files = [named]
    wanted = normalize_python(python)
    files = step_files(plan, path.parent, platform=platform, python=wanted)
    if files.python and not python:
        wanted = normalize_python(files.python)
    every = (*files.channels, *channels) if files.conda else ()
    return EnvSpec(
        python=wanted,
        pypi=files.pypi,
        conda=files.conda,
        channels=tuple(dict.fromkeys(every)),
        platform=platform,
        constraints=files.constraints,
        files=files.files,
        pinned=files.pinned,
    )


def lock_from_file(
    path: Path,
    platforms: list[TargetPlatform],
    *,
    python: str | None = None,
    groups: tuple[str, ...] = (),
    channels: tuple[str, ...] = (),
    indexes: IndexConfig | None = None,
    upgrade: bool = False,
) -> tuple[Path, dict[str, LockedEnv]]:
    """Lock `path`'s environment for each platform into its Bakery lockfile; returns the
    lockfile's path and {platform: LockedEnv}."""
    from ..resolve import resolve
    from .pinned import lock_pinned

    indexes = indexes or IndexConfig.from_environment()

    def resolver(spec: EnvSpec) -> LockedEnv:
        if spec.pinned is not None:
            return lock_pinned(spec, path.parent, indexes=indexes)
        return resolve(spec, indexes=indexes)

    lock_path = lock_path_for_file(path)
    found = {}
    for platform in platforms:
        spec = spec_from_file(path, platform, python=python, groups=groups, channels=channels)
        update = update_lock(lock_path, f"from {path.name}", {STEP: spec}, resolver, force=upgrade)
        found[str(platform)] = update.env(STEP, spec)
    return lock_path, found
