"""RunSpec and command_line: what runs, and that no environment value ever shows."""

from __future__ import annotations

import shlex

import pytest

from bakery.container import (
    REDACTED,
    ContainerRuntime,
    Mount,
    RunSpec,
    command_line,
    display_command,
    is_secret_name,
    redacted_env,
)
from bakery.errors import ContainerError

PODMAN = ContainerRuntime(kind="podman", executable="/usr/bin/podman")


@pytest.mark.parametrize(
    "name",
    ["API_TOKEN", "AWS_SECRET_ACCESS_KEY", "db_password", "SSH_PRIVATE_KEY", "GCP_CREDENTIALS"],
)
def test_secret_looking_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "METAFLOW_USER", "HOME", "USERNAME"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redacted_env_keeps_ordinary_values() -> None:
    env = {"USER": "dev", "GITHUB_TOKEN": "ghp_abc"}
    assert redacted_env(env) == {"USER": "dev", "GITHUB_TOKEN": REDACTED}


def test_command_line_shape(monkeypatch) -> None:
    monkeypatch.delenv("BAKERY_CONTAINER_ARGS")
    spec = RunSpec(
        image="127.0.0.1:5000/team/envs:abc",
        command=["python3", "-c", "print(1)"],
        env={"USER": "dev"},
        mounts=[Mount("/tmp", "/data"), Mount("/var/tmp", "/scratch", read_only=False)],
        workdir="/data",
        name="task-1",
        labels={"bakery.step": "train"},
    )
    assert command_line(spec, runtime=PODMAN) == [
        "/usr/bin/podman", "run", "--rm", "--pull=never", "--network=host", "--name=task-1",
        "--label=bakery.step=train", "--workdir=/data", "--env=USER",
        "--volume=/tmp:/data:ro", "--volume=/var/tmp:/scratch:rw",
        "127.0.0.1:5000/team/envs:abc", "python3", "-c", "print(1)",
    ]  # fmt: skip


def test_extra_args_from_env_come_after_the_specs_and_before_the_image(monkeypatch) -> None:
    monkeypatch.setenv("BAKERY_CONTAINER_ARGS", "--ulimit nofile=1024:1024 --label 'a=b c'")
    spec = RunSpec(image="python:3.11", command=["true"], extra_args=["--cpus=2"], network="none")
    line = command_line(spec, runtime=PODMAN)
    assert "--network=none" in line
    image_at = line.index("docker.io/library/python:3.11")
    assert line[image_at - 5 : image_at] == [
        "--cpus=2", "--ulimit", "nofile=1024:1024", "--label", "a=b c",
    ]  # fmt: skip
    assert line[image_at + 1 :] == ["true"]


def test_unsplittable_extra_args_are_an_error(monkeypatch) -> None:
    monkeypatch.setenv("BAKERY_CONTAINER_ARGS", "--label 'unclosed")
    with pytest.raises(ContainerError, match="BAKERY_CONTAINER_ARGS"):
        command_line(RunSpec(image="python:3.11", command=["true"]), runtime=PODMAN)


def test_a_pinned_image_runs_by_digest_without_its_tag() -> None:
    digest = "sha256:" + "ab" * 32
    spec = RunSpec(image=f"127.0.0.1:5000/team/envs:abc@{digest}", command=["true"])
    assert f"127.0.0.1:5000/team/envs@{digest}" in command_line(spec, runtime=PODMAN)


def test_no_value_is_on_the_command_line_and_secrets_not_in_the_repr() -> None:
    spec = RunSpec(
        image="python:3.11",
        command=["true"],
        env={"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "REGION": "eu-west-1"},
    )
    line = command_line(spec, runtime=PODMAN)
    assert "--env=AWS_SECRET_ACCESS_KEY" in line and "--env=REGION" in line
    for text in (" ".join(line), display_command(spec, runtime=PODMAN)):
        assert "wJalrXUtnFEMI" not in text and "eu-west-1" not in text
    assert "wJalrXUtnFEMI" not in repr(spec)
    assert f"'AWS_SECRET_ACCESS_KEY': '{REDACTED}'" in repr(spec)


def test_the_runs_env_arguments_replace_the_names() -> None:
    spec = RunSpec(image="python:3.11", command=["true"], env={"A": "1", "B": "2"})
    line = command_line(spec, runtime=PODMAN, env_args=["--env-file=/private/env", "--env=B"])
    assert [arg for arg in line if arg.startswith("--env")] == [
        "--env-file=/private/env",
        "--env=B",
    ]


def test_display_command_is_shell_quoted() -> None:
    spec = RunSpec(image="python:3.11", command=["sh", "-c", "echo 'hi there'"])
    assert shlex.split(display_command(spec, runtime=PODMAN))[-3:] == list(spec.command)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"command": "echo hi"}, "list of arguments"),
        ({"env": {"1BAD": "x"}}, "invalid environment variable name"),
        ({"env": {"NUL": "a\0b"}}, "NUL character"),
        ({"workdir": "relative"}, "must be absolute"),
        ({"image": "  "}, "without an image"),
    ],
)
def test_malformed_specs_are_refused(kwargs, match) -> None:
    arguments = {"image": "python:3.11", "command": ["true"], **kwargs}
    with pytest.raises(ContainerError, match=match):
        RunSpec(**arguments)


@pytest.mark.parametrize(
    ("host", "container", "match"),
    [("/tmp", "data", "must be absolute"), ("/tmp/a:b", "/data", "contains ':' or ','")],
)
def test_malformed_mounts_are_refused(host, container, match) -> None:
    with pytest.raises(ContainerError, match=match):
        Mount(host, container)


def test_spec_is_immutable() -> None:
    spec = RunSpec(image="python:3.11", command=["true"])
    with pytest.raises(AttributeError):
        spec.image = "other"  # type: ignore[misc]
