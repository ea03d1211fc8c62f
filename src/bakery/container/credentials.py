"""Hand Bakery's registry credentials to podman or docker without a command line or a log seeing them.

Only credentials from `$BAKERY_REGISTRY_USERNAME`/`$BAKERY_REGISTRY_PASSWORD` are handed over: the auth
files Bakery also reads (`podman login`, `docker login`) are the runtime's own, and it reads them itself.
They go into a private temporary directory (0700) holding an auth file (0600) — podman gets
`--authfile FILE`, docker gets `DOCKER_CONFIG=DIR` — removed as soon as the pull is done.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..registry.auth import PASSWORD_ENV, USERNAME_ENV, Credentials, find_credentials
from ..registry.reference import DOCKER_HUB_REGISTRY
from .runtime import ContainerRuntime

_DOCKER_HUB_KEYS = ("docker.io", "https://index.docker.io/v1/")


@dataclass(frozen=True)
class RuntimeAuth:
    """What to add to a runtime's pull: extra arguments and environment (no secrets in `args`)."""

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def env_credentials(registry: str) -> Credentials | None:
    """The credentials from Bakery's environment variables, or None when they are not both set."""
    if os.environ.get(USERNAME_ENV) and os.environ.get(PASSWORD_ENV) is not None:
        return find_credentials(registry)
    return None


@contextmanager
def runtime_auth(runtime: ContainerRuntime, registry: str) -> Iterator[RuntimeAuth]:
    """Yield how to give `runtime` the env-var credentials for `registry`; clean up afterwards."""
    credentials = env_credentials(registry)
    if credentials is None:
        yield RuntimeAuth()
        return
    directory = tempfile.mkdtemp(prefix="bakery-auth-")  # mkdtemp makes it 0700
    try:
        file_name = "auth.json" if runtime.is_podman else "config.json"
        path = os.path.join(directory, file_name)
        _write_private(path, auth_config(registry, credentials))
        if runtime.is_podman:
            yield RuntimeAuth(args=("--authfile", path))
        else:
            yield RuntimeAuth(env={"DOCKER_CONFIG": directory})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def auth_config(registry: str, credentials: Credentials) -> bytes:
    """An auth file (`{"auths": {registry: {"auth": base64(user:pass)}}}`) both runtimes read."""
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    keys = _DOCKER_HUB_KEYS if registry == DOCKER_HUB_REGISTRY else (registry,)
    return json.dumps({"auths": {key: {"auth": token} for key in keys}}).encode()


def _write_private(path: str, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
