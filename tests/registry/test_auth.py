"""Authentication against a real htpasswd registry, credential lookup, and unreachable registries."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from bakery.errors import RegistryAuthError, RegistryUnreachableError
from bakery.registry import Credentials, RegistryClient, find_credentials
from tests.fixtures.registry import RunningRegistry, free_port
from tests.registry.conftest import digest_of

CREDENTIAL_ENV = (
    "BAKERY_REGISTRY_USERNAME",
    "BAKERY_REGISTRY_PASSWORD",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
    "DOCKER_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials from the developer's machine: an empty HOME and no credential variables."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def _write_auth_file(path: Path, auths: dict[str, dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths}))
    return path


def _b64(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def test_right_password_pushes_and_pulls(auth_registry: RunningRegistry, repository: str) -> None:
    credentials = Credentials(auth_registry.username, auth_registry.password)
    with RegistryClient(auth_registry.host, credentials=credentials) as client:
        client.ping()
        data = b"a private layer"
        assert client.push_blob(repository, digest_of(data), data) is True
        assert client.get_blob_bytes(repository, digest_of(data)) == data


def test_wrong_password_is_an_auth_error_that_hides_the_password(
    auth_registry: RunningRegistry, repository: str
) -> None:
    secret = "wrong-password-do-not-print"
    with RegistryClient(auth_registry.host, credentials=Credentials("bakery", secret)) as client:
        with pytest.raises(RegistryAuthError) as caught:
            client.push_blob(repository, digest_of(b"x"), b"x")
    message = str(caught.value)
    assert secret not in message
    assert _b64("bakery", secret) not in message
    assert auth_registry.host in message
    assert "'bakery'" in message
    assert "REGISTRY_AUTH_FILE" in message, "says where credentials are read from"


def test_no_credentials_is_an_auth_error_saying_where_to_put_them(
    auth_registry: RunningRegistry,
) -> None:
    with RegistryClient(auth_registry.host) as client:
        with pytest.raises(RegistryAuthError, match="no credentials were found") as caught:
            client.ping()
    assert f"podman login {auth_registry.host}" in str(caught.value)


def test_credentials_are_read_from_registry_auth_file(
    auth_registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    auth_file = _write_auth_file(
        tmp_path / "auth.json",
        {auth_registry.host: {"auth": _b64(auth_registry.username, auth_registry.password)}},
    )
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    with RegistryClient(auth_registry.host) as client:
        client.ping()
        assert client.head_manifest("tests/anything", "latest") is None


def test_environment_credentials_apply_to_any_registry(
    auth_registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAKERY_REGISTRY_USERNAME", auth_registry.username)
    monkeypatch.setenv("BAKERY_REGISTRY_PASSWORD", auth_registry.password)
    with RegistryClient(auth_registry.host) as client:
        client.ping()


def test_environment_wins_over_auth_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "REGISTRY_AUTH_FILE",
        str(_write_auth_file(tmp_path / "a.json", {"r.io": {"auth": _b64("file", "p")}})),
    )
    monkeypatch.setenv("BAKERY_REGISTRY_USERNAME", "env")
    monkeypatch.setenv("BAKERY_REGISTRY_PASSWORD", "p")
    assert find_credentials("r.io") == Credentials("env", "p")


def test_auth_files_are_read_in_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_credentials: Path
) -> None:
    home = isolated_credentials
    _write_auth_file(home / ".docker" / "config.json", {"r.io": {"auth": _b64("docker", "p")}})
    assert find_credentials("r.io") == Credentials("docker", "p")
    _write_auth_file(
        home / ".config" / "containers" / "auth.json", {"r.io": {"auth": _b64("podman", "p")}}
    )
    assert find_credentials("r.io") == Credentials("podman", "p")
    runtime = tmp_path / "run"
    _write_auth_file(
        runtime / "containers" / "auth.json", {"r.io": {"username": "runtime", "password": "p"}}
    )
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert find_credentials("r.io") == Credentials("runtime", "p")
    explicit = _write_auth_file(
        tmp_path / "explicit.json", {"r.io": {"auth": _b64("explicit", "p")}}
    )
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(explicit))
    assert find_credentials("r.io") == Credentials("explicit", "p")
    assert find_credentials("other.io") is None


def test_docker_config_dir_and_docker_hub_aliases(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _write_auth_file(
        tmp_path / "docker" / "config.json",
        {"https://index.docker.io/v1/": {"auth": _b64("hubuser", "pa:ss")}},
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    for name in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        assert find_credentials(name) == Credentials("hubuser", "pa:ss")


def test_unreadable_auth_file_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "auth.json"
    broken.write_text("{not json")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(broken))
    assert find_credentials("r.io") is None


def test_credentials_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(Credentials("me", "hunter2"))
    assert "me" in repr(Credentials("me", "hunter2"))


def test_unreachable_registry_fails_fast_with_a_clear_message() -> None:
    host = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with RegistryClient(host) as client:
        with pytest.raises(RegistryUnreachableError) as caught:
            client.ping()
    assert time.monotonic() - started < 2
    assert str(caught.value) == (
        f"cannot reach registry {host}: connection refused — is it running? check the address"
    )


def test_loopback_is_plain_http_and_others_https(monkeypatch: pytest.MonkeyPatch) -> None:
    assert repr(RegistryClient("127.0.0.1:5000")) == "RegistryClient('http://127.0.0.1:5000')"
    assert repr(RegistryClient("localhost:5000")) == "RegistryClient('http://localhost:5000')"
    assert repr(RegistryClient("[::1]:5000")) == "RegistryClient('http://[::1]:5000')"
    assert repr(RegistryClient("ghcr.io")) == "RegistryClient('https://ghcr.io')"
    assert repr(RegistryClient("docker.io")) == "RegistryClient('https://registry-1.docker.io')"
    monkeypatch.setenv("BAKERY_INSECURE_REGISTRIES", "reg.internal:5000, other.internal")
    assert repr(RegistryClient("reg.internal:5000")) == "RegistryClient('http://reg.internal:5000')"
    assert repr(RegistryClient("other.internal")) == "RegistryClient('http://other.internal')"
    assert repr(RegistryClient("ghcr.io", insecure=True)) == "RegistryClient('http://ghcr.io')"


def test_stopped_registry_is_unreachable(registry_factory, repository: str) -> None:
    running = registry_factory()
    with RegistryClient(running.host) as client:
        client.ping()
        running.stop()
        with pytest.raises(RegistryUnreachableError, match="connection refused"):
            client.blob_exists(repository, digest_of(b"x"))
