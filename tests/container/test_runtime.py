"""Which runtime runs containers: podman, else docker, unless BAKERY_CONTAINER_RUNTIME says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakery.container import RunSpec, find_runtime, run_container
from bakery.errors import ContainerError, ContainerRuntimeNotFoundError


def _fake(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_podman_is_preferred_over_docker(tmp_path, monkeypatch) -> None:
    _fake(tmp_path, "docker")
    podman = _fake(tmp_path, "podman")
    monkeypatch.setenv("PATH", str(tmp_path))
    runtime = find_runtime()
    assert (runtime.kind, runtime.executable) == ("podman", str(podman))


def test_docker_is_used_when_podman_is_missing(tmp_path, monkeypatch) -> None:
    docker = _fake(tmp_path, "docker")
    monkeypatch.setenv("PATH", str(tmp_path))
    runtime = find_runtime()
    assert (runtime.kind, runtime.executable, runtime.is_podman) == ("docker", str(docker), False)


def test_no_runtime_says_what_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ContainerRuntimeNotFoundError) as caught:
        find_runtime()
    message = str(caught.value)
    assert "install podman" in message and "docker" in message
    assert "BAKERY_CONTAINER_RUNTIME" in message
    assert isinstance(caught.value, ContainerError)


def test_override_by_name_picks_docker_over_podman(tmp_path, monkeypatch) -> None:
    _fake(tmp_path, "podman")
    docker = _fake(tmp_path, "docker")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", "docker")
    assert find_runtime().executable == str(docker)


def test_override_by_name_that_is_not_installed(tmp_path, monkeypatch) -> None:
    _fake(tmp_path, "podman")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", "docker")
    with pytest.raises(ContainerRuntimeNotFoundError, match="BAKERY_CONTAINER_RUNTIME=docker"):
        find_runtime()


def test_override_by_path_sets_the_dialect_from_the_file_name(tmp_path, monkeypatch) -> None:
    wrapper = _fake(tmp_path, "docker-wrapper")
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", str(wrapper))
    assert find_runtime().kind == "docker"
    remote = _fake(tmp_path, "podman-remote")
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", str(remote))
    assert (find_runtime().kind, find_runtime().executable) == ("podman", str(remote))


def test_override_pointing_at_a_missing_binary(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "bin" / "podman"
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", str(missing))
    with pytest.raises(ContainerRuntimeNotFoundError) as caught:
        find_runtime()
    assert f"{missing} does not exist" in str(caught.value)
    assert "BAKERY_CONTAINER_RUNTIME" in str(caught.value)


def test_override_pointing_at_a_file_that_is_not_executable(tmp_path, monkeypatch) -> None:
    plain = tmp_path / "podman"
    plain.write_text("not a program")
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", str(plain))
    with pytest.raises(ContainerRuntimeNotFoundError, match="is not an executable file"):
        find_runtime()


def test_run_container_with_a_missing_runtime_fails_before_anything_runs(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", str(tmp_path / "nowhere" / "podman"))
    spec = RunSpec(image="127.0.0.1:5000/t/x:1", command=["true"])
    with pytest.raises(ContainerRuntimeNotFoundError, match="does not exist"):
        run_container(spec)
    assert not (tmp_path / "nowhere").exists()
    assert os.environ["BAKERY_CONTAINER_RUNTIME"].endswith("podman")
