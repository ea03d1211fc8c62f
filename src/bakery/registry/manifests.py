"""Manifests as a registry serves them: media types, and the checks a served manifest must pass.

A served manifest must carry a manifest content type (or a generic one with a `mediaType` field that
is one), be a JSON object of the right shape for that type, agree with its `Docker-Content-Digest`,
and hash to the digest it was asked for by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bakery.registry.answers import content_type, json_or_none
from bakery.registry.transport import RegistryTransport

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES: tuple[str, ...] = (
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
)
"""Every manifest type Bakery reads: single-image manifests and multi-platform indexes, OCI and Docker."""

INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

GENERIC_TYPES = ("", "application/json", "application/octet-stream", "text/plain")
"""Content types some registries serve manifests with; the body's `mediaType` field decides then."""

_HASHES = {"sha256", "sha512"}


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest as the registry served it: exact bytes, media type and digest (of those bytes)."""

    body: bytes
    media_type: str
    digest: str
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The body parsed (a JSON object, checked to have the shape of its media type)."""


def checked_manifest(
    transport: RegistryTransport,
    response: httpx.Response,
    what: str,
    reference: str,
    accept: Sequence[str],
) -> FetchedManifest:
    """The manifest in `response` (to a GET of `reference`), or a `RegistryProtocolError` saying why not."""
    body = response.content
    document = json_or_none(body)
    if not isinstance(document, dict):
        raise transport.protocol_error(response, what, "the body is not a JSON manifest")
    declared = document.get("mediaType")
    served = content_type(response)
    media_type = served
    if served in GENERIC_TYPES and isinstance(declared, str):
        media_type = declared
    if media_type not in accept:
        raise transport.protocol_error(
            response,
            what,
            f"{media_type or 'no content type'} is not a manifest type Bakery reads "
            f"(asked for {', '.join(accept)})",
        )
    if isinstance(declared, str) and declared != media_type:
        # The spec: reject a manifest whose mediaType field disagrees with its Content-Type.
        raise transport.protocol_error(
            response, what, f"its mediaType field says {declared} but it was served as {media_type}"
        )
    problem = shape_problem(document, media_type)
    if problem:
        raise transport.protocol_error(response, what, problem)
    header = response.headers.get("docker-content-digest", "").strip()
    algorithm = header.split(":", 1)[0] if header.split(":", 1)[0] in _HASHES else "sha256"
    transport.check_digest(response, what, digest_of(body, algorithm))
    return FetchedManifest(
        body=body, media_type=media_type, digest=digest_of(body, "sha256"), document=document
    )


def shape_problem(document: dict[str, Any], media_type: str) -> str | None:
    """What is missing from `document` for a manifest of `media_type`, or None if nothing is."""
    if media_type in INDEX_MEDIA_TYPES:
        entries, needed = document.get("manifests"), "a 'manifests' list of descriptors"
    else:
        config = document.get("config")
        if not _is_descriptor(config):
            return "the manifest has no 'config' descriptor (an object with a digest)"
        entries, needed = document.get("layers", []), "a 'layers' list of descriptors"
    if not isinstance(entries, list) or not all(_is_descriptor(entry) for entry in entries):
        return f"the manifest has no {needed}"
    return None


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    """`algorithm:hex` of `body`."""
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def _is_descriptor(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("digest"), str)
