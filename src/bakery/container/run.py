"""Run a `RunSpec` with `RUNTIME run --rm`: pull first, then run, output streamed or captured.

No command line holds a value of the container's environment, secret-looking or not: the run hands
them over through a private env file or the runtime's own environment (`bakery.container.envfile`), so
`ps` shows other users none of them. `command_line(spec)` is the argv `run_container` executes, with
`--env=NAME` for each variable where the run has its env file's path: safe to print and log.
`$BAKERY_CONTAINER_ARGS` (shell-split) is appended before the image for machine-specific flags,
e.g. `--ulimit nofile=1024:1024`.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ContainerError, ContainerRuntimeNotFoundError
from ..settings import current
from .envfile import env_handoff, names_only
from .pull import pull, runtime_image_name
from .runtime import ContainerRuntime, find_runtime
from .spec import RunSpec

logger = logging.getLogger(__name__)

EXTRA_ARGS_ENV = "BAKERY_CONTAINER_ARGS"
"""Extra arguments for every `run`, shell-split and appended after the spec's own."""

_STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class ContainerResult:
    """How a container run ended; `stdout`/`stderr` are None when the output was streamed."""

    exit_code: int
    stdout: str | None = None
    stderr: str | None = None

    @property
    def ok(self) -> bool:
        """True when the command exited with 0."""
        return self.exit_code == 0


def extra_args_from_env() -> list[str]:
    """`$BAKERY_CONTAINER_ARGS`, shell-split; a `ContainerError` if it cannot be split."""
    value = current().container_args or ""
    try:
        return shlex.split(value)
    except ValueError as error:
        raise ContainerError(
            f"cannot split {EXTRA_ARGS_ENV}={value!r} into arguments ({error}); fix its quoting"
        ) from None


def command_line(
    spec: RunSpec,
    *,
    runtime: ContainerRuntime | None = None,
    env_args: Sequence[str] | None = None,
) -> list[str]:
    """The `RUNTIME run --rm ...` argv for `spec`, holding no value of its environment.

    `env_args` are the options that hand the environment over (`EnvHandoff.args`); without them,
    `--env=NAME` for each variable, as a command line shown to a reader says it.
    """
    runtime = runtime or find_runtime()
    command = [runtime.executable, "run", "--rm", "--pull=never", f"--network={spec.network}"]
    if spec.name:
        command.append(f"--name={spec.name}")
    command.extend(f"--label={key}={value}" for key, value in sorted(spec.labels.items()))
    if spec.workdir:
        command.append(f"--workdir={spec.workdir}")
    command.extend(names_only(spec.env) if env_args is None else env_args)
    command.extend(f"--volume={mount.volume_argument()}" for mount in spec.mounts)
    command.extend(spec.extra_args)
    command.extend(extra_args_from_env())
    command.append(runtime_image_name(spec.image))
    command.extend(spec.command)
    return command


def display_command(spec: RunSpec, *, runtime: ContainerRuntime | None = None) -> str:
    """`command_line(spec)` as one shell-quoted line, for messages and `--dry-run` output."""
    return shlex.join(command_line(spec, runtime=runtime))


def run_container(
    spec: RunSpec,
    *,
    stream: bool = True,
    pull_first: bool = True,
    runtime: ContainerRuntime | None = None,
) -> ContainerResult:
    """Pull `spec.image` (unless `pull_first=False`), run the command, return how it ended.

    With `stream=True` the container's stdout/stderr go straight to this process's, live; otherwise
    they are captured into the result. The exit code is the command's (podman/docker use 125-127 for
    their own failures). Pull failures raise a `ContainerImageError` subclass before anything runs.
    """
    runtime = runtime or find_runtime()
    _check_mounts(spec)
    if pull_first:
        pull(spec.image, runtime=runtime)
    with env_handoff(spec.env) as handoff:
        command = command_line(spec, runtime=runtime, env_args=handoff.args)
        logger.info("running %s", shlex.join(command))
        return _run(command, {**os.environ, **handoff.runtime_env}, stream, runtime)


def _run(
    command: list[str], env: dict[str, str], stream: bool, runtime: ContainerRuntime
) -> ContainerResult:
    output = None if stream else subprocess.PIPE
    try:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output, text=True
        )
    except OSError as error:
        raise ContainerRuntimeNotFoundError(
            f"cannot run {runtime.kind} at {runtime.executable} ({error.strerror}); install podman "
            "or docker, or set BAKERY_CONTAINER_RUNTIME to a working one"
        ) from None
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        # Interrupted: stop the runtime (it stops the container, and --rm removes it) before leaving.
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    return ContainerResult(exit_code=process.returncode, stdout=stdout, stderr=stderr)


def _check_mounts(spec: RunSpec) -> None:
    for mount in spec.mounts:
        if not mount.host_path.exists():
            raise ContainerError(
                f"cannot mount {mount.host_path} into the container for image {spec.image} at "
                f"{mount.container_path}: it does not exist on this machine; create it or fix the path"
            )
