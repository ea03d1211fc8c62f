"""Base images: resolve a reference to one platform's manifest and config, cached by digest.

A tag is asked of the registry each time (tags move); anything addressed by digest is read from
the local cache first, since its content cannot change. Base layers are never downloaded here:
`bake` mounts or copies them only when the target repository lacks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ImageError, PlatformNotFoundError, RegistryNotFoundError
from ..registry import RegistryClient, parse_json
from ..registry.reference import ImageReference
from ..spec import TargetPlatform
from .gc import mark_used
from .layers import write_atomic
from .oci import ACCEPT, INDEX_TYPES, Descriptor, ImageManifest, platform_of


@dataclass(frozen=True)
class BaseImage:
    """One platform's image of a base reference: its manifest digest, manifest and config."""

    reference: ImageReference
    digest: str
    manifest: ImageManifest
    config: dict[str, Any]

    @property
    def pinned(self) -> str:
        """`registry/repo:tag@sha256:...`: what the image was built on, exactly."""
        return str(self.reference.with_digest(self.digest))

    @property
    def env(self) -> dict[str, str]:
        items = (self.config.get("config") or {}).get("Env") or []
        return dict(item.split("=", 1) for item in items if "=" in item)

    @property
    def python_minor(self) -> str | None:
        """The base's Python minor if its config says (official images set PYTHON_VERSION)."""
        found = re.match(r"(\d+\.\d+)", self.env.get("PYTHON_VERSION", ""))
        return found.group(1) if found else None

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.manifest.layers) + self.manifest.config.size


def default_base_image(python_minor: str) -> str:
    """The official slim Python image for an environment's Python, e.g. python:3.11-slim."""
    return f"docker.io/library/python:{python_minor}-slim"


class ManifestCache:
    """Manifests and configs by digest under `root/manifests/sha256/` and `root/blobs/sha256/`."""

    def __init__(self, root: Path) -> None:
        self.manifests = root / "manifests" / "sha256"
        self.blobs = root / "blobs" / "sha256"

    def manifest(self, digest: str) -> bytes | None:
        return _read(self.manifests / digest.split(":", 1)[1])

    def put_manifest(self, digest: str, body: bytes) -> None:
        write_atomic(self.manifests / digest.split(":", 1)[1], body)

    def blob(self, digest: str) -> bytes | None:
        return _read(self.blobs / digest.split(":", 1)[1])

    def put_blob(self, digest: str, body: bytes) -> None:
        write_atomic(self.blobs / digest.split(":", 1)[1], body)


def _read(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    mark_used(path)
    return data


def resolve_base(
    client: RegistryClient,
    reference: ImageReference,
    platform: TargetPlatform,
    cache: ManifestCache,
) -> BaseImage:
    """The image of `reference` for `platform`, following a manifest list if there is one."""
    digest, body = _fetch_manifest(client, reference, reference.reference, cache)
    document = parse_json(
        body, what=f"manifest {digest} of {reference}", registry=reference.registry
    )
    if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
        entry = select_platform(document, platform, reference)
        digest, body = _fetch_manifest(client, reference, entry.digest, cache)
        document = parse_json(
            body, what=f"manifest {digest} of {reference}", registry=reference.registry
        )
    manifest = ImageManifest.from_dict(document)
    config = cache.blob(manifest.config.digest)
    if config is None:
        config = client.get_blob_bytes(reference.repository, manifest.config.digest)
        cache.put_blob(manifest.config.digest, config)
    config_document = parse_json(
        config, what=f"config {manifest.config.digest} of {reference}", registry=reference.registry
    )
    return BaseImage(reference, digest, manifest, config_document)


def _fetch_manifest(
    client: RegistryClient, reference: ImageReference, ref: str, cache: ManifestCache
) -> tuple[str, bytes]:
    if ref.startswith("sha256:"):
        cached = cache.manifest(ref)
        if cached is not None:
            return ref, cached
    try:
        fetched = client.get_manifest(reference.repository, ref, accept=ACCEPT)
    except RegistryNotFoundError as e:
        raise RegistryNotFoundError(
            f"base image {reference} not found ({e}): check its name and tag, or push it "
            "to the registry first, then bake again"
        ) from e
    cache.put_manifest(fetched.digest, fetched.body)
    return fetched.digest, fetched.body


def select_platform(
    index: dict[str, Any], platform: TargetPlatform, reference: ImageReference | str
) -> Descriptor:
    """The index entry for `platform`'s os/architecture, or `PlatformNotFoundError`."""
    os_name, architecture = platform.oci_platform
    entries = [Descriptor.from_dict(m) for m in index.get("manifests", [])]
    for entry in entries:
        p = entry.platform or {}
        if p.get("os") == os_name and p.get("architecture") == architecture:
            variant = platform.facts.oci_variant
            if variant is None or p.get("variant") in (None, variant):
                return entry
    available = sorted({platform_of(e) for e in entries if platform_of(e) != "unknown/unknown"})
    raise PlatformNotFoundError(
        f"base image {reference} has no image for {os_name}/{architecture} (needed by "
        f"platform {platform}); it has: {', '.join(available) or 'none'}. Choose a base "
        "built for that platform, or bake for one of these."
    )


def check_python(base: BaseImage, python_minor: str) -> None:
    """Refuse a base whose config declares another Python than the environment's."""
    declared = base.python_minor
    if declared and declared != python_minor:
        raise ImageError(
            f"base image {base.reference} provides Python {declared} but the environment "
            f"is locked for Python {python_minor}: choose a python:{python_minor} base or "
            f"lock the environment with python='{declared}'"
        )
