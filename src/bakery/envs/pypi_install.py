"""Creating a venv and installing a lock's PyPI packages into it with uv.

Online, uv fetches each `name==version` from the configured indexes and must find the exact
file whose sha256 the lock records. Offline (from a snapshot), it installs the local files.

`install_pypi` also says which packages uv did not find in its cache: those it downloaded from
an index, checked against the lock's sha256 and unpacked in this very command, so their files
need no hashing again (`build_check.py`). uv's installer says so in its debug log ("Identified
uncached distribution: NAME==VERSION"), which `RUST_LOG` turns on for that part of uv alone; a
uv that words it otherwise only costs hashing every file, as for packages from its cache. Wheels
from files (a snapshot) are left out: their RECORD is checked against what they hold.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import EnvironmentBuildError
from ..lock.model import LockedEnv
from ..resolve.indexes import IndexConfig, redact
from ..uvbin import uv_binary, uv_environment
from .records import canonical_name

# the debug log of uv's installer alone: its plan names each package it must fetch
_PLAN_LOG = {"RUST_LOG": "uv_installer=debug"}
_UNCACHED = re.compile(
    r"^DEBUG (?:\S+ )?Identified uncached distribution: (?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==",
    re.MULTILINE,
)


def _run_uv(
    args: list[str], what: str, credentials: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**uv_environment(), **(credentials or {})}
    proc = subprocess.run([uv_binary(), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        detail = " ".join(
            line.strip()
            for line in proc.stderr.splitlines()
            if line.strip() and not line.startswith(("DEBUG ", "TRACE "))
        )
        raise EnvironmentBuildError(f"{what} failed: {redact(detail)}")
    return proc


def uncached_in(log: str) -> set[str]:
    """Names of the index distributions (`name==version`) uv's debug log says it fetched rather
    than took from its cache (canonical: lower case, runs of `-_.` as `-`)."""
    return {canonical_name(m["name"]) for m in _UNCACHED.finditer(log)}


def create_venv(dest: Path, python: str | Path) -> Path:
    """A relocatable venv at `dest` on interpreter `python`; returns its interpreter path."""
    _run_uv(
        ["venv", "--quiet", "--relocatable", "--no-project", "--python", str(python), str(dest)],
        f"creating a virtualenv with {python}",
    )
    return dest / "bin" / "python"


def install_pypi(
    env: LockedEnv,
    python: Path,
    *,
    indexes: IndexConfig | None = None,
    package_dir: Path | None = None,
    refetch: Sequence[str] = (),
) -> set[str]:
    """Install `env`'s PyPI packages into the environment of `python`, hashes enforced; returns
    the (canonical) names of those uv fetched from an index and checked now rather than took from
    its cache.

    With `package_dir` (a restored snapshot holding each artifact under its filename), nothing
    is fetched from any index. `refetch` names packages already installed whose files did not
    match their RECORD: their entries in uv's cache are dropped and they are installed again.
    """
    packages = env.by_kind("pypi")
    if not packages:
        return set()
    again: list[str] = []
    for name in refetch:
        again += ["--reinstall-package", name]
    if refetch and not _drop_from_uv_cache(refetch):
        again.append("--no-cache")  # the cache is busy: install around it, from a fresh download
    lines = []
    for package in packages:
        if package_dir is not None:
            path = package_dir / package.filename
            if not path.is_file():
                raise EnvironmentBuildError(
                    f"{package.filename} is missing from the package snapshot"
                )
            lines.append(f"{path} --hash=sha256:{package.sha256}")
        else:
            lines.append(f"{package.name}=={package.version} --hash=sha256:{package.sha256}")
    indexes = None if package_dir is not None else indexes or IndexConfig.from_environment()
    source = indexes.uv_args() if indexes else ["--no-index", "--offline"]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="bakery-req-") as req:
        req.write("\n".join(lines) + "\n")
        req.flush()
        done = _run_uv(
            [
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                "--no-deps",
                "--require-hashes",
                "-r",
                req.name,
                *source,
                *again,
            ],
            f"installing {len(packages)} PyPI packages",
            {**(indexes.uv_credentials() if indexes else {}), **_PLAN_LOG},
        )
    return set() if package_dir is not None else uncached_in(done.stderr)


def _drop_from_uv_cache(names: Sequence[str]) -> bool:
    """Remove every entry of `names` from uv's cache; False if uv could not (e.g. it waited
    too long for other uv processes using the cache to finish)."""
    try:
        proc = subprocess.run(
            [uv_binary(), "cache", "clean", "--quiet", *names],
            capture_output=True,
            env=uv_environment(),
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0
