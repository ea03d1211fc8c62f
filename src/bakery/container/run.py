"""Run a `RunSpec` with `RUNTIME run --rm`: pull first, then run, output streamed or captured.

`command_line(spec)` is exactly the argv that `run_container` executes; it holds no secret values
(secret-looking variables are passed as `--env NAME`, their values through the runtime's environment),
so it is safe to print and log. `$BAKERY_CONTAINER_ARGS` (shell-split) is appended before the image for
machine-specific flags, e.g. `--ulimit nofile=1024:1024`.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from dataclasses import dataclass

from ..errors import ContainerError, ContainerRuntimeNotFoundError
from ..settings import current
from .pull import pull, runtime_image_name
from .runtime import ContainerRuntime, find_runtime
from .spec import RunSpec, is_secret_name

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


def command_line(spec: RunSpec, *, runtime: ContainerRuntime | None = None) -> list[str]:
    """The exact `RUNTIME run --rm ...` argv for `spec`; holds no secret values."""
    runtime = runtime or find_runtime()
    command = [runtime.executable, "run", "--rm", "--pull=never", f"--network={spec.network}"]
    if spec.name:
        command.append(f"--name={spec.name}")
    command.extend(f"--label={key}={value}" for key, value in sorted(spec.labels.items()))
    if spec.workdir:
        command.append(f"--workdir={spec.workdir}")
    for name, value in spec.env.items():
        # A secret's value reaches the container through the runtime's environment, not argv.
        command.append(f"--env={name}" if is_secret_name(name) else f"--env={name}={value}")
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
    command = command_line(spec, runtime=runtime)
    logger.info("running %s", shlex.join(command))
    env = {**os.environ, **spec.secret_env}
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
