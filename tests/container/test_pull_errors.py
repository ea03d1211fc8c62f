"""Classifying a runtime's pull failure from its stderr (texts copied from podman 4.3 and docker)."""

from __future__ import annotations

import pytest

from bakery.container import classify_pull_failure, condense
from bakery.errors import (
    ContainerError,
    ContainerImageError,
    ContainerImageNotFoundError,
    ContainerRegistryAuthError,
    ContainerRegistryUnreachableError,
    RegistryAuthError,
    RegistryUnreachableError,
)

IMAGE = "127.0.0.1:5000/team/app:1"

PODMAN_REFUSED = (
    'time="2026-11-25T17:50:54Z" level=warning msg="Failed, retrying in 1s ... (1/3). Error: x"\n'
    "Error: initializing source docker://127.0.0.1:1/nope:tag: pinging container registry "
    '127.0.0.1:1: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused\n'
)
PODMAN_NO_HOST = (
    "Error: initializing source docker://nosuchhost.invalid/a/b:c: pinging container registry "
    'nosuchhost.invalid: Get "https://nosuchhost.invalid/v2/": dial tcp: lookup nosuchhost.invalid '
    "on 10.255.255.53:53: no such host\n"
)
PODMAN_UNAUTHORIZED = (
    "Error: initializing source docker://127.0.0.1:5000/team/app:1: reading manifest 1 in "
    "127.0.0.1:5000/team/app: unauthorized: authentication required\n"
)
PODMAN_NAME_UNKNOWN = (
    "Error: initializing source docker://127.0.0.1:5000/team/app:1: reading manifest 1 in "
    "127.0.0.1:5000/team/app: name unknown: repository name not known to registry\n"
)
DOCKER_NOT_FOUND = (
    "Error response from daemon: manifest for registry.example.com/team/app:1 not found: "
    "manifest unknown: manifest unknown\n"
)
DOCKER_DENIED = (
    "Error response from daemon: pull access denied for team/app, repository does not exist or "
    "may require 'docker login': denied: requested access to the resource is denied\n"
)
DOCKER_DAEMON_DOWN = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?\n"
)


@pytest.mark.parametrize(
    ("stderr", "kind", "phrase"),
    [
        (PODMAN_REFUSED, ContainerRegistryUnreachableError, "connection refused"),
        (PODMAN_NO_HOST, ContainerRegistryUnreachableError, "no such host"),
        (PODMAN_UNAUTHORIZED, ContainerRegistryAuthError, "authentication required"),
        (PODMAN_NAME_UNKNOWN, ContainerImageNotFoundError, "repository name not known"),
        (DOCKER_NOT_FOUND, ContainerImageNotFoundError, "manifest unknown"),
        (DOCKER_DENIED, ContainerRegistryAuthError, "pull access denied"),
    ],
)
def test_classification(stderr, kind, phrase) -> None:
    error = classify_pull_failure(IMAGE, "127.0.0.1:5000", stderr, runtime="podman")
    assert type(error) is kind
    assert phrase in str(error)
    assert IMAGE in str(error)


def test_refused_credentials_say_how_to_log_in() -> None:
    error = classify_pull_failure(IMAGE, "127.0.0.1:5000", PODMAN_UNAUTHORIZED, runtime="podman")
    assert isinstance(error, RegistryAuthError)
    assert "`podman login 127.0.0.1:5000`" in str(error)
    assert "BAKERY_REGISTRY_USERNAME/BAKERY_REGISTRY_PASSWORD" in str(error)


def test_unreachable_says_to_check_the_registry() -> None:
    error = classify_pull_failure(IMAGE, "127.0.0.1:1", PODMAN_REFUSED, runtime="podman")
    assert isinstance(error, RegistryUnreachableError)
    assert "registry 127.0.0.1:1 cannot be reached" in str(error)
    assert "check that the registry is up" in str(error)


def test_a_plain_http_registry_behind_https_suggests_the_insecure_list() -> None:
    stderr = (
        'Error: pinging container registry r.internal: Get "https://r.internal/v2/": '
        "http: server gave HTTP response to HTTPS client\n"
    )
    error = classify_pull_failure("r.internal/a:1", "r.internal", stderr, runtime="podman")
    assert isinstance(error, ContainerRegistryUnreachableError)
    assert "BAKERY_INSECURE_REGISTRIES" in str(error)


def test_docker_daemon_down_is_not_blamed_on_the_registry() -> None:
    error = classify_pull_failure(IMAGE, "127.0.0.1:5000", DOCKER_DAEMON_DOWN, runtime="docker")
    assert type(error) is ContainerError
    assert "docker daemon is not running" in str(error)


def test_unknown_failures_keep_the_runtime_message() -> None:
    error = classify_pull_failure(IMAGE, "127.0.0.1:5000", "Error: disk full\n", runtime="podman")
    assert type(error) is ContainerImageError
    assert "podman said: Error: disk full" in str(error)


def test_condense_keeps_the_last_error_line_and_drops_retry_noise() -> None:
    assert condense(PODMAN_REFUSED).startswith("Error: initializing source docker://127.0.0.1:1")
    assert "retrying" not in condense(PODMAN_REFUSED)
    assert len(condense("Error: " + "x" * 1000)) == 300
    assert condense("") == "(no error output)"
