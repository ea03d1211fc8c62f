"""`uv.lock`: a uv project's lock, exported by uv itself for the groups a step names.

`uv export --frozen --format pylock.toml` turns the project's lock into the PEP 751 form
without resolving anything (no index is contacted): the project's dependencies plus the
`groups=` a step names (extras or dependency groups of the pyproject.toml beside the lock,
never uv's default `dev` group unless named), without the project itself or its workspace
members. `pylock.py` then picks each package's artifact for the step's platform.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name

from ..errors import SourceFileError
from ..uvbin import uv_binary, uv_environment
from .pyproject import load_toml, project_groups


def export_uv_lock(lock_path: Path, groups: tuple[str, ...], where: str) -> str:
    """The pylock.toml text of the uv project whose lock is `lock_path`, for `groups`."""
    project = lock_path.parent / "pyproject.toml"
    try:
        data = load_toml(project.read_text(), f"{where}'s pyproject.toml")
    except OSError:
        raise SourceFileError(
            f"{where} has no pyproject.toml beside it: uv.lock is read with its project "
            "(the folder `uv lock` ran in)"
        ) from None
    extras, dependency_groups = project_groups(data)
    args = []
    for group in groups:
        name = canonicalize_name(group)
        if name in extras:
            args += ["--extra", group]
        elif name in dependency_groups:
            args += ["--group", group]
        else:
            known = ", ".join(sorted({*extras, *dependency_groups})) or "none"
            raise SourceFileError(
                f"{where}: group '{group}' is neither an extra nor a dependency group of "
                f"{project.name} (it has: {known})"
            )
    with tempfile.TemporaryDirectory(prefix="bakery-uv-export-") as tmp:
        out = Path(tmp) / "pylock.toml"
        cmd = [
            uv_binary(),
            "export",
            "--frozen",
            "--format",
            "pylock.toml",
            "--no-default-groups",
            "--no-emit-workspace",
            "--no-header",
            "--quiet",
            "--project",
            str(lock_path.parent),
            "-o",
            str(out),
            *args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=uv_environment())
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise SourceFileError(
                f"{where} cannot be exported by uv ({reason}); check it with `uv lock --check`"
            )
        return out.read_text()
