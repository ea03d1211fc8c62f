"""What a baked image says about itself: its SBOM and provenance, pushed as OCI 1.1 referrers.

Each document is an OCI artifact: an image manifest with `artifactType`, the empty config, one
layer holding the document, and `subject` naming the image's manifest. Registries with the
referrers API list it there; the others (the CNCF registry) get the referrers tag schema's index
(see `bakery.registry.referrers`). The media types are those tools read: CycloneDX's registered
`application/vnd.cyclonedx+json` (what `oras attach`, Trivy and `cosign attach sbom` use for
CycloneDX) and `application/vnd.in-toto+json` for the in-toto statement (as BuildKit's
attestations), annotated with its predicate type.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ImageError, RegistryError
from ..lock.model import LockedEnv
from ..registry import RegistryClient
from ..registry.referrers import Referrers, add_referrers, list_referrers
from .oci import (
    EMPTY_CONFIG,
    LABEL_ENV_ID,
    OCI_EMPTY,
    OCI_MANIFEST,
    Descriptor,
    ImageManifest,
    created_timestamp,
    sha256_digest,
)
from .provenance import PREDICATE_TYPE, PROVENANCE_MEDIA_TYPE, make_provenance
from .sbom import SBOM_MEDIA_TYPE, BakedImage, make_sbom

ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_PREDICATE_TYPE = "in-toto.io/predicate-type"

__all__ = [
    "PROVENANCE_MEDIA_TYPE",
    "SBOM_MEDIA_TYPE",
    "BakedImage",
    "Document",
    "attach_documents",
    "image_documents",
    "preload_sbom_writer",
    "read_document",
]


@dataclass(frozen=True)
class Document:
    """One document about an image: its artifact type, file name and bytes."""

    artifact_type: str
    title: str
    body: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)

    def manifest(self, subject: Descriptor) -> ImageManifest:
        """The artifact manifest holding this document, referring to `subject`."""
        layer = Descriptor(
            self.artifact_type,
            sha256_digest(self.body),
            len(self.body),
            annotations={ANNOTATION_TITLE: self.title},
        )
        return ImageManifest(
            config=Descriptor(OCI_EMPTY, sha256_digest(EMPTY_CONFIG), len(EMPTY_CONFIG)),
            layers=(layer,),
            annotations={ANNOTATION_CREATED: created_timestamp(), **self.annotations},
            artifact_type=self.artifact_type,
            subject=subject,
        )


def image_documents(
    env: LockedEnv,
    image: BakedImage,
    licenses: Mapping[str, tuple[str, ...]],
    *,
    lock_hash: str,
    layout: str,
    compression: str,
) -> list[Document]:
    """The SBOM and the provenance of `image`, baked from `env`."""
    ours = {LABEL_ENV_ID: env.env_id}
    provenance = make_provenance(env, image, lock_hash, layout, compression)
    return [
        Document(SBOM_MEDIA_TYPE, "sbom.cdx.json", make_sbom(env, image, licenses), ours),
        Document(
            PROVENANCE_MEDIA_TYPE,
            "provenance.intoto.json",
            provenance,
            {**ours, ANNOTATION_PREDICATE_TYPE: PREDICATE_TYPE},
        ),
    ]


def attach_documents(
    client: RegistryClient, repository: str, subject: Descriptor, documents: Sequence[Document]
) -> Referrers:
    """Push `documents` as referrers of `subject` unless they are there already: their blobs,
    their manifests, then (without the referrers API) the referrers index."""
    try:
        listing = list_referrers(client, repository, subject.digest)
        pushed = []
        for document in documents:
            manifest = document.manifest(subject)
            body = manifest.to_bytes()
            descriptor = Descriptor(
                OCI_MANIFEST,
                sha256_digest(body),
                len(body),
                annotations=manifest.annotations,
                artifact_type=document.artifact_type,
            )
            if descriptor.digest in listing.digests:
                continue
            client.push_blob(repository, manifest.config.digest, EMPTY_CONFIG)
            client.push_blob(repository, manifest.layers[0].digest, document.body)
            pushed.append((body, descriptor.to_dict()))
        return add_referrers(client, repository, listing, pushed)
    except RegistryError as e:
        raise type(e)(
            f"{client.registry}/{repository}@{subject.digest} was pushed, but attaching its SBOM "
            f"and provenance failed: {e}"
        ) from e


def read_document(client: RegistryClient, repository: str, descriptor: Mapping) -> bytes:
    """The document a referrer (as its index lists it) holds: its manifest's one layer."""
    digest = str(descriptor.get("digest"))
    fetched = client.get_manifest(repository, digest, accept=(OCI_MANIFEST,))
    manifest = ImageManifest.from_dict(fetched.document)
    if len(manifest.layers) != 1:
        raise ImageError(
            f"referrer {repository}@{digest} holds {len(manifest.layers)} layers, not one "
            "document: it was not attached by Bakery"
        )
    return client.get_blob_bytes(repository, manifest.layers[0].digest)


def preload_sbom_writer() -> None:
    """Import the SBOM library in the background while a bake builds its layers (~0.3 s)."""

    def load() -> None:
        import cyclonedx.contrib.license.factories  # noqa: F401
        import cyclonedx.model.bom  # noqa: F401
        import cyclonedx.output.json  # noqa: F401

    threading.Thread(target=load, daemon=True, name="bakery-sbom-import").start()
