"""Bytecode for new environments, so tasks do not recompile every module they import.

Compiling a pandas environment takes seconds; uv installs it in one. So by default a new
environment is compiled by a detached background process right after it is made: creation
stays as fast as uv, and later tasks import from `.pyc` files (Python does not write them
itself where PYTHONDONTWRITEBYTECODE is set). `BAKERY_COMPILE_BYTECODE` = `background`
(default), `sync` (wait for it) or `never`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..settings import current

MODES = ("background", "sync", "never")


def compile_mode() -> str:
    """`BAKERY_COMPILE_BYTECODE` of this process's settings."""
    return current().compile_bytecode


def compile_environment(env_dir: Path, mode: str | None = None) -> None:
    """Compile the environment's site-packages (timestamp `.pyc`: the files stay in place)."""
    mode = mode or compile_mode()
    if mode == "never":
        return
    python = env_dir / "bin" / "python"
    targets = [str(p) for p in env_dir.glob("lib/python*/site-packages")]
    if not targets or not python.exists():
        return
    # packages' own test suites are never imported by tasks: half the files, no benefit
    cmd = [str(python), "-m", "compileall", "-q", "-j0", "-x", r"/tests/", *targets]
    if mode == "sync":
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return
    subprocess.Popen(
        ["nice", "-n", "10", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # outlives the run that created the environment
    )
