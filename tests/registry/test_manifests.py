"""Manifest put/get/head round trips against a real registry on loopback."""

from __future__ import annotations

import json

import pytest

from bakery.errors import RegistryError, RegistryNotFoundError
from bakery.registry import MANIFEST_MEDIA_TYPES, RegistryClient
from tests.registry.conftest import digest_of, image_manifest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _push_image(client: RegistryClient, repository: str, tag: str) -> tuple[bytes, str]:
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    layer = b"not really a tarball, the registry does not care"
    client.push_blob(repository, digest_of(config), config)
    client.push_blob(repository, digest_of(layer), layer)
    body = image_manifest(config, [layer])
    return body, client.put_manifest(repository, tag, body, OCI_MANIFEST)


def test_manifest_round_trips_by_tag_and_digest(client: RegistryClient, repository: str) -> None:
    body, digest = _push_image(client, repository, "v1")
    assert digest == digest_of(body)
    assert client.head_manifest(repository, "v1") == digest
    for reference in ("v1", digest):
        fetched = client.get_manifest(repository, reference)
        assert fetched.body == body
        assert fetched.media_type == OCI_MANIFEST
        assert fetched.digest == digest


def test_manifest_can_be_pushed_by_its_digest(client: RegistryClient, repository: str) -> None:
    body, _ = _push_image(client, repository, "v1")
    assert client.put_manifest(repository, digest_of(body), body, OCI_MANIFEST) == digest_of(body)
    assert client.head_manifest(repository, digest_of(body)) == digest_of(body)


def test_put_manifest_refuses_a_digest_that_is_not_its_own(
    client: RegistryClient, repository: str
) -> None:
    with pytest.raises(RegistryError, match="the body's digest is"):
        client.put_manifest(repository, digest_of(b"other"), b"{}", OCI_MANIFEST)


def test_index_round_trips(client: RegistryClient, repository: str) -> None:
    body, digest = _push_image(client, repository, "amd64")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": len(body),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    assert client.put_manifest(repository, "multi", index, OCI_INDEX) == digest_of(index)
    fetched = client.get_manifest(repository, "multi")
    assert (fetched.media_type, fetched.body) == (OCI_INDEX, index)


def test_retagging_points_the_tag_at_the_new_manifest(
    client: RegistryClient, repository: str
) -> None:
    _push_image(client, repository, "latest")
    config = b'{"architecture":"arm64","os":"linux"}'
    client.push_blob(repository, digest_of(config), config)
    newer = image_manifest(config, [])
    client.put_manifest(repository, "latest", newer, OCI_MANIFEST)
    assert client.head_manifest(repository, "latest") == digest_of(newer)


def test_head_of_absent_manifest_is_none(client: RegistryClient, repository: str) -> None:
    assert client.head_manifest(repository, "nope") is None
    assert client.head_manifest(repository, digest_of(b"absent")) is None


def test_get_absent_manifest_names_repository_and_tag(
    client: RegistryClient, registry, repository: str
) -> None:
    with pytest.raises(RegistryNotFoundError) as caught:
        client.get_manifest(repository, "missing-tag")
    message = str(caught.value)
    assert f"{repository}:missing-tag" in message
    assert registry.host in message


def test_manifest_referencing_unpushed_blobs_is_rejected_with_registry_code(
    client: RegistryClient, repository: str
) -> None:
    body = image_manifest(b"config never pushed", [])
    with pytest.raises(RegistryError, match="MANIFEST_BLOB_UNKNOWN"):
        client.put_manifest(repository, "broken", body, OCI_MANIFEST)


def test_media_types_cover_oci_and_docker() -> None:
    assert set(MANIFEST_MEDIA_TYPES) == {
        OCI_MANIFEST,
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
