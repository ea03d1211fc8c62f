"""Staging: the locked wheels of an environment, fetched, checked, and compiled for the image.

(Conda packages are linked by rattler into a staging prefix: see `stage_conda.py`.)

Each locked wheel is fetched once into a content-addressed store (`wheels/<sha256>/`), checked
against the lock's sha256 each time a bake takes it from there (a damaged one is fetched again),
and checked against the image's Python and platform. Its layer entries are
then read straight from the wheel (see `wheel.py`): nothing is unpacked on disk. Bytecode is
compiled by a host interpreter of the image's Python minor, straight from the wheels, into one
zip of unchecked-hash `.pyc` files per package (`bytecode/<key>.zip`), in the background: a
bake builds each layer as soon as its packages' bytecode is in. Everything is keyed by content
(wheel sha256, Python minor, platform, layout), so a re-bake compiles nothing and a changed
package recompiles only itself.

Image layout (relative to `/`)::

    opt/bakery/env/bin/                          scripts, `#!/usr/bin/env pythonX.Y`
    opt/bakery/env/lib/pythonX.Y/site-packages/  packages and their __pycache__
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import ImageError, PythonNotFoundError
from ..fetch import ArtifactStore
from ..lock.model import LockedEnv, LockedPackage
from ..resolve.pypi import target_tags
from ..resolve.python import find_interpreter
from . import compile_worker
from .gc import mark_used
from .layers import Entry, bytecode_entries, write_atomic
from .licenses import wheel_licenses
from .stage_conda import CondaStaged, stage_conda
from .wheel import ENV_ROOT, WheelLayout, read_layout, site_packages_dir

LAYOUT_VERSION = 3  # 3: installed straight from the wheels, `INSTALLER` is bakery

__all__ = [
    "ENV_ROOT",
    "LAYOUT_VERSION",
    "StageResult",
    "StagedPackage",
    "find_python",
    "site_packages_dir",
    "stage_env",
]


def find_python(minor: str) -> Path | None:
    """A host interpreter of Python `minor` (`3.11`) to compile bytecode with, or None."""
    try:
        return find_interpreter(minor).path
    except PythonNotFoundError:
        return None


def stage_key(package: LockedPackage, python_minor: str, uv_platform: str, compiled: bool) -> str:
    """Content key of a staged package: equal keys give equal layer entries."""
    text = f"v{LAYOUT_VERSION}|{package.sha256}|{python_minor}|{uv_platform}|pyc={compiled}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class StagedPackage:
    """One locked wheel, ready to become layer entries: the wheel, and its bytecode zip."""

    package: LockedPackage
    key: str
    wheel: Path
    python_minor: str
    size: int  # bytes installed, before bytecode
    bytecode: Path | None  # None: not compiled (no interpreter of the image's Python here)
    licenses: tuple[str, ...] = ()  # as its METADATA declares them (see `licenses.py`)

    @property
    def pin(self) -> str:
        return f"{self.package.name}=={self.package.version}"

    @property
    def label(self) -> str:
        return f"wheel {self.wheel.name}"

    @property
    def compile_source(self) -> Path:
        """What the bytecode compiler reads the modules from."""
        return self.wheel

    def layout(self, archive: zipfile.ZipFile) -> WheelLayout:
        return read_layout(archive, self.wheel.name, self.python_minor)

    def entries(self, stack: ExitStack) -> Iterator[Entry]:
        """The package's files and bytecode, read from the wheel and the bytecode zip."""
        archive = stack.enter_context(zipfile.ZipFile(self.wheel))
        yield from self.layout(archive).entries(archive)
        yield from bytecode_entries(stack, self.bytecode)


Staged = StagedPackage | CondaStaged  # what a layer is made of: a wheel or a conda package


@dataclass
class StageResult:
    """The staged packages in name order, how many were compiled now, and notes for the user.

    Bytecode may still be compiling when a bake gets this: `wait(packages)` blocks until those
    packages' bytecode zips are in place (and raises if compiling failed).
    """

    packages: tuple[Staged, ...]
    installed: int
    notes: tuple[str, ...] = ()
    _compiling: _Compilation | None = field(default=None, repr=False)

    def wait(self, packages: Sequence[Staged] | None = None) -> None:
        if self._compiling is not None:
            self._compiling.wait([p.bytecode for p in (packages or self.packages) if p.bytecode])

    def close(self) -> None:
        """Stop compiling (a bake that failed half-way); finished zips stay in the cache."""
        if self._compiling is not None:
            self._compiling.stop()

    def ready_rank(self, packages: Sequence[Staged]) -> int:
        """When these packages' bytecode will all be in: 0 now, higher later."""
        if self._compiling is None:
            return 0
        return max((self._compiling.rank(p.bytecode) for p in packages), default=0)


class StageProgress(Protocol):
    """What staging reports while it works (BakeProgress draws it)."""

    def fetching(self, count: int) -> AbstractContextManager[object]: ...

    def compiling(self, count: int) -> Callable[[], None]: ...


def stage_env(
    env: LockedEnv,
    cache_dir: Path,
    *,
    background: bool = False,
    progress: StageProgress | None = None,
) -> StageResult:
    """Fetch (or find) every wheel of `env` and compile what is not compiled; see module doc.

    With `background`, compiling goes on after this returns: call `wait` before reading a
    package's entries. `progress` hears of the wheels fetched and each package compiled.
    """
    pypi = sorted(env.by_kind("pypi"), key=lambda p: p.name)
    _check_wheels(pypi, env)
    python = find_python(env.python)
    notes = [] if python else [f"no Python {env.python} on this machine: bytecode not compiled"]
    store = ArtifactStore(cache_dir / "wheels")
    fetching = store.unusable(pypi)  # every stored wheel checked against the lock's sha256
    with progress.fetching(len(fetching)) if progress and fetching else nullcontext():
        store.fetch(fetching)
    wheels = {p.sha256: store.path(p) for p in pypi}
    platform = env.spec.platform.uv_platform
    # each staged package, with how to list its modules to compile
    candidates: list[tuple[Staged, Callable[[], list[tuple[str, str]]]]] = [
        (conda, partial(conda.modules, env.python))
        for conda in stage_conda(env, cache_dir, compiled=python is not None)
    ]
    for package in pypi:
        key = stage_key(package, env.python, platform, python is not None)
        wheel = wheels[package.sha256]
        size, licenses = _wheel_facts(cache_dir, key, package, wheel, env.python)
        bytecode = cache_dir / "bytecode" / f"{key}.zip" if python else None
        one = StagedPackage(package, key, wheel, env.python, size, bytecode, licenses)
        candidates.append((one, partial(_sources_to_compile, package, wheel, env.python)))
    todo: list[tuple[Staged, list[tuple[str, str]]]] = []
    for one, modules in candidates:
        if one.bytecode is not None and one.bytecode.is_file():
            mark_used(one.bytecode)  # compiled by an earlier bake
        elif one.bytecode is not None:
            todo.append((one, modules()))
    staged = [one for one, _ in candidates]
    compiling = None
    if todo and python is not None:
        (cache_dir / "bytecode").mkdir(parents=True, exist_ok=True)
        todo.sort(key=lambda item: -len(item[1]))  # the longest first: they gate the layers
        done = progress.compiling(len(todo)) if progress else None
        compiling = _Compilation(python, todo, env, done)
        if not background:
            compiling.wait([one.bytecode for one, _ in todo])
    return StageResult(tuple(staged), len(todo), tuple(notes), compiling)


def _read_wheel(package: LockedPackage, wheel: Path, python_minor: str):
    """The wheel's layout for the image's Python, and its licenses (for the SBOM)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            layout = read_layout(archive, wheel.name, python_minor)
            return layout, wheel_licenses(archive, layout.dist_info)
    except zipfile.BadZipFile as e:
        raise ImageError(
            f"{wheel.name} matches the sha256 in the lock but is not a readable wheel ({e}): "
            f"the published file is broken; lock another version of {package.name}"
        ) from None


def _wheel_facts(
    cache_dir: Path, key: str, package: LockedPackage, wheel: Path, python_minor: str
) -> tuple[int, tuple[str, ...]]:
    """(bytes installed, licenses) of a wheel, read once per stage key: a re-bake that changed
    one package opens only that package's wheel (torch's central directory alone is 100 ms)."""
    facts = cache_dir / "wheel-facts" / f"{key}.json"
    try:
        data = json.loads(facts.read_text())
        mark_used(facts)
        return int(data["size"]), tuple(data["licenses"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    layout, licenses = _read_wheel(package, wheel, python_minor)
    write_atomic(facts, json.dumps({"size": layout.size, "licenses": list(licenses)}))
    return layout.size, licenses


def _sources_to_compile(
    package: LockedPackage, wheel: Path, python_minor: str
) -> list[tuple[str, str]]:
    return _read_wheel(package, wheel, python_minor)[0].sources_to_compile()


def _check_wheels(packages: Sequence[LockedPackage], env: LockedEnv) -> None:
    """Every artifact must be a wheel that the image's Python and platform can import."""
    supported = set(target_tags(env.python, env.spec.platform))
    for package in packages:
        try:
            _, _, _, tags = parse_wheel_filename(package.filename)
        except InvalidWheelFilename:
            raise ImageError(
                f"{package.name} {package.version} is locked as {package.filename}, not a wheel: "
                "images are baked from wheels only. Pin a version that publishes a wheel for "
                f"Python {env.python} on {env.spec.platform}, then re-run `bakery lock`."
            ) from None
        if not supported & set(tags):
            raise ImageError(
                f"{package.filename} does not run on Python {env.python} for "
                f"{env.spec.platform} (environment {env.short_id}): re-run `bakery lock` for that "
                "Python and platform"
            )


class _Compilation:
    """`compile_worker.py` running under the image's Python, one bytecode zip per package."""

    def __init__(
        self,
        python: Path,
        todo: Sequence[tuple[Staged, list[tuple[str, str]]]],
        env: LockedEnv,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self._env = env
        self._on_done = on_done
        self._expected = {str(one.bytecode): rank + 1 for rank, (one, _) in enumerate(todo)}
        self._done: set[str] = set()
        self._failed: str | None = None
        self._changed = threading.Condition()
        jobs = [
            {"source": str(one.compile_source), "out": str(one.bytecode), "modules": modules}
            for one, modules in todo
        ]
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [str(python), "-I", "-B", compile_worker.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._process.stdin.write(json.dumps(jobs))
        self._process.stdin.close()
        threading.Thread(target=self._follow, daemon=True, name="bakery-bytecode").start()

    def _follow(self) -> None:
        for line in self._process.stdout:
            with self._changed:
                self._done.add(line.strip())
                self._changed.notify_all()
            if self._on_done is not None:
                self._on_done()
        code = self._process.wait()
        with self._changed:
            if code != 0:
                self._stderr.seek(0)
                error = self._stderr.read().decode(errors="replace").strip()
                self._failed = f"exit status {code}" + (f":\n{error[-2000:]}" if error else "")
            self._stderr.close()
            self._failed = self._failed or ""
            self._changed.notify_all()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def rank(self, output: Path | None) -> int:
        return self._expected.get(str(output), 0)

    def wait(self, outputs: Sequence[Path]) -> None:
        wanted = {str(path) for path in outputs} & self._expected.keys()
        with self._changed:
            while not wanted <= self._done:
                if self._failed is not None:
                    raise ImageError(
                        f"compiling bytecode for environment {self._env.short_id} with Python "
                        f"{self._env.python} failed ({self._failed or 'it stopped early'}); "
                        f"set BAKERY_PYTHONS to a working interpreter ({sys.executable} is the "
                        "one running Bakery), or report the wheel that breaks it"
                    )
                self._changed.wait()
