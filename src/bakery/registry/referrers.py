"""Referrers (distribution spec 1.1): the manifests that name another one as their `subject`.

A registry with the referrers API lists them at `GET /v2/<name>/referrers/<digest>`. One
without it (the CNCF registry 2.8 answers 404 there) gets the spec's fallback, the *referrers
tag schema*: an image index tagged `<alg>-<hex>` (e.g. `sha256-ab12...`) that lists them, kept
up to date by the clients that push referrers. Both give the same index of descriptors, each
with its `artifactType` and the referrer's annotations.

Pushing a referrer is: its blobs, its manifest by digest, then (without the API) the index
under the tag with the new descriptors appended to what was there. The spec leaves races on
that tag to clients; two bakes of one image push the same referrers, so the last write holds
them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakery.errors import RegistryNotFoundError
from bakery.registry.client import RegistryClient
from bakery.registry.manifests import OCI_INDEX, OCI_MANIFEST
from bakery.registry.reference import validate_digest

_NOT_IN_TAG = re.compile(r"[^a-zA-Z0-9_.-]")


def referrers_tag(digest: str) -> str:
    """The fallback tag of `digest`'s referrers: algorithm (32 chars at most), `-`, the hex (64 at
    most), anything a tag cannot hold replaced by `-`."""
    algorithm, _, encoded = validate_digest(digest).partition(":")
    return _NOT_IN_TAG.sub("-", f"{algorithm[:32]}-{encoded[:64]}")


@dataclass(frozen=True)
class Referrers:
    """What refers to one manifest, and how the registry keeps that list.

    `api`: the registry has the referrers API. Otherwise `index_digest` is the digest of the
    fallback tag's index (None while there is none)."""

    subject: str
    descriptors: tuple[Mapping[str, Any], ...] = field(default=())
    api: bool = False
    index_digest: str | None = None

    @property
    def digests(self) -> set[str]:
        return {str(d.get("digest")) for d in self.descriptors}

    def of_type(self, artifact_type: str) -> list[Mapping[str, Any]]:
        """The referrers of `artifact_type`, in the order the registry lists them."""
        return [d for d in self.descriptors if d.get("artifactType") == artifact_type]

    def record(self) -> dict[str, Any]:
        """What a bake keeps to check later, in one request, that they are still there."""
        return {"api": self.api, "index": self.index_digest, "digests": sorted(self.digests)}


def list_referrers(client: RegistryClient, repository: str, digest: str) -> Referrers:
    """The referrers of manifest `digest` in `repository`: from the API, else the fallback tag."""
    found = client.get_referrers(repository, digest)
    if found is not None:
        return Referrers(digest, tuple(found), api=True)
    try:
        index = client.get_manifest(repository, referrers_tag(digest), accept=(OCI_INDEX,))
    except RegistryNotFoundError:
        return Referrers(digest)
    return Referrers(digest, tuple(index.document["manifests"]), False, index.digest)


def add_referrers(
    client: RegistryClient,
    repository: str,
    listing: Referrers,
    manifests: Sequence[tuple[bytes, Mapping[str, Any]]],
) -> Referrers:
    """Push referrer `manifests` (body, descriptor as the index lists it) of `listing.subject`
    that it does not list yet; their blobs must be in `repository` already. Returns the new list."""
    new = [(body, d) for body, d in manifests if d["digest"] not in listing.digests]
    for body, descriptor in new:
        client.put_manifest(repository, descriptor["digest"], body, OCI_MANIFEST)
    descriptors = (*listing.descriptors, *(d for _, d in new))
    if listing.api or not new:
        return Referrers(listing.subject, descriptors, listing.api, listing.index_digest)
    index = canonical_index(descriptors)
    index_digest = client.put_manifest(repository, referrers_tag(listing.subject), index, OCI_INDEX)
    return Referrers(listing.subject, descriptors, False, index_digest)


def still_attached(client: RegistryClient, repository: str, digest: str, record: Any) -> bool:
    """Whether the referrers a bake recorded (`Referrers.record()`) are still there: one
    request (the fallback tag's digest, or the referrers API)."""
    if not isinstance(record, dict) or not record.get("digests"):
        return False
    if not record.get("api"):
        index = record.get("index")
        return bool(index) and client.head_manifest(repository, referrers_tag(digest)) == index
    found = client.get_referrers(repository, digest) or []
    return set(record["digests"]) <= {str(d.get("digest")) for d in found}


def canonical_index(descriptors: Sequence[Mapping[str, Any]]) -> bytes:
    """An OCI image index listing `descriptors`, as canonical JSON bytes."""
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(descriptors)}
    # sorted keys, no whitespace: as `bakery.image.oci.canonical_json` writes manifests
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
