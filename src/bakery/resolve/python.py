"""Finding a Python interpreter on this machine that satisfies a step's `python=`.

Candidates, in order: the interpreter running Bakery, interpreters listed in `BAKERY_PYTHONS`
(paths to interpreters or to folders holding `bin/python3*`), the ones uv discovers (PATH and
uv-managed Pythons), and pyenv's versions. No download happens here: when nothing matches, the
error says which versions exist and how to provide the missing one.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import PythonNotFoundError, SpecError
from ..settings import current
from ..uvbin import uv_binary

_PROBE = "import sys, platform; print(sys.version.split()[0], platform.python_implementation())"


@dataclass(frozen=True)
class Interpreter:
    """A CPython interpreter found on this machine."""

    path: Path
    version: str  # full, e.g. "3.11.7"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def version_matches(request: str, version: str) -> bool:
    """`3.11` matches any 3.11.x, `3.11.7` only 3.11.7, and specifiers (`>=3.10`) as PEP 440."""
    if re.fullmatch(r"\d+\.\d+", request):
        return version.split(".")[:2] == request.split(".")
    if re.fullmatch(r"\d+\.\d+\.\d+", request):
        return version == request
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    return Version(version) in SpecifierSet(request)


def _probe(path: Path) -> Interpreter | None:
    try:
        out = subprocess.run(
            [str(path), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    version, implementation = out.stdout.split()
    return Interpreter(path, version) if implementation == "CPython" else None


def _configured_paths() -> list[Path]:
    paths = []
    for item_path in current().pythons:
        if item_path.is_dir():
            paths.extend(
                sorted(item_path.glob("bin/python3.*")) + sorted(item_path.glob("*/bin/python3"))
            )
        else:
            paths.append(item_path)
    return paths


def _uv_paths() -> list[tuple[Path, str]]:
    try:
        out = subprocess.run(
            [uv_binary(), "python", "list", "--only-installed", "--output-format", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        )
        entries = json.loads(out.stdout or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []
    return [
        (Path(e["path"]), e["version"])
        for e in entries
        if e.get("path") and e.get("implementation", "cpython").lower() == "cpython"
    ]


def _pyenv_paths() -> list[Path]:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    return sorted(root.glob("versions/*/bin/python3"))


def _running_interpreter() -> Interpreter:
    # inside a venv, the base interpreter: a new venv must not chain onto another venv
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Interpreter(Path(base), "%d.%d.%d" % sys.version_info[:3])


def _candidates() -> Iterator[Interpreter]:
    """Interpreters in preference order, found lazily: probing costs a subprocess each."""
    yield _running_interpreter()
    for path in _configured_paths():
        found = _probe(path)
        if found:
            yield found
    for path, version in _uv_paths():
        if "/shims/" not in str(path):  # pyenv shims are slow wrappers around versions/
            yield Interpreter(path, version)
    for path in _pyenv_paths():
        found = _probe(path)
        if found:
            yield found


_found: dict[str, Interpreter] = {}


def find_interpreter(request: str) -> Interpreter:
    """The first interpreter satisfying `request`, or PythonNotFoundError saying what to do."""
    if request in _found:
        return _found[request]
    seen: dict[Path, Interpreter] = {}
    for interpreter in _candidates():
        if interpreter.path.resolve() in seen:
            continue
        seen[interpreter.path.resolve()] = interpreter
        if version_matches(request, interpreter.version):
            _found[request] = interpreter
            return interpreter
    if current().python_downloads:
        interpreter = _download(request)
        _found[request] = interpreter
        return interpreter
    available = _versions_text(seen.values())
    raise PythonNotFoundError(
        f"no Python {request} found on this machine (found: {available}). "
        f"Install it (e.g. `uv python install {request}` or `pyenv install {request}`), "
        "point BAKERY_PYTHONS at its interpreter, or set BAKERY_PYTHON_DOWNLOADS=1 to let uv "
        "download it (from UV_PYTHON_INSTALL_MIRROR if you have a mirror)"
        + (
            f"; to accept any patch release, ask for python='{'.'.join(request.split('.')[:2])}'"
            if request.count(".") == 2
            else ""
        )
    )


def known_interpreter(version: str) -> Path | None:
    """An interpreter of `version`'s minor already at hand (this one, or one found before), or
    None: never a probe. For uv's resolver, which otherwise looks one up itself on every call
    (through pyenv's shims that is a few shell scripts, ~0.1 s)."""
    minor = version.split(".")[:2]
    running = _running_interpreter()
    candidates = [running, *_found.values()]
    for interpreter in candidates:
        if interpreter.version.split(".")[:2] == minor and interpreter.path.is_file():
            return interpreter.path
    return None


def refuse_python2(request: str, *, decorator: str | None = None) -> None:
    """Raise SpecError for a `python=` only Python 2 satisfies, listing the Pythons found here.

    `decorator` (`pypi_base`, ...) is where the request was written, for the message.
    """
    if not _only_python2(request):
        return
    asked = f"@{decorator}(python='{request}')" if decorator else f"python='{request}'"
    raise SpecError(
        f"{asked}: Python 2 is not supported (Metaflow and Bakery run on Python 3); "
        f"ask for a Python 3 version, e.g. one of those on this machine: {found_versions()}"
    )


def found_versions() -> str:
    """The versions of every interpreter found here, in numeric order (3.9 before 3.10)."""
    return _found_versions(current().pythons, os.environ.get("PYENV_ROOT"))


@functools.lru_cache(maxsize=4)
def _found_versions(*settings: object) -> str:
    """Cached by the settings that change what is found: each failing step asks again."""
    seen: dict[Path, Interpreter] = {}
    for interpreter in _candidates():
        seen.setdefault(interpreter.path.resolve(), interpreter)
    return _versions_text(seen.values())


def _versions_text(interpreters: Iterable[Interpreter]) -> str:
    versions = {i.version for i in interpreters}
    ordered = sorted(versions, key=lambda v: tuple(int(p) for p in re.findall(r"\d+", v)))
    return ", ".join(ordered) or "none"


def _only_python2(request: str) -> bool:
    if re.fullmatch(r"\d+(\.\d+){0,2}", request):
        return request.split(".")[0] == "2"
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        allowed = SpecifierSet(request)
    except InvalidSpecifier:
        return False
    python3 = any(allowed.contains(f"3.{minor}.0") for minor in range(0, 30))
    return not python3 and allowed.contains("2.7.18")


def _download(request: str) -> Interpreter:
    """Let uv install a managed CPython for `request` (honouring UV_PYTHON_INSTALL_MIRROR)."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "automatic"}
    install = subprocess.run(
        [uv_binary(), "python", "install", request], capture_output=True, text=True, env=env
    )
    if install.returncode == 0:
        find = subprocess.run(
            [uv_binary(), "python", "find", "--managed-python", request],
            capture_output=True,
            text=True,
            env=env,
        )
        found = _probe(Path(find.stdout.strip())) if find.returncode == 0 else None
        if found:
            return found
    mirror = os.environ.get("UV_PYTHON_INSTALL_MIRROR", "uv's default download site")
    detail = " ".join(line.strip() for line in install.stderr.splitlines() if line.strip())
    raise PythonNotFoundError(
        f"Python {request} is not on this machine and downloading it from {mirror} failed "
        f"({detail[-300:]}): install it yourself, or set UV_PYTHON_INSTALL_MIRROR to a reachable mirror"
    )
