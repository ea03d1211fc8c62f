"""Which container runtime runs tasks: podman, else docker, unless `$BAKERY_CONTAINER_RUNTIME` says.

`BAKERY_CONTAINER_RUNTIME` is `podman`, `docker` (looked up on PATH) or a path to an executable; a path
whose file name starts with `docker` is driven as docker, anything else as podman (podman-remote, a
wrapper script).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import ContainerRuntimeNotFoundError
from ..settings import current

RUNTIME_ENV = "BAKERY_CONTAINER_RUNTIME"
"""Environment variable that picks the runtime: `podman`, `docker` or a path to an executable."""

RuntimeKind = Literal["podman", "docker"]

_SEARCH_ORDER: tuple[RuntimeKind, ...] = ("podman", "docker")


@dataclass(frozen=True)
class ContainerRuntime:
    """A container runtime executable and the command-line dialect it speaks."""

    kind: RuntimeKind
    executable: str

    @property
    def is_podman(self) -> bool:
        """True when the runtime speaks podman's dialect (`--tls-verify`, `--authfile`)."""
        return self.kind == "podman"


def find_runtime() -> ContainerRuntime:
    """The runtime to use: `$BAKERY_CONTAINER_RUNTIME` if set, else podman, else docker, on PATH.

    Raises `ContainerRuntimeNotFoundError` naming what was looked for and how to fix it.
    """
    override = current().container_runtime or ""
    if override:
        return _runtime_from_override(override)
    for kind in _SEARCH_ORDER:
        executable = shutil.which(kind)
        if executable is not None:
            return ContainerRuntime(kind=kind, executable=executable)
    raise ContainerRuntimeNotFoundError(
        "no container runtime found: neither `podman` nor `docker` is on PATH; install podman "
        f"(recommended) or docker, or set {RUNTIME_ENV} to the path of one"
    )


def _runtime_from_override(value: str) -> ContainerRuntime:
    if value in _SEARCH_ORDER:
        executable = shutil.which(value)
        if executable is None:
            raise ContainerRuntimeNotFoundError(
                f"{RUNTIME_ENV}={value} but `{value}` is not on PATH; install it, or point "
                f"{RUNTIME_ENV} at its full path (or unset it to use whichever of podman/docker exists)"
            )
        return ContainerRuntime(kind=value, executable=executable)
    path = Path(value).expanduser()
    if os.sep not in value and shutil.which(value) is not None:
        path = Path(shutil.which(value) or value)
    if not path.is_file() or not os.access(path, os.X_OK):
        problem = "is not an executable file" if path.exists() else "does not exist"
        raise ContainerRuntimeNotFoundError(
            f"{RUNTIME_ENV}={value}: {path} {problem}; set it to `podman`, `docker` or the path of "
            "an installed podman or docker executable (or unset it)"
        )
    kind: RuntimeKind = "docker" if path.name.startswith("docker") else "podman"
    return ContainerRuntime(kind=kind, executable=str(path))
