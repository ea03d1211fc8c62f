"""Creating a venv and installing a lock's PyPI packages into it with uv.

Online, uv fetches each `name==version` from the configured indexes and must find the exact
file whose sha256 the lock records. Offline (from a snapshot), it installs the local files.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import EnvironmentBuildError
from ..lock.model import LockedEnv
from ..resolve.indexes import IndexConfig, redact
from ..uvbin import uv_binary, uv_environment


def _run_uv(args: list[str], what: str, credentials: dict[str, str] | None = None) -> None:
    env = {**uv_environment(), **(credentials or {})}
    proc = subprocess.run([uv_binary(), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        detail = " ".join(line.strip() for line in proc.stderr.splitlines() if line.strip())
        raise EnvironmentBuildError(f"{what} failed: {redact(detail)}")


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
) -> None:
    """Install `env`'s PyPI packages into the environment of `python`, hashes enforced.

    With `package_dir` (a restored snapshot holding each artifact under its filename), nothing
    is fetched from any index. `refetch` names packages already installed whose files did not
    match their RECORD: their entries in uv's cache are dropped and they are installed again.
    """
    packages = env.by_kind("pypi")
    if not packages:
        return
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
        _run_uv(
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
            indexes.uv_credentials() if indexes else None,
        )


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
