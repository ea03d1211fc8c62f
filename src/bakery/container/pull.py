"""Pull a task's image with the runtime before the task starts, so a pull failure is a clear error.

- TLS: registries that Bakery's own client talks plain HTTP to (loopback, `$BAKERY_INSECURE_REGISTRIES`;
  `bakery.registry.client.is_insecure_registry`) are pulled with podman's `--tls-verify=false`. Docker has
  no per-pull switch: its daemon's `insecure-registries` setting decides (loopback is allowed by default).
- Credentials: see `bakery.container.credentials`.
- An image referenced by digest that is already in local storage is not pulled again: a digest cannot
  change. Tags are always pulled, so a moved tag is picked up.
"""

from __future__ import annotations

import logging
import os
import subprocess

from ..errors import ContainerRuntimeNotFoundError
from ..registry.client import is_insecure_registry
from ..registry.reference import ImageReference
from .credentials import RuntimeAuth, runtime_auth
from .pull_errors import classify_pull_failure
from .runtime import ContainerRuntime, find_runtime

logger = logging.getLogger(__name__)


def runtime_image_name(image: str | ImageReference) -> str:
    """The fully qualified name to give the runtime (`name@digest` when pinned: no tag+digest mix)."""
    reference = image if isinstance(image, ImageReference) else ImageReference.parse(image)
    if reference.digest:
        return f"{reference.name}@{reference.digest}"
    return str(reference)


def pull_command(
    runtime: ContainerRuntime, image: str | ImageReference, auth: RuntimeAuth | None = None
) -> list[str]:
    """The `RUNTIME pull ...` command line for `image` (credentials only as an `--authfile` path)."""
    reference = image if isinstance(image, ImageReference) else ImageReference.parse(image)
    command = [runtime.executable, "pull"]
    if runtime.is_podman:
        command.append("--quiet")
        if is_insecure_registry(reference.registry):
            command.append("--tls-verify=false")
    command.extend(auth.args if auth else ())
    command.append(runtime_image_name(reference))
    return command


def image_exists(image: str | ImageReference, *, runtime: ContainerRuntime | None = None) -> bool:
    """True when `image` is in the runtime's local storage."""
    runtime = runtime or find_runtime()
    name = runtime_image_name(image)
    if runtime.is_podman:
        command = [runtime.executable, "image", "exists", name]
    else:
        command = [runtime.executable, "image", "inspect", "--format", "{{.Id}}", name]
    done = _run_runtime(runtime, command, env=None)
    return done.returncode == 0


def pull(image: str | ImageReference, *, runtime: ContainerRuntime | None = None) -> str:
    """Make `image` available locally; return the name the runtime knows it by.

    Raises `ContainerImageNotFoundError`, `ContainerRegistryAuthError`,
    `ContainerRegistryUnreachableError` (or `ContainerImageError`) with the runtime's message condensed.
    """
    reference = image if isinstance(image, ImageReference) else ImageReference.parse(image)
    runtime = runtime or find_runtime()
    name = runtime_image_name(reference)
    if reference.digest and image_exists(reference, runtime=runtime):
        logger.debug("image %s is present locally; not pulling it", name)
        return name
    with runtime_auth(runtime, reference.registry) as auth:
        command = pull_command(runtime, reference, auth)
        logger.info("pulling %s with %s", name, runtime.kind)
        done = _run_runtime(runtime, command, env={**os.environ, **auth.env} if auth.env else None)
    if done.returncode != 0:
        raise classify_pull_failure(name, reference.registry, done.stderr, runtime=runtime.kind)
    return name


def _run_runtime(
    runtime: ContainerRuntime, command: list[str], *, env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
        )
    except OSError as error:
        raise ContainerRuntimeNotFoundError(
            f"cannot run {runtime.kind} at {runtime.executable} ({error.strerror}); install podman "
            "or docker, or set BAKERY_CONTAINER_RUNTIME to a working one"
        ) from None
