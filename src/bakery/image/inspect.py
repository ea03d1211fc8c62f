"""`inspect_image`: a readable bill of materials for an image, from its manifest and config only;
`read_sbom`: the SBOM attached to it.

Nothing is pulled but small documents: Bakery writes the packages of each layer into the
manifest's layer annotations, the environment's identity into the config's labels, and attaches
an SBOM and a provenance statement as referrers (listed here, see `documents.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ImageError
from ..platforms import REMOTE_PLATFORM, TargetPlatform
from ..registry import FetchedManifest, RegistryClient, parse_json
from ..registry.answers import json_or_none
from ..registry.reference import ImageReference
from ..registry.referrers import list_referrers
from .base import select_platform
from .documents import SBOM_MEDIA_TYPE, read_document
from .oci import (
    ACCEPT,
    ANNOTATION_BASE_DIGEST,
    ANNOTATION_BASE_NAME,
    ANNOTATION_LAYER_PACKAGES,
    INDEX_TYPES,
    LABEL_BASE,
    LABEL_ENV_ID,
    LABEL_LOCK_HASH,
    LABEL_PACKAGES,
    LABEL_PLATFORM,
    LABEL_PYTHON,
    ImageManifest,
)


@dataclass(frozen=True)
class LayerInfo:
    """One layer: digest, compressed size, and the packages it holds (empty for base layers)."""

    digest: str
    size: int
    packages: tuple[str, ...]


@dataclass(frozen=True)
class ReferrerInfo:
    """A manifest that refers to the image (its SBOM, provenance, a signature...)."""

    artifact_type: str
    digest: str
    size: int
    annotations: dict[str, str]


@dataclass(frozen=True)
class ImageInfo:
    """What an image is made of. Bakery fields are None for images Bakery did not bake."""

    reference: str
    digest: str
    os: str
    architecture: str
    layers: tuple[LayerInfo, ...]
    packages: tuple[str, ...]
    env: tuple[str, ...]
    env_id: str | None
    lock_hash: str | None
    python: str | None
    platform: str | None
    base: str | None
    size: int
    referrers: tuple[ReferrerInfo, ...] = ()

    @property
    def base_size(self) -> int:
        return sum(layer.size for layer in self.layers if not layer.packages)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = [asdict(layer) for layer in self.layers]
        data["referrers"] = [asdict(referrer) for referrer in self.referrers]
        data["base_size"] = self.base_size
        return data


def inspect_image(
    reference: str,
    *,
    client: RegistryClient | None = None,
    platform: TargetPlatform | None = None,
) -> ImageInfo:
    """Read `reference`'s manifest (for `platform` if it is an index), config and referrers."""
    ref = ImageReference.parse(reference)
    client = client or RegistryClient(ref.registry)
    fetched = image_manifest(client, ref, platform)
    document, digest = fetched.document, fetched.digest
    manifest = ImageManifest.from_dict(document)
    config = parse_json(
        client.get_blob_bytes(ref.repository, manifest.config.digest),
        what=f"config {manifest.config.digest} of {ref}",
        registry=ref.registry,
    )
    labels = (config.get("config") or {}).get("Labels") or {}
    layers = tuple(
        LayerInfo(
            layer.digest,
            layer.size,
            tuple(
                p
                for p in (layer.annotations or {}).get(ANNOTATION_LAYER_PACKAGES, "").split(",")
                if p
            ),
        )
        for layer in manifest.layers
    )
    base = labels.get(LABEL_BASE)
    if base is None and manifest.annotations.get(ANNOTATION_BASE_NAME):
        base = f"{manifest.annotations[ANNOTATION_BASE_NAME]}@{manifest.annotations.get(ANNOTATION_BASE_DIGEST)}"
    return ImageInfo(
        reference=str(ref.with_digest(digest)),
        digest=digest,
        os=config.get("os", "?"),
        architecture=config.get("architecture", "?"),
        layers=layers,
        packages=_packages_label(labels),
        env=tuple((config.get("config") or {}).get("Env") or ()),
        env_id=labels.get(LABEL_ENV_ID),
        lock_hash=labels.get(LABEL_LOCK_HASH),
        python=labels.get(LABEL_PYTHON),
        platform=labels.get(LABEL_PLATFORM),
        base=base,
        size=sum(layer.size for layer in layers) + manifest.config.size,
        referrers=tuple(
            ReferrerInfo(
                str(d.get("artifactType") or "?"),
                str(d.get("digest")),
                int(d.get("size") or 0),
                dict(d.get("annotations") or {}),
            )
            for d in list_referrers(client, ref.repository, digest).descriptors
        ),
    )


def image_manifest(
    client: RegistryClient, ref: ImageReference, platform: TargetPlatform | None = None
) -> FetchedManifest:
    """`ref`'s image manifest: itself, or its index's entry for `platform` (default: the remote one)."""
    fetched = client.get_manifest(ref.repository, ref.reference, accept=ACCEPT)
    if fetched.media_type in INDEX_TYPES:
        entry = select_platform(
            fetched.document, platform or TargetPlatform.parse(REMOTE_PLATFORM), ref
        )
        fetched = client.get_manifest(ref.repository, entry.digest, accept=ACCEPT)
    return fetched


def read_sbom(
    reference: str, *, client: RegistryClient | None = None, platform: TargetPlatform | None = None
) -> bytes:
    """The CycloneDX SBOM attached to `reference` (Bakery's, if there are several)."""
    ref = ImageReference.parse(reference)
    client = client or RegistryClient(ref.registry)
    digest = image_manifest(client, ref, platform).digest
    sboms = list_referrers(client, ref.repository, digest).of_type(SBOM_MEDIA_TYPE)
    if not sboms:
        raise ImageError(
            f"{ref.with_digest(digest)} has no SBOM attached ({SBOM_MEDIA_TYPE} referrer): it "
            "was baked before Bakery attached SBOMs, or by another tool; bake it again with "
            "`bakery bake` to attach one"
        )
    ours = [d for d in sboms if LABEL_ENV_ID in (d.get("annotations") or {})]
    return read_document(client, ref.repository, (ours or sboms)[0])


def _packages_label(labels: dict[str, Any]) -> tuple[str, ...]:
    """The packages Bakery lists in the config's label; none if the label is absent or not a list."""
    packages = json_or_none(str(labels.get(LABEL_PACKAGES, "[]")).encode())
    return tuple(str(p) for p in packages) if isinstance(packages, list) else ()
