"""Real podman against real loopback registries: run, pass-through, pull errors, credentials."""

from __future__ import annotations

import pytest

from bakery.container import Mount, RunSpec, command_line, image_exists, pull, run_container
from bakery.errors import (
    ContainerImageNotFoundError,
    ContainerRegistryAuthError,
    ContainerRegistryUnreachableError,
)
from bakery.registry import RegistryClient
from tests.container.conftest import podman_push
from tests.fixtures.registry import free_port

pytestmark = [pytest.mark.slow, pytest.mark.container]


def test_output_and_exit_code_pass_through(podman, base_image) -> None:
    spec = RunSpec(
        image=base_image,
        command=["sh", "-c", "echo out-line; echo err-line >&2; python3 -c 'print(6*7)'; exit 3"],
    )
    result = run_container(spec, stream=False, runtime=podman)
    assert result.exit_code == 3, result.stderr
    assert result.stdout == "out-line\n42\n"
    assert "err-line" in result.stderr


def test_streamed_output_reaches_this_process(podman, base_image, capfd) -> None:
    spec = RunSpec(image=base_image, command=["sh", "-c", "echo streamed; echo to-stderr >&2"])
    result = run_container(spec, runtime=podman)
    captured = capfd.readouterr()
    assert (result.exit_code, result.stdout, result.stderr) == (0, None, None)
    assert "streamed\n" in captured.out
    assert "to-stderr" in captured.err


def test_env_workdir_and_read_only_mount_arrive(podman, base_image, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("from the host\n")
    script = (
        'cat /data/hello.txt; echo "greeting=$GREETING"; echo "cwd=$(pwd)"; '
        "if (: > /data/new) 2>/dev/null; then echo writable; else echo read-only; fi"
    )
    spec = RunSpec(
        image=base_image,
        command=["sh", "-c", script],
        env={"GREETING": "hello world"},
        mounts=[Mount(data, "/data")],
        workdir="/data",
    )
    result = run_container(spec, stream=False, runtime=podman)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "from the host", "greeting=hello world", "cwd=/data", "read-only",
    ]  # fmt: skip
    assert not (data / "new").exists()


def test_a_writable_mount_is_writable(podman, base_image, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    spec = RunSpec(
        image=base_image,
        command=["sh", "-c", "echo result > /out/result.txt"],
        mounts=[Mount(out, "/out", read_only=False)],
    )
    assert run_container(spec, stream=False, runtime=podman).exit_code == 0
    assert (out / "result.txt").read_text() == "result\n"


def test_secret_reaches_the_container_but_not_the_command_line(podman, base_image) -> None:
    spec = RunSpec(
        image=base_image,
        command=["sh", "-c", 'echo "secret=$MY_API_TOKEN"'],
        env={"MY_API_TOKEN": "tok-91bd"},
    )
    result = run_container(spec, stream=False, runtime=podman)
    assert result.stdout == "secret=tok-91bd\n", result.stderr
    line = command_line(spec, runtime=podman)
    assert "--env=MY_API_TOKEN" in line
    assert not any("tok-91bd" in argument for argument in line)
    assert "tok-91bd" not in repr(spec)


def test_loopback_services_are_reachable_on_the_host_network(podman, base_image, registry) -> None:
    probe = (
        f"import urllib.request; print(urllib.request.urlopen('http://{registry.host}/v2/').status)"
    )
    spec = RunSpec(image=base_image, command=["python3", "-c", probe])
    result = run_container(spec, stream=False, runtime=podman)
    assert (result.exit_code, result.stdout) == (0, "200\n"), result.stderr


def test_a_missing_image_is_not_found(podman, image_registry) -> None:
    image = f"{image_registry}/t/does-not-exist:1"
    with pytest.raises(ContainerImageNotFoundError) as caught:
        run_container(RunSpec(image=image, command=["true"]), runtime=podman)
    message = str(caught.value)
    assert f"image {image} not found" in message
    assert "check the repository name and tag" in message


def test_a_missing_tag_is_not_found(podman, base_images) -> None:
    image = f"{base_images.host}/base/debian:no-such-tag"
    with pytest.raises(ContainerImageNotFoundError, match="manifest unknown"):
        pull(image, runtime=podman)


def test_a_closed_port_is_unreachable(podman) -> None:
    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(ContainerRegistryUnreachableError) as caught:
        pull(f"{host}/t/x:1", runtime=podman)
    assert f"registry {host} cannot be reached" in str(caught.value)
    assert "connection refused" in str(caught.value)


@pytest.mark.usefixtures("isolated_auth")
def test_no_credentials_are_refused(podman, private_image) -> None:
    with pytest.raises(ContainerRegistryAuthError, match="refused the credentials"):
        pull(private_image, runtime=podman)


@pytest.mark.usefixtures("isolated_auth")
def test_bad_credentials_are_refused(podman, private_image, auth_registry, monkeypatch) -> None:
    monkeypatch.setenv("BAKERY_REGISTRY_USERNAME", auth_registry.username)
    monkeypatch.setenv("BAKERY_REGISTRY_PASSWORD", "not-the-password")
    with pytest.raises(ContainerRegistryAuthError) as caught:
        pull(private_image, runtime=podman)
    message = str(caught.value)
    assert f"`podman login {auth_registry.host}`" in message
    assert "not-the-password" not in message


@pytest.mark.usefixtures("isolated_auth")
def test_good_credentials_from_the_environment_pull_and_run(
    podman, private_image, auth_registry, monkeypatch
) -> None:
    monkeypatch.setenv("BAKERY_REGISTRY_USERNAME", auth_registry.username)
    monkeypatch.setenv("BAKERY_REGISTRY_PASSWORD", auth_registry.password)
    spec = RunSpec(image=private_image, command=["python3", "-c", "print('private ok')"])
    result = run_container(spec, stream=False, runtime=podman)
    assert (result.exit_code, result.stdout) == (0, "private ok\n"), result.stderr


def test_a_present_digest_is_not_pulled_again(podman, base_image, registry_factory) -> None:
    pinned_registry = registry_factory()
    podman_push(podman, base_image, f"{pinned_registry.host}/t/pinned:1")
    with RegistryClient(pinned_registry.host) as client:
        digest = client.head_manifest("t/pinned", "1")
    assert digest is not None
    image = f"{pinned_registry.host}/t/pinned:1@{digest}"
    assert pull(image, runtime=podman) == f"{pinned_registry.host}/t/pinned@{digest}"
    assert image_exists(image, runtime=podman)
    pinned_registry.stop()
    # The registry is gone: only a pull that is skipped can succeed, and the run uses the local copy.
    result = run_container(
        RunSpec(image=image, command=["sh", "-c", "echo pinned"]), stream=False, runtime=podman
    )
    assert (result.exit_code, result.stdout) == (0, "pinned\n"), result.stderr
    with pytest.raises(ContainerRegistryUnreachableError):
        pull(f"{pinned_registry.host}/t/pinned:1", runtime=podman)


def test_extra_args_from_the_environment_reach_podman(podman, base_image, monkeypatch) -> None:
    monkeypatch.setenv("BAKERY_CONTAINER_ARGS", "--ulimit nofile=777:777 --ulimit nproc=1024:1024")
    spec = RunSpec(image=base_image, command=["sh", "-c", "ulimit -n"])
    result = run_container(spec, stream=False, pull_first=False, runtime=podman)
    assert (result.exit_code, result.stdout) == (0, "777\n"), result.stderr
