"""Bearer token auth against the CNCF registry in `auth: token` mode, with a real token server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bakery.errors import RegistryAuthError, RegistryUnreachableError
from bakery.registry import Credentials, RegistryClient
from tests.fixtures.registry import RunningRegistry, free_port
from tests.registry.conftest import digest_of, image_manifest
from tests.registry.token_server import TokenServer

USERNAME, PASSWORD = "robot", "token-password-never-printed"


@dataclass(frozen=True)
class TokenRegistry:
    """A registry that demands Bearer tokens, and the server that issues them."""

    registry: RunningRegistry
    tokens: TokenServer


@pytest.fixture(scope="module")
def token_registry(registry_factory, tmp_path_factory) -> Iterator[TokenRegistry]:
    tokens = TokenServer(tmp_path_factory.mktemp("tokens"), USERNAME, PASSWORD).start()
    try:
        yield TokenRegistry(registry_factory(auth_yaml=tokens.registry_auth_yaml()), tokens)
    finally:
        tokens.stop()


def test_bearer_push_pull_round_trip(token_registry: TokenRegistry, repository: str) -> None:
    host = token_registry.registry.host
    with RegistryClient(host, credentials=Credentials(USERNAME, PASSWORD)) as client:
        client.ping()
        config = b'{"os":"linux"}'
        client.push_blob(repository, digest_of(config), config)
        body = image_manifest(config, [])
        digest = client.put_manifest(
            repository, "v1", body, "application/vnd.oci.image.manifest.v1+json"
        )
        assert client.get_manifest(repository, "v1").digest == digest
        assert json.loads(client.get_blob_bytes(repository, digest_of(config))) == {"os": "linux"}


def test_tokens_are_cached_per_scope(token_registry: TokenRegistry, repository: str) -> None:
    before = len(token_registry.tokens.requests)
    with RegistryClient(
        token_registry.registry.host, credentials=Credentials(USERNAME, PASSWORD)
    ) as client:
        for index in range(5):
            data = f"blob {index}".encode()
            client.push_blob(repository, digest_of(data), data)
    requested = token_registry.tokens.requests[before:]
    scopes = [" ".join(request.get("scope", [])) for request in requested]
    # One token to read (HEAD), one to push; none per blob after that.
    assert sorted(scopes) == sorted(
        [f"repository:{repository}:pull", f"repository:{repository}:pull,push"]
    )
    assert all(request.get("service") == ["bakery-test-registry"] for request in requested)


def test_bearer_mount_asks_for_both_repositories(
    token_registry: TokenRegistry, repository: str
) -> None:
    with RegistryClient(
        token_registry.registry.host, credentials=Credentials(USERNAME, PASSWORD)
    ) as client:
        data = b"shared base layer"
        client.push_blob(f"{repository}/base", digest_of(data), data)
        assert client.mount_blob(f"{repository}/app", digest_of(data), f"{repository}/base")


def test_wrong_password_at_token_server_is_an_auth_error(
    token_registry: TokenRegistry, repository: str
) -> None:
    secret = "not-the-password"
    with RegistryClient(
        token_registry.registry.host, credentials=Credentials(USERNAME, secret)
    ) as client:
        with pytest.raises(
            RegistryAuthError, match="refused the credentials of user 'robot'"
        ) as caught:
            client.blob_exists(repository, digest_of(b"x"))
    assert secret not in str(caught.value)


def test_anonymous_token_without_access_is_an_auth_error(
    token_registry: TokenRegistry, repository: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (
        "BAKERY_REGISTRY_USERNAME",
        "REGISTRY_AUTH_FILE",
        "DOCKER_CONFIG",
        "XDG_RUNTIME_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    with RegistryClient(token_registry.registry.host) as client:
        with pytest.raises(RegistryAuthError, match="no credentials were found"):
            client.blob_exists(repository, digest_of(b"x"))


def test_an_unreachable_token_realm_is_named_not_the_registry(
    registry_factory, tmp_path_factory, repository: str
) -> None:
    # The registry trusts a real token server's certificate but sends clients to a closed port.
    tokens = TokenServer(tmp_path_factory.mktemp("dead-realm"), USERNAME, PASSWORD).start()
    try:
        dead_realm = f"http://127.0.0.1:{free_port()}/token"
        auth_yaml = tokens.registry_auth_yaml().replace(tokens.realm, dead_realm)
        registry = registry_factory(auth_yaml=auth_yaml)
    finally:
        tokens.stop()
    with RegistryClient(registry.host, credentials=Credentials(USERNAME, PASSWORD)) as client:
        with pytest.raises(RegistryUnreachableError) as caught:
            client.blob_exists(repository, digest_of(b"x"))
    message = str(caught.value)
    assert f"cannot reach token server {dead_realm}" in message
    assert f"the realm registry {registry.host} sends clients to" in message
    assert f"cannot reach registry {registry.host}" not in message
