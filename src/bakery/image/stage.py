"""Staging: install a locked environment's PyPI packages for the image's target, one tree each.

uv installs the exact locked wheels (`name @ url --hash=...`, `--no-deps`, `--require-hashes`)
for the target's Python minor and platform, which need not be the host's. The install is then
split by each wheel's RECORD into one tree per package, so each package can become (part of) a
layer of its own, and each tree is cached by (wheel sha256, python minor, platform): a re-bake
reinstalls nothing. Bytecode is compiled with a host interpreter of the same minor using
unchecked-hash `.pyc` files, which stay valid whatever mtime the layer gives their sources.

Image layout (relative to `/`)::

    opt/bakery/env/bin/                          console scripts, `#!/usr/bin/env pythonX.Y`
    opt/bakery/env/lib/pythonX.Y/site-packages/  packages and their __pycache__
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from ..errors import ImageError, PythonNotFoundError
from ..lock.model import LockedEnv, LockedPackage
from ..resolve.python import find_interpreter
from ..uvbin import uv_binary
from .layers import Tree

LAYOUT_VERSION = 2  # 2: no bytecode for packages' tests/ folders
ENV_ROOT = "opt/bakery/env"
_META = ".bakery-staged.json"


def site_packages_dir(python_minor: str) -> str:
    """Where packages live in the image, relative to `/`."""
    return f"{ENV_ROOT}/lib/python{python_minor}/site-packages"


@dataclass(frozen=True)
class StagedPackage:
    """One package's installed files for one target, cached under `root` (`site/` and `bin/`)."""

    package: LockedPackage
    key: str
    root: Path
    size: int
    compiled: bool

    @property
    def pin(self) -> str:
        return f"{self.package.name}=={self.package.version}"

    def trees(self, python_minor: str) -> tuple[Tree, ...]:
        trees = [Tree(self.root / "site", site_packages_dir(python_minor))]
        if (self.root / "bin").is_dir():
            trees.append(Tree(self.root / "bin", f"{ENV_ROOT}/bin"))
        return tuple(trees)


@dataclass(frozen=True)
class StageResult:
    """The staged packages in lock order, how many were installed now, and notes for the user."""

    packages: tuple[StagedPackage, ...]
    installed: int
    notes: tuple[str, ...] = ()


def find_python(minor: str) -> Path | None:
    """A host interpreter of Python `minor` (`3.11`) to compile bytecode with, or None."""
    try:
        return find_interpreter(minor).path
    except PythonNotFoundError:
        return None


def stage_key(package: LockedPackage, python_minor: str, uv_platform: str, compiled: bool) -> str:
    """Content key of a staged tree: equal keys hold equal files."""
    text = f"v{LAYOUT_VERSION}|{package.sha256}|{python_minor}|{uv_platform}|pyc={compiled}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def stage_env(env: LockedEnv, cache_dir: Path, *, uv: str | None = None) -> StageResult:
    """Install (or find cached) every PyPI package of `env` for its target; see module doc."""
    if env.by_kind("conda"):
        names = ", ".join(p.name for p in env.by_kind("conda"))
        raise ImageError(
            f"environment {env.short_id} has conda packages ({names}); images are baked from "
            "PyPI packages on a base image that provides Python: move them to @pypi"
        )
    python = find_python(env.python)
    notes = [] if python else [f"no Python {env.python} on this machine: bytecode not compiled"]
    platform = env.spec.platform.uv_platform
    staged_root = cache_dir / "staged"
    wanted = {}
    for package in sorted(env.by_kind("pypi"), key=lambda p: p.name):
        key = stage_key(package, env.python, platform, python is not None)
        wanted[package.name] = (package, key, staged_root / key)
    missing = [pkg for pkg, _key, root in wanted.values() if not (root / _META).is_file()]
    if missing:
        _install(missing, env, wanted, staged_root, python, uv)
    packages = tuple(_load(pkg, key, root) for pkg, key, root in wanted.values())
    return StageResult(packages, installed=len(missing), notes=tuple(notes))


def _load(package: LockedPackage, key: str, root: Path) -> StagedPackage:
    meta = json.loads((root / _META).read_text())
    return StagedPackage(package, key, root, meta["size"], meta["compiled"])


def _install(
    missing: Sequence[LockedPackage],
    env: LockedEnv,
    wanted: dict,
    staged_root: Path,
    python: Path | None,
    uv: str | None,
) -> None:
    staged_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=staged_root) as tmp:
        target = Path(tmp) / "target"
        _uv_install(missing, env, target, Path(tmp) / "requirements.txt", uv)
        trees = _split_by_record(target, missing, Path(tmp))
        for tree in trees.values():
            _rewrite_shebangs(tree / "bin", env.python)
        if python:
            _compile(python, trees.values(), site_packages_dir(env.python))
        for package, tree in trees.items():
            _finish(tree, wanted[package.name][2], compiled=python is not None)


def _uv_install(
    packages: Sequence[LockedPackage], env: LockedEnv, target: Path, reqs: Path, uv: str | None
) -> None:
    lines = [f"{p.name} @ {p.url} --hash=sha256:{p.sha256}" for p in packages]
    reqs.write_text("\n".join(lines) + "\n")
    command = [
        uv or uv_binary(),
        "pip",
        "install",
        "--quiet",
        "--target",
        str(target),
        "--python-version",
        env.python,
        "--python-platform",
        env.spec.platform.uv_platform,
        "--no-deps",
        "--require-hashes",
        "--no-build",
        "-r",
        str(reqs),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ImageError(
            f"installing {len(packages)} locked package(s) of environment {env.short_id} for "
            f"Python {env.python} on {env.spec.platform.uv_platform} failed:\n"
            f"{done.stderr.strip()}\nCheck that each locked artifact is a wheel for that target "
            "(re-run `bakery lock`), and that the package index is reachable."
        )


def _split_by_record(
    target: Path, packages: Sequence[LockedPackage], scratch: Path
) -> dict[LockedPackage, Path]:
    """Move each installed wheel's files (per its RECORD) into a tree of its own."""
    by_name = {canonicalize_name(p.name): p for p in packages}
    trees: dict[LockedPackage, Path] = {}
    for record in sorted(target.glob("*.dist-info/RECORD")):
        dist_name = record.parent.name[: -len(".dist-info")].rsplit("-", 1)[0]
        package = by_name.get(canonicalize_name(dist_name))
        if package is None:
            continue
        tree = scratch / f"tree-{len(trees)}"
        with record.open(newline="") as f:
            paths = [row[0] for row in csv.reader(f) if row]
        made: set[str] = set()
        for rel in paths:
            _move(str(target), rel, str(tree), made)
        trees[package] = tree
    lost = set(by_name.values()) - set(trees)
    if lost:
        names = ", ".join(sorted(p.name for p in lost))
        raise ImageError(f"uv installed no RECORD for {names}; its wheel may be malformed")
    return trees


def _move(target: str, rel: str, tree: str, made: set[str]) -> None:
    """Move one RECORD entry into `tree` (plain os calls: thousands of files per package)."""
    source = os.path.normpath(os.path.join(target, rel))
    if not source.startswith(target + os.sep):
        return  # outside the target (data files of foreign schemes)
    if not (os.path.islink(source) or os.path.isfile(source)):
        return  # listed but absent
    inner = source[len(target) + 1 :]
    if inner.startswith("bin" + os.sep):
        dest = os.path.join(tree, "bin", inner[4:])
    else:
        dest = os.path.join(tree, "site", inner)
    parent = os.path.dirname(dest)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    os.replace(source, dest)


def _rewrite_shebangs(bin_dir: Path, python_minor: str) -> None:
    """uv writes the host interpreter into scripts; the image's is found on PATH."""
    if not bin_dir.is_dir():
        return
    for script in sorted(bin_dir.iterdir()):
        data = script.read_bytes()
        if not data.startswith(b"#!") or b"python" not in data.split(b"\n", 1)[0]:
            continue
        rest = data.split(b"\n", 1)[1] if b"\n" in data else b""
        mode = script.stat().st_mode
        script.unlink()  # a new inode: uv may have hardlinked the file from its cache
        script.write_bytes(f"#!/usr/bin/env python{python_minor}\n".encode() + rest)
        script.chmod(mode)


_COMPILE = """
import compileall, os, sys, py_compile
from concurrent.futures import ProcessPoolExecutor
site = sys.argv[1]
jobs = []
for root in sys.argv[2:]:
    for dirpath, dirnames, filenames in os.walk(root):
        # packages' own test suites are shipped as sources but never imported by tasks
        dirnames[:] = sorted(d for d in dirnames if d != "tests")
        rel = os.path.relpath(dirpath, root)
        ddir = site if rel == "." else os.path.join(site, rel)
        jobs += [(os.path.join(dirpath, n), ddir) for n in sorted(filenames) if n.endswith(".py")]
def one(job):
    return compileall.compile_file(job[0], ddir=job[1], quiet=2,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
with ProcessPoolExecutor() as pool:
    list(pool.map(one, jobs, chunksize=64))
"""


def _compile(python: Path, trees, site_dir: str) -> None:
    """Compile all trees in one process pool; sources that do not compile are left as they are."""
    roots = [str(tree / "site") for tree in trees if (tree / "site").is_dir()]
    if not roots:
        return
    command = [str(python), "-c", _COMPILE, "/" + site_dir, *roots]
    subprocess.run(command, capture_output=True, check=False, env={**os.environ, "PYTHONPATH": ""})


def _finish(tree: Path, final: Path, *, compiled: bool) -> None:
    size = sum(
        os.lstat(os.path.join(folder, name)).st_size
        for folder, _, names in os.walk(tree)
        for name in names
    )
    (tree / "site").mkdir(exist_ok=True)
    (tree / _META).write_text(json.dumps({"size": size, "compiled": compiled}))
    try:
        os.replace(tree, final)
    except OSError:
        if not (final / _META).is_file():  # another bake finished it first otherwise
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tree, final)
