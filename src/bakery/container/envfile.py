"""Hand a container its environment without any command line holding a value.

Every user of a machine can read every process's argv (`ps`, /proc/PID/cmdline), so no value
goes there, secret-looking or not: the runtime gets `--env-file=FILE` (a 0600 file in a private
0700 folder, removed as soon as the run ends) and, for the values that file cannot carry,
`--env=NAME` with the value in the runtime's own environment, which only its owner can read.

An env file is one `NAME=VALUE` line per variable, read literally by both runtimes (no quoting,
no escapes), so it cannot carry a value that has a line break, that is longer than the line
their parsers accept (Go's 64 KiB `bufio.Scanner` token), or that starts and ends with the same
quote (newer docker CLIs strip such quotes). Those take the environment route instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ENV_FILE_LINE_LIMIT = 60_000
"""Bytes a line of the env file may have: under the runtimes' 64 KiB line limit, with room."""


@dataclass(frozen=True)
class EnvHandoff:
    """How one run gets its environment: runtime arguments (names and a file path, no values)
    and the variables to add to the runtime's own environment."""

    args: tuple[str, ...] = ()
    runtime_env: dict[str, str] = field(default_factory=dict)
    env_file: Path | None = None


def fits_env_file(name: str, value: str) -> bool:
    """Whether podman and docker both read `NAME=value` back from an env file unchanged."""
    if "\n" in value or "\r" in value:
        return False
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return False
    try:
        line = f"{name}={value}\n".encode()  # docker refuses a file that is not UTF-8
    except UnicodeEncodeError:
        return False
    return len(line) <= ENV_FILE_LINE_LIMIT


def names_only(env: Mapping[str, str]) -> tuple[str, ...]:
    """`--env=NAME` for each variable: what a shown command line says of the environment."""
    return tuple(f"--env={name}" for name in env)


@contextmanager
def env_handoff(env: Mapping[str, str]) -> Iterator[EnvHandoff]:
    """Write the env file for `env` (if any value fits one) and yield the handoff; the file
    and its folder are removed when the block ends, however it ends."""
    in_file = {name: value for name, value in env.items() if fits_env_file(name, value)}
    inherited = {name: value for name, value in env.items() if name not in in_file}
    through_environment = names_only(inherited)
    if not in_file:
        yield EnvHandoff(through_environment, inherited)
        return
    directory = tempfile.mkdtemp(prefix="bakery-env-")  # 0700: only this user can list it
    try:
        path = Path(directory) / "env"
        _write_private(path, "".join(f"{name}={value}\n" for name, value in in_file.items()))
        yield EnvHandoff((f"--env-file={path}", *through_environment), inherited, path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
