"""Helpers for registry tests: unique repository names and content-addressed test blobs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator

import pytest

from bakery.registry import RegistryClient
from tests.fixtures.registry import RunningRegistry


def digest_of(data: bytes) -> str:
    """The OCI digest (`sha256:...`) of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_manifest(config: bytes, layers: list[bytes]) -> bytes:
    """A minimal OCI image manifest referencing `config` and `layers` (already pushed)."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest_of(layer),
                "size": len(layer),
            }
            for layer in layers
        ],
    }
    return json.dumps(manifest, sort_keys=True).encode()


@pytest.fixture
def repository(request: pytest.FixtureRequest) -> str:
    """A repository name unique to the test, so tests can share one registry."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return f"tests/{name[:100]}"


@pytest.fixture
def client(registry: RunningRegistry) -> Iterator[RegistryClient]:
    """A client for the plain registry, with tiny backoff so retries cost nothing in tests."""
    with RegistryClient(registry.host, backoff=0.01) as client:
        yield client
