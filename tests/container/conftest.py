"""Fixtures for container tests: real podman against the loopback registries of tests/fixtures.

The base image (an offline Debian + python3.11, `base/debian:oci`) and the plain registry come from the
image tests; `private_image` copies it into the htpasswd-protected `auth_registry`. Every test runs with
this machine's podman flags in `BAKERY_CONTAINER_ARGS` and no Bakery credential variables; tests of
credentials add `isolated_auth`, so the user's own login state never leaks into a result.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bakery.container import ContainerRuntime, pull
from tests.fixtures.registry import RunningRegistry
from tests.image.conftest import PODMAN_FLAGS, BaseImages, base_images, image_registry

__all__ = ["base_images", "image_registry"]  # re-exported fixtures


@pytest.fixture(autouse=True)
def container_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's podman flags; no Bakery credentials or runtime choice from the environment."""
    monkeypatch.setenv("BAKERY_CONTAINER_ARGS", shlex.join(PODMAN_FLAGS))
    for name in (
        "BAKERY_CONTAINER_RUNTIME",
        "BAKERY_REGISTRY_USERNAME",
        "BAKERY_REGISTRY_PASSWORD",
        "BAKERY_INSECURE_REGISTRIES",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def isolated_auth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty auth file as `REGISTRY_AUTH_FILE`, so the user's `podman login`s play no part.

    Not autouse: docker-registry reads `REGISTRY_*` variables as configuration, so registries
    started while it is set would fail.
    """
    auth_file = tmp_path / "auth.json"
    auth_file.write_text('{"auths": {}}')  # podman refuses a REGISTRY_AUTH_FILE that does not exist
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    return auth_file


@pytest.fixture(scope="session")
def podman() -> ContainerRuntime:
    """The real podman; fails (never skips) when it is missing."""
    executable = shutil.which("podman")
    if executable is None:
        pytest.fail(
            "podman is not installed: run `apt-get install -y podman runc` (see "
            "/work/shared/ENVIRONMENT.md) before the container tests"
        )
    return ContainerRuntime(kind="podman", executable=executable)


def podman_push(
    podman: ContainerRuntime, source: str, target: str, creds: str | None = None
) -> None:
    """Push the local image `source` to `target` over plain HTTP (with `user:password` if given)."""
    command = [podman.executable, "push", "--quiet", "--tls-verify=false"]
    if creds is not None:
        command.append(f"--creds={creds}")
    done = subprocess.run([*command, source, target], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"podman push {target} failed:\n{done.stderr}"


@pytest.fixture(scope="session")
def base_image(base_images: BaseImages, podman: ContainerRuntime) -> str:
    """The Debian+Python base image, pulled into podman's storage; its fully qualified name."""
    return pull(base_images.oci, runtime=podman)


@pytest.fixture(scope="session")
def private_image(auth_registry: RunningRegistry, base_image: str, podman) -> str:
    """The base image pushed to the htpasswd registry as `t/private:1`."""
    target = f"{auth_registry.host}/t/private:1"
    podman_push(podman, base_image, target, f"{auth_registry.username}:{auth_registry.password}")
    return target
