"""The interpreter a remote Bakery task runs: its locked environment and the code package, and
nothing of the image's own Python setup.

An image may set `PYTHONPATH` (Bakery's baked images do, so do many ML images), `PYTHONHOME`,
`PYTHONUSERBASE`, or carry packages and `.pth` files in its interpreter's site-packages. A task
of a step with a locked environment must import exactly the locked packages whatever the image
says, so the step command runs:

- on `ENV_LINK/bin/python`, a venv whose only site folder is the locked environment (the
  snapshot bootstrap builds a real one; for an image baked by Bakery, `link_baked_env` lays a
  venv over the image's `/opt/bakery/env`). A venv without system site-packages leaves out the
  base interpreter's site-packages and their `.pth` files, and its own `.pth` files still run;
- with `PYTHONPATH` rebuilt to the code package's folders only (Metaflow, the extensions and
  the flow come from there, ahead of the environment, as core Metaflow puts them), and
  `PYTHONHOME`/`PYTHONUSERBASE` unset with `PYTHONNOUSERSITE=1`, exported so that every Python
  process the task starts (the user's subprocesses, Metaflow's own) sees the same.

The code package's folders are recorded by `record_code_pythonpath`, appended to the commands
that extract the package (they come first), and the image's environment is left as it is until
then: downloading the package and the snapshot bootstrap run on the image's own Python.

    python -m metaflow_extensions.bakery.plugins.task_interpreter LINK [ENV_ROOT]

makes `LINK` for an image baked by Bakery (run by the image's `python3`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_LINK = "bakery-env"
"""Where a remote task's environment is linked, relative to the task's working directory."""

BAKED_ENV_ROOT = "/opt/bakery/env"
"""Where Bakery's images hold the environment (`bakery.image.wheel.ENV_ROOT`)."""

CODE_PYTHONPATH = "BAKERY_CODE_PYTHONPATH"
"""The variable that carries the code package's PYTHONPATH entries from extraction to the step."""


def record_code_pythonpath(code_package_metadata: str | None) -> str:
    """The shell command that records the PYTHONPATH entries of the extracted code package, as
    core Metaflow computes them (`MetaflowPackage.get_post_extract_env_vars`), without the
    image's own entries that Metaflow appends to them."""
    from . import compat

    entries = compat.code_package_pythonpath(code_package_metadata, "$(pwd)")
    return "export %s=%s" % (CODE_PYTHONPATH, entries)


def isolation_commands() -> list[str]:
    """Shell commands, run after the bootstrap and before the step, that give the task the
    locked environment and the code package and nothing else (see the module doc). Without a
    recorded code path (a launcher that extracted the package some other way), PYTHONPATH is
    kept as it is rather than losing Metaflow."""
    return [
        "export PATH=$(pwd)/%s/bin:$PATH" % ENV_LINK,
        "export PYTHONPATH=${%s-$PYTHONPATH}" % CODE_PYTHONPATH,
        "unset PYTHONHOME PYTHONUSERBASE",
        "export PYTHONNOUSERSITE=1",
    ]


def executable() -> str:
    """The step's interpreter, relative to the task's working directory."""
    return "%s/bin/python -s" % ENV_LINK


def link_baked_env(link: Path, env_root: Path = Path(BAKED_ENV_ROOT)) -> Path:
    """Make `link` the interpreter of an image's baked environment: the environment itself
    when it brings its own Python (conda), else a venv over the running interpreter (the
    base's, which the environment's `bin/python3` may link to) whose site-packages are the
    environment's."""
    if link.is_symlink() or link.exists():
        raise FileExistsError(f"{link} exists: the task's environment is linked once")
    if _brings_own_python(env_root):
        link.symlink_to(env_root, target_is_directory=True)
        return link
    base = Path(os.path.realpath(sys.executable))
    (link / "bin").mkdir(parents=True)
    # `lib` is the environment's: lib/pythonX.Y/site-packages is then the venv's site folder
    (link / "lib").symlink_to(env_root / "lib", target_is_directory=True)
    names = {"python", "python3", base.name, "python%d.%d" % sys.version_info[:2]}
    for name in sorted(names):
        (link / "bin" / name).symlink_to(base)
    (link / "pyvenv.cfg").write_text(
        "home = %s\ninclude-system-site-packages = false\nversion = %d.%d.%d\n"
        % ((base.parent,) + tuple(sys.version_info[:3]))
    )
    return link


def _brings_own_python(env_root: Path) -> bool:
    """Whether the environment's `bin/python3` is an interpreter of its own (conda), not a link
    to the base's (Bakery links `python`/`python3` to it for PyPI environments)."""
    python = env_root / "bin" / "python3"
    if not python.exists():
        return False
    root = os.path.realpath(env_root)
    return os.path.realpath(python).startswith(root.rstrip("/") + "/")


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m %s LINK [ENV_ROOT]" % __spec__.name, file=sys.stderr)
        return 2
    link_baked_env(Path(argv[0]), *(Path(a) for a in argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
