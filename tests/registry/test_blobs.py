"""Blob push, pull, mount and verification against a real registry on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakery.errors import RegistryError, RegistryNotFoundError
from bakery.registry import RegistryClient
from tests.registry.conftest import digest_of


def test_ping_succeeds_on_a_running_registry(client: RegistryClient) -> None:
    client.ping()


def test_pushed_blob_exists(client: RegistryClient, repository: str) -> None:
    data = b"hello bakery"
    assert not client.blob_exists(repository, digest_of(data))
    assert client.push_blob(repository, digest_of(data), data) is True
    assert client.blob_exists(repository, digest_of(data))
    assert client.bytes_uploaded == len(data)


def test_repush_uploads_zero_bytes(client: RegistryClient, repository: str, tmp_path: Path) -> None:
    blob = tmp_path / "layer.tar"
    blob.write_bytes(os.urandom(300_000))
    digest = digest_of(blob.read_bytes())
    assert client.push_blob(repository, digest, blob) is True
    sent = client.bytes_uploaded
    assert sent == 300_000
    assert client.push_blob(repository, digest, blob) is False
    assert client.bytes_uploaded == sent


def test_push_streams_a_file_and_reports_progress(
    client: RegistryClient, repository: str, tmp_path: Path
) -> None:
    blob = tmp_path / "layer.tar"
    blob.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    seen: list[int] = []
    client.push_blob(repository, digest_of(blob.read_bytes()), blob, progress=seen.append)
    assert sum(seen) == blob.stat().st_size
    assert len(seen) > 1, "the file is sent in pieces, not read whole"


def test_chunked_upload_round_trips(
    client: RegistryClient, repository: str, tmp_path: Path
) -> None:
    data = os.urandom(250_000)
    digest = digest_of(data)
    source = tmp_path / "blob"
    source.write_bytes(data)
    assert client.push_blob(repository, digest, source, chunk_size=64 * 1024) is True
    assert client.bytes_uploaded == len(data)
    assert client.pull_blob(repository, digest, tmp_path / "back").read_bytes() == data


def test_chunked_upload_from_bytes(client: RegistryClient, repository: str) -> None:
    data = os.urandom(10_000)
    client.push_blob(repository, digest_of(data), data, chunk_size=3_000)
    assert client.get_blob_bytes(repository, digest_of(data)) == data


def test_empty_blob_pushes(client: RegistryClient, repository: str) -> None:
    assert client.push_blob(repository, digest_of(b""), b"") is True
    assert client.blob_exists(repository, digest_of(b""))


def test_cross_repository_mount_sends_no_bytes(client: RegistryClient, repository: str) -> None:
    data = os.urandom(50_000)
    digest = digest_of(data)
    client.push_blob(f"{repository}/source", digest, data)
    sent = client.bytes_uploaded
    assert client.mount_blob(f"{repository}/target", digest, f"{repository}/source") is True
    assert client.blob_exists(f"{repository}/target", digest)
    assert client.bytes_uploaded == sent


def test_mount_declined_returns_false(client: RegistryClient, repository: str) -> None:
    digest = digest_of(b"never pushed anywhere " + os.urandom(8))
    assert client.mount_blob(f"{repository}/target", digest, f"{repository}/source") is False
    assert not client.blob_exists(f"{repository}/target", digest)


def test_push_with_mount_from_uses_the_mount(client: RegistryClient, repository: str) -> None:
    data = os.urandom(20_000)
    client.push_blob(f"{repository}/base", digest_of(data), data)
    sent = client.bytes_uploaded
    added = client.push_blob(
        f"{repository}/app", digest_of(data), data, mount_from=f"{repository}/base"
    )
    assert added is True
    assert client.bytes_uploaded == sent


def test_push_with_mount_from_uploads_when_source_lacks_blob(
    client: RegistryClient, repository: str
) -> None:
    data = os.urandom(20_000)
    client.push_blob(repository, digest_of(data), data, mount_from=f"{repository}/elsewhere")
    assert client.bytes_uploaded == len(data)
    assert client.get_blob_bytes(repository, digest_of(data)) == data


def test_pull_blob_writes_verified_file(
    client: RegistryClient, repository: str, tmp_path: Path
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    client.push_blob(repository, digest_of(data), data)
    dest = client.pull_blob(repository, digest_of(data), tmp_path / "sub" / "blob")
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["blob"], "no partial file left behind"


def test_push_with_wrong_digest_is_rejected_by_the_registry(
    client: RegistryClient, repository: str
) -> None:
    wrong = digest_of(b"something else")
    with pytest.raises(RegistryError, match="DIGEST_INVALID"):
        client.push_blob(repository, wrong, b"actual content")
    assert not client.blob_exists(repository, wrong)


def test_pull_blob_detects_corruption(
    client: RegistryClient, registry, repository: str, tmp_path: Path
) -> None:
    data = b"original content of a layer"
    digest = digest_of(data)
    client.push_blob(repository, digest, data)
    # Corrupt the registry's stored copy on disk: the client must notice.
    hex_digest = digest.split(":", 1)[1]
    stored = next(registry.root.rglob(f"blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"))
    stored.write_bytes(b"tampered content of a layer")
    dest = tmp_path / "blob"
    with pytest.raises(RegistryError, match="does not match its digest"):
        client.pull_blob(repository, digest, dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RegistryError, match="does not match its digest"):
        client.get_blob_bytes(repository, digest)


def test_missing_blob_is_not_found(client: RegistryClient, repository: str, tmp_path: Path) -> None:
    digest = digest_of(b"absent")
    with pytest.raises(RegistryNotFoundError, match=f"blob {digest} in {repository}"):
        client.pull_blob(repository, digest, tmp_path / "blob")
