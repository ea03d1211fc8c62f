"""Turning locked environments into finished environments in the cache."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from ..errors import BakeryError, EnvironmentBuildError
from ..lock.model import LockedEnv, LockedPackage
from ..resolve.indexes import IndexConfig
from ..resolve.python import find_interpreter
from .build_check import check_new_environment, drop_conda_cache_entries
from .bytecode import compile_environment
from .cache import CachedEnv, EnvCache, cache_key
from .pypi_install import create_venv, install_pypi
from .stamps import VerifiedStamps


def realize(
    env: LockedEnv,
    cache: EnvCache | None = None,
    *,
    indexes: IndexConfig | None = None,
    package_dir: Path | None = None,
    on_build: Callable[[LockedEnv], None] | None = None,
    python: str | None = None,
    on_built: Callable[[LockedEnv], None] | None = None,
    imports: Callable[[], Sequence[str]] | None = None,
) -> CachedEnv:
    """The cached environment for `env`, built (once, atomically) if missing.

    `package_dir` (a restored snapshot: each artifact under its filename) installs without
    touching any index or channel. `python` overrides which interpreter a venv is built on
    (a remote machine has its own patch release: any of the locked minor will do). `imports`
    says which modules the first task will import, in order: a new environment compiles those
    first (asked only when the environment is built).
    """
    cache = cache or EnvCache()
    conda = env.by_kind("conda")
    interpreter = None if conda else find_interpreter(python or _python_request(env))
    key = cache_key(env, None if interpreter is None else str(interpreter.path.resolve()))

    def build(tmp: Path) -> None:
        if on_build:
            on_build(env)
        try:
            _build(tmp)
        finally:
            if on_built:
                on_built(env)

    def _install(tmp: Path) -> tuple[Path, set[str]]:
        if conda:
            from .conda_install import install_conda

            install_conda(env, tmp, package_dir=package_dir)
            env_python = tmp / "bin" / "python"
        else:
            env_python = create_venv(tmp, interpreter.path)
        return env_python, install_pypi(env, env_python, indexes=indexes, package_dir=package_dir)

    def _build(tmp: Path) -> None:
        try:
            env_python, fetched_now = _install(tmp)

            def refetch(bad: list[LockedPackage]) -> None:
                if any(p.kind == "conda" for p in bad):
                    drop_conda_cache_entries(tmp, bad)
                    shutil.rmtree(tmp)
                    _install(tmp)
                else:
                    names = [p.name for p in bad]
                    install_pypi(
                        env, env_python, indexes=indexes, package_dir=package_dir, refetch=names
                    )

            # uv and rattler link from caches they never check again: check what they linked
            stamps = VerifiedStamps(cache.root / "verified")
            check_new_environment(env, tmp, refetch, stamps, fetched_now)
        except EnvironmentBuildError as e:
            raise type(e)(f"environment {env.short_id} could not be created: {e}") from None

    cached = cache.ensure(key, env, build)
    if cached.created:  # what the step asks for is what its task imports first
        packages = [r.name for r in (*env.spec.pypi, *env.spec.conda)]
        modules = imports() if imports else ()
        compile_environment(cached.path, first=packages, modules=modules)
    return cached


def key_for(env: LockedEnv, python: str | None = None) -> str:
    """The cache key of `env` on this machine (a venv is tied to its base interpreter)."""
    if env.by_kind("conda"):
        return cache_key(env, None)
    interpreter = find_interpreter(python or _python_request(env))
    return cache_key(env, str(interpreter.path.resolve()))


def _python_request(env: LockedEnv) -> str:
    """The interpreter to build on: the spec's exact version if it named one, else the minor."""
    requested = env.spec.python
    if requested.count(".") == 2 and requested.replace(".", "").isdigit():
        return requested
    return env.python


def realize_all(
    envs: Iterable[tuple[str, LockedEnv]],
    cache: EnvCache | None = None,
    *,
    indexes: IndexConfig | None = None,
    on_build: Callable[[LockedEnv], None] | None = None,
    on_built: Callable[[LockedEnv], None] | None = None,
    imports: Callable[[str], Sequence[str]] | None = None,
) -> dict[str, CachedEnv]:
    """Realize each distinct environment once, in parallel; returns env_id -> CachedEnv.
    `imports(step)`: the modules the step's code imports, in order (`realize`)."""
    cache = cache or EnvCache()
    unique: dict[str, tuple[str, LockedEnv]] = {}
    for step, env in envs:
        unique.setdefault(env.env_id, (step, env))

    def one(item: tuple[str, LockedEnv]) -> tuple[str, CachedEnv]:
        step, env = item
        try:
            return env.env_id, realize(
                env,
                cache,
                indexes=indexes,
                on_build=on_build,
                on_built=on_built,
                imports=partial(imports, step) if imports else None,
            )
        except BakeryError as e:
            raise e.with_step(step) from None

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(one, unique.values()))
