"""Bytecode for new environments, so tasks do not recompile every module they import.

Compiling a pandas environment takes seconds; uv installs it in one. So by default a new
environment is compiled by a detached background process right after it is made: creation
stays as fast as uv, and later tasks import from `.pyc` files (Python does not write them
itself where PYTHONDONTWRITEBYTECODE is set). That process first links in the bytecode
earlier environments compiled for the very same files (`shared_bytecode.py`), then compiles
what the step's task will import first: what the step's code imports, the modules of the
packages its decorator names and what they import at module level, in import order and on
every core (`import_compile.py`), so a first task started at once finds most of its imports
compiled; then the rest; once sealed, its own bytecode goes to the shared store in turn.
`BAKERY_COMPILE_BYTECODE` = `background` (default), `sync` (wait for it) or `never`.

No package record lists bytecode, and Python runs a `.pyc` whose header matches its source
without reading the source: so once compiled, every `.pyc` is hashed into `.bakery-bytecode.json`
and made read-only, and `bakery env verify` (and each use, by size and mtime) compares them.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..settings import current
from . import import_compile, shared_bytecode
from .records import file_digest

MODES = ("background", "sync", "never")
BYTECODE_SEAL = ".bakery-bytecode.json"


def compile_mode() -> str:
    """`BAKERY_COMPILE_BYTECODE` of this process's settings."""
    return current().compile_bytecode


def compile_environment(
    env_dir: Path,
    mode: str | None = None,
    first: Iterable[str] = (),
    modules: Sequence[str] = (),
) -> None:
    """Compile the environment's site-packages (timestamp `.pyc`: the files stay in place):
    first the `modules` the step's code imports, in order, and the modules of the
    distributions named in `first` (the step's packages), then the rest; then record what was
    compiled."""
    mode = mode or compile_mode()
    if mode == "never":
        return
    names = sorted({name.split("[", 1)[0] for name in first})
    if modules:
        names = ["--modules", ",".join(modules), *names]
    if mode == "sync":
        compile_and_record(env_dir, names)
        return
    subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-m", "bakery.envs.bytecode", str(env_dir), *names],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # outlives the run that created the environment
    )


def compile_and_record(env_dir: Path, first: Iterable[str] = ()) -> None:
    """Compile with the environment's own interpreter (the .pyc files must be its version's),
    import order first (`first`: import_compile's arguments after the site), then seal the
    bytecode it wrote."""
    python = env_dir / "bin" / "python"
    targets = [str(p) for p in env_dir.glob("lib/python*/site-packages")]
    if not targets or not python.exists():
        return
    store = shared_bytecode.store_of(env_dir)
    if store is not None:  # what earlier environments compiled for the same files
        shared_bytecode.link_shared(env_dir, store)
    cmd = [str(python), "-I", "-B", import_compile.__file__, targets[0], *first]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    record_bytecode(env_dir)
    if store is not None:
        shared_bytecode.publish(env_dir, store)


def record_bytecode(env_dir: Path) -> None:
    """Hash every `__pycache__/*.pyc` of the environment into its bytecode seal, read-only."""
    rows = []
    for folder, _, files in os.walk(env_dir):
        if os.path.basename(folder) != "__pycache__":
            continue
        for name in files:
            if not name.endswith(".pyc"):
                continue
            full = os.path.join(folder, name)
            info = os.lstat(full)
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_mode & 0o222:  # chmod changes neither size nor mtime
                os.chmod(full, stat.S_IMODE(info.st_mode) & ~0o222)
            rel = os.path.relpath(full, env_dir).replace(os.sep, "/")
            rows.append([rel, info.st_size, info.st_mtime_ns, file_digest(Path(full))])
    tmp = env_dir / f"{BYTECODE_SEAL}.{os.getpid()}"
    tmp.write_text(json.dumps({"version": 1, "pyc": sorted(rows)}, separators=(",", ":")))
    os.replace(tmp, env_dir / BYTECODE_SEAL)


def read_bytecode_seal(env_dir: Path) -> dict[str, list]:
    """rel path -> [size, mtime_ns, sha256] of the recorded bytecode (empty if none yet)."""
    try:
        data = json.loads((env_dir / BYTECODE_SEAL).read_text())
        return {row[0]: row[1:] for row in data["pyc"]} if data.get("version") == 1 else {}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return {}


if (
    __name__ == "__main__"
):  # the background compile: `python -m bakery.envs.bytecode ENV_DIR [--modules M,..] [DIST ...]`
    compile_and_record(Path(sys.argv[1]), sys.argv[2:])
