"""What to run in a container: `RunSpec` (image, command, environment, mounts, network) and `Mount`.

Environment variables whose names look like secrets (`is_secret_name`) are never shown: `RunSpec`'s repr
redacts them. No value of any variable appears on a command line, in `ps` or in a log message: the runner
hands them over through a private env file or the runtime's environment (`bakery.container.envfile`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ContainerError

REDACTED = "<redacted>"
"""What a secret value is replaced with in messages."""

SECRET_NAME_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "PRIVATE")
"""A variable whose upper-cased name contains one of these is treated as a secret."""

DEFAULT_NETWORK = "host"
"""Host networking, so loopback services (a local S3, registry or metadata service) stay reachable."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def is_secret_name(name: str) -> bool:
    """True when an environment variable called `name` probably holds a secret."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_NAME_MARKERS)


def redacted_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the values of secret-looking names replaced by `REDACTED`, safe to log."""
    return {name: REDACTED if is_secret_name(name) else value for name, value in env.items()}


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted into the container, read-only unless asked otherwise."""

    host_path: Path
    container_path: str
    read_only: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "host_path", Path(self.host_path))
        for label, path in (("host", str(self.host_path)), ("container", self.container_path)):
            if ":" in path or "," in path:
                raise ContainerError(
                    f"cannot mount {self.host_path} at {self.container_path}: the {label} path "
                    "contains ':' or ',', which container runtimes cannot bind-mount; rename it"
                )
        if not self.container_path.startswith("/"):
            raise ContainerError(
                f"cannot mount {self.host_path} at {self.container_path!r}: the container path "
                "must be absolute (start with '/')"
            )

    def volume_argument(self) -> str:
        """The `--volume` value: `HOST:CONTAINER:ro` or `HOST:CONTAINER:rw`."""
        mode = "ro" if self.read_only else "rw"
        return f"{self.host_path.resolve()}:{self.container_path}:{mode}"


@dataclass(frozen=True, repr=False)
class RunSpec:
    """One container run: the image, the command, and what the container sees of the host."""

    image: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    workdir: str | None = None
    network: str = DEFAULT_NETWORK
    extra_args: tuple[str, ...] = ()
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept lists and dicts from callers, but keep the stored value immutable in practice.
        object.__setattr__(self, "command", _strings("command", self.command))
        object.__setattr__(self, "mounts", tuple(self.mounts))
        object.__setattr__(self, "extra_args", _strings("extra_args", self.extra_args))
        object.__setattr__(self, "env", {name: str(value) for name, value in self.env.items()})
        object.__setattr__(self, "labels", dict(self.labels))
        if not self.image.strip():
            raise ContainerError("cannot run a container without an image: give RunSpec an image")
        for name, value in self.env.items():
            if not _ENV_NAME.fullmatch(name):
                raise ContainerError(
                    f"invalid environment variable name {name!r} for image {self.image}: use "
                    "letters, digits and '_' (not starting with a digit)"
                )
            if "\0" in value:
                raise ContainerError(
                    f"the value of environment variable {name} for image {self.image} holds a NUL "
                    "character, which no process environment can carry; remove it"
                )
        if self.workdir is not None and not self.workdir.startswith("/"):
            raise ContainerError(
                f"working directory {self.workdir!r} for image {self.image} must be absolute"
            )

    def __repr__(self) -> str:
        return (
            f"RunSpec(image={self.image!r}, command={self.command!r}, "
            f"env={redacted_env(self.env)!r}, mounts={self.mounts!r}, workdir={self.workdir!r}, "
            f"network={self.network!r}, extra_args={self.extra_args!r}, name={self.name!r}, "
            f"labels={self.labels!r})"
        )


def _strings(what: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise ContainerError(
            f"RunSpec {what} must be a list of arguments, not the string {values!r}; "
            "split it (e.g. with shlex.split) first"
        )
    return tuple(str(value) for value in values)
