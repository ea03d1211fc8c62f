"""Pull and run plumbing against a fake runtime that records what it was given (no podman needed).

The fake records its arguments, the auth file and env file it was handed (and their modes), and
its environment when asked to `run`; `FAKE_RC`, `FAKE_STDERR` and `FAKE_EXISTS_RC` script its answers.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from bakery.container import ContainerRuntime, RunSpec, find_runtime, pull, run_container
from bakery.errors import ContainerImageNotFoundError, RegistryNotFoundError

FAKE = r"""#!/bin/sh
printf '%s\n' "$@" >> "$RECORD/argv"
echo --- >> "$RECORD/argv"
prev=""
for a in "$@"; do
  if [ "$prev" = "--authfile" ]; then
    cp "$a" "$RECORD/auth.json"; stat -c %a "$a" > "$RECORD/mode"; echo "$a" > "$RECORD/authpath"
  fi
  case "$a" in --env-file=*)
    f="${a#--env-file=}"; cp "$f" "$RECORD/env_file"; stat -c %a "$f" > "$RECORD/env_file_mode"
    echo "$f" > "$RECORD/env_file_path";;
  esac
  prev="$a"
done
if [ -n "$DOCKER_CONFIG" ]; then
  cp "$DOCKER_CONFIG/config.json" "$RECORD/auth.json"
  stat -c %a "$DOCKER_CONFIG/config.json" > "$RECORD/mode"; echo "$DOCKER_CONFIG" > "$RECORD/authpath"
fi
if [ "$1" = image ]; then exit "${FAKE_EXISTS_RC:-1}"; fi
if [ "$1" = run ]; then env > "$RECORD/run_env"; fi
printf '%s' "$FAKE_STDERR" >&2
exit "${FAKE_RC:-0}"
"""
DIGEST = "sha256:" + "c0" * 32
PASSWORD = "pa55 w0rd!"


@pytest.fixture
def record(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "record"
    directory.mkdir()
    monkeypatch.setenv("RECORD", str(directory))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    return directory


def _fake_runtime(tmp_path: Path, name: str, monkeypatch) -> ContainerRuntime:
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(FAKE)
    path.chmod(0o755)
    monkeypatch.setenv("BAKERY_CONTAINER_RUNTIME", str(path))
    return find_runtime()


@pytest.fixture
def fake_podman(tmp_path, monkeypatch, record) -> ContainerRuntime:
    return _fake_runtime(tmp_path, "podman", monkeypatch)


@pytest.fixture
def fake_docker(tmp_path, monkeypatch, record) -> ContainerRuntime:
    return _fake_runtime(tmp_path, "docker", monkeypatch)


def _calls(record: Path) -> list[list[str]]:
    text = (record / "argv").read_text() if (record / "argv").exists() else ""
    return [call.strip("\n").split("\n") for call in text.split("---\n") if call.strip()]


def _set_env_credentials(monkeypatch) -> None:
    monkeypatch.setenv("BAKERY_REGISTRY_USERNAME", "robot")
    monkeypatch.setenv("BAKERY_REGISTRY_PASSWORD", PASSWORD)


def test_podman_gets_env_credentials_in_a_private_authfile_removed_afterwards(
    fake_podman, record, monkeypatch
) -> None:
    _set_env_credentials(monkeypatch)
    pull("registry.example.com/team/app:1", runtime=fake_podman)
    [call] = _calls(record)
    assert call[:2] == ["pull", "--quiet"] and call[-1] == "registry.example.com/team/app:1"
    assert "--authfile" in call and "--tls-verify=false" not in call
    assert all(PASSWORD not in argument for argument in call)
    auths = json.loads((record / "auth.json").read_text())["auths"]
    assert base64.b64decode(auths["registry.example.com"]["auth"]).decode() == f"robot:{PASSWORD}"
    assert (record / "mode").read_text().strip() == "600"
    assert not Path((record / "authpath").read_text().strip()).exists()


def test_docker_gets_env_credentials_in_a_temporary_docker_config(
    fake_docker, record, monkeypatch
) -> None:
    _set_env_credentials(monkeypatch)
    pull("python:3.11", runtime=fake_docker)
    [call] = _calls(record)
    assert call == ["pull", "docker.io/library/python:3.11"]
    auths = json.loads((record / "auth.json").read_text())["auths"]
    assert set(auths) == {"docker.io", "https://index.docker.io/v1/"}
    assert (record / "mode").read_text().strip() == "600"
    assert not Path((record / "authpath").read_text().strip()).exists()


def test_credentials_from_the_users_auth_file_are_left_to_the_runtime(
    fake_podman, record, monkeypatch, tmp_path
) -> None:
    auth_file = tmp_path / "auth.json"
    token = base64.b64encode(b"me:mine").decode()
    auth_file.write_text(json.dumps({"auths": {"registry.example.com": {"auth": token}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    pull("registry.example.com/team/app:1", runtime=fake_podman)
    [call] = _calls(record)
    assert "--authfile" not in call
    assert not (record / "auth.json").exists()


@pytest.mark.parametrize(
    ("image", "insecure_env", "expected"),
    [
        ("127.0.0.1:5000/team/app:1", "", True),
        ("localhost:5000/team/app:1", "", True),
        ("registry.example.com/team/app:1", "", False),
        ("registry.example.com/team/app:1", "other.example.com,registry.example.com", True),
    ],
)
def test_tls_verification_follows_the_registry_clients_rule(
    fake_podman, record, monkeypatch, image, insecure_env, expected
) -> None:
    monkeypatch.setenv("BAKERY_INSECURE_REGISTRIES", insecure_env)
    pull(image, runtime=fake_podman)
    [call] = _calls(record)
    assert ("--tls-verify=false" in call) is expected


def test_a_digest_already_present_is_not_pulled(fake_podman, record, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXISTS_RC", "0")
    name = pull(f"127.0.0.1:5000/team/app:1@{DIGEST}", runtime=fake_podman)
    assert name == f"127.0.0.1:5000/team/app@{DIGEST}"
    assert _calls(record) == [["image", "exists", name]]


def test_a_digest_not_present_is_pulled(fake_podman, record, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXISTS_RC", "1")
    pull(f"127.0.0.1:5000/team/app@{DIGEST}", runtime=fake_podman)
    assert [call[0] for call in _calls(record)] == ["image", "pull"]


def test_a_tag_is_always_pulled(fake_podman, record, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXISTS_RC", "0")
    pull("127.0.0.1:5000/team/app:1", runtime=fake_podman)
    assert [call[0] for call in _calls(record)] == ["pull"]


def test_a_failed_pull_is_classified(fake_podman, record, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_RC", "125")
    monkeypatch.setenv(
        "FAKE_STDERR",
        "Error: initializing source docker://127.0.0.1:5000/team/app:9: reading manifest 9 in "
        "127.0.0.1:5000/team/app: manifest unknown: manifest unknown\n",
    )
    with pytest.raises(ContainerImageNotFoundError) as caught:
        pull("127.0.0.1:5000/team/app:9", runtime=fake_podman)
    assert isinstance(caught.value, RegistryNotFoundError)
    assert "image 127.0.0.1:5000/team/app:9 not found" in str(caught.value)
    assert "manifest unknown" in str(caught.value)


def test_run_passes_values_through_a_private_env_file_only(
    fake_podman, record, monkeypatch, caplog
) -> None:
    spec = RunSpec(
        image="127.0.0.1:5000/team/app:1",
        command=["python3", "task.py"],
        env={"API_TOKEN": "tok-7f3a", "STEP": "train", "MULTI": "one\ntwo"},
    )
    with caplog.at_level(logging.DEBUG, logger="bakery"):
        result = run_container(spec, stream=False, runtime=fake_podman)
    assert result.exit_code == 0
    pull_call, run_call = _calls(record)
    assert pull_call[0] == "pull"
    env_file = (record / "env_file_path").read_text().strip()
    assert f"--env-file={env_file}" in run_call and "--env=MULTI" in run_call
    assert (record / "env_file").read_text() == "API_TOKEN=tok-7f3a\nSTEP=train\n"
    assert (record / "env_file_mode").read_text().strip() == "600"
    assert not Path(env_file).exists()
    for value in ("tok-7f3a", "train", "one"):
        assert all(value not in argument for argument in run_call)
        assert value not in caplog.text
    # the one value a file cannot carry came through the runtime's environment
    assert "MULTI=one" in (record / "run_env").read_text().splitlines()


def test_run_returns_the_exit_code_and_captured_output(fake_podman, record, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_RC", "7")
    monkeypatch.setenv("FAKE_STDERR", "boom")
    spec = RunSpec(image="127.0.0.1:5000/team/app:1", command=["false"])
    result = run_container(spec, stream=False, pull_first=False, runtime=fake_podman)
    assert (result.exit_code, result.ok, result.stderr) == (7, False, "boom")
    assert [call[0] for call in _calls(record)] == ["run"]
