"""Bytecode for new environments, so tasks do not recompile every module they import.

Compiling a pandas environment takes seconds; uv installs it in one. So by default a new
environment is compiled by a detached background process right after it is made: creation
stays as fast as uv, and later tasks import from `.pyc` files (Python does not write them
itself where PYTHONDONTWRITEBYTECODE is set). That process compiles first what the step's
task will import first, the modules of the packages its decorator names and what they import
at module level, in import order and on every core (`import_compile.py`), so a first task
started at once finds most of its imports compiled; then the rest. `BAKERY_COMPILE_BYTECODE`
= `background` (default), `sync` (wait for it) or `never`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from ..settings import current
from . import import_compile

MODES = ("background", "sync", "never")


def compile_mode() -> str:
    """`BAKERY_COMPILE_BYTECODE` of this process's settings."""
    return current().compile_bytecode


def compile_environment(env_dir: Path, mode: str | None = None, first: Iterable[str] = ()) -> None:
    """Compile the environment's site-packages (timestamp `.pyc`: the files stay in place),
    the modules of the distributions named in `first` (the step's packages) first."""
    mode = mode or compile_mode()
    if mode == "never":
        return
    python = env_dir / "bin" / "python"
    targets = [str(p) for p in env_dir.glob("lib/python*/site-packages")]
    if not targets or not python.exists():
        return
    # the environment's own interpreter: the .pyc files must be its version's
    names = sorted({name.split("[", 1)[0] for name in first})
    cmd = [str(python), "-I", "-B", import_compile.__file__, targets[0], *names]
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
