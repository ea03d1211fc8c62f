"""OCI image config and manifest, as canonical JSON bytes so that equal images have equal digests.

Base images may use Docker's v2 media types; the image Bakery writes is always OCI, with
Docker layer types translated to their OCI equivalents (the bytes are the same).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
# OCI 1.1 artifacts: an image manifest whose config is the empty descriptor, typed by `artifactType`
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)

_DOCKER_TO_OCI_LAYER = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": OCI_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    ),
}

LABEL_ENV_ID = "dev.bakery.env-id"
LABEL_LOCK_HASH = "dev.bakery.lock-hash"
LABEL_PACKAGES = "dev.bakery.packages"
LABEL_PYTHON = "dev.bakery.python"
LABEL_PLATFORM = "dev.bakery.platform"
LABEL_BASE = "dev.bakery.base"
ANNOTATION_LAYER_PACKAGES = "dev.bakery.layer.packages"
ANNOTATION_BASE_NAME = "org.opencontainers.image.base.name"
ANNOTATION_BASE_DIGEST = "org.opencontainers.image.base.digest"
# The PATH runtimes (runc, containerd, podman, Kubernetes) give a process when the image sets
# none, as a base made by `podman import`, `docker import` or FROM scratch does.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def created_timestamp() -> str:
    """`SOURCE_DATE_EPOCH` if set, else the epoch: a bake does not depend on when it ran."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: media type, digest and size, optionally annotations and platform."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] | None = None
    platform: Mapping[str, str] | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None  # in a referrers index: what the referrer is

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        if self.platform:
            data["platform"] = dict(self.platform)
        if self.urls:
            data["urls"] = list(self.urls)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Descriptor:
        return cls(
            media_type=data.get("mediaType", ""),
            digest=data["digest"],
            size=int(data["size"]),
            annotations=data.get("annotations"),
            platform=data.get("platform"),
            urls=tuple(data.get("urls", ())),
            artifact_type=data.get("artifactType"),
        )

    def as_oci_layer(self) -> Descriptor:
        """The same blob described with OCI's layer media type."""
        media_type = _DOCKER_TO_OCI_LAYER.get(self.media_type, self.media_type)
        return Descriptor(media_type, self.digest, self.size, self.annotations, None, self.urls)


@dataclass(frozen=True)
class ImageManifest:
    """An OCI image manifest; `to_bytes()` is what is pushed and what `digest` hashes.

    An artifact (OCI 1.1) has an `artifact_type` and usually a `subject`: the manifest it is
    about (an SBOM of an image names the image)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    subject: Descriptor | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.config.to_dict(),
            "layers": [layer.to_dict() for layer in self.layers],
        }
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.subject is not None:
            data["subject"] = self.subject.to_dict()
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        return data

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def digest(self) -> str:
        return sha256_digest(self.to_bytes())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageManifest:
        """Read an OCI or Docker v2 image manifest."""
        return cls(
            config=Descriptor.from_dict(data["config"]),
            layers=tuple(Descriptor.from_dict(d) for d in data.get("layers", ())),
            annotations=dict(data.get("annotations") or {}),
            artifact_type=data.get("artifactType"),
            subject=Descriptor.from_dict(data["subject"]) if data.get("subject") else None,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of `history`: what a layer (or an empty step) came from."""

    created_by: str
    comment: str = ""
    empty_layer: bool = False

    def to_dict(self, created: str) -> dict[str, Any]:
        data: dict[str, Any] = {"created": created, "created_by": self.created_by}
        if self.comment:
            data["comment"] = self.comment
        if self.empty_layer:
            data["empty_layer"] = True
        return data


def derive_config(
    base_config: Mapping[str, Any],
    *,
    diff_ids: Sequence[str],
    env: Mapping[str, str],
    labels: Mapping[str, str],
    history: Sequence[HistoryEntry],
) -> dict[str, Any]:
    """The image config: the base's, plus our layers, environment variables and labels.

    `env` values may refer to the base's value as `${NAME}` (e.g. `PATH=/x/bin:${PATH}`); a
    base without PATH counts as having the runtimes' `DEFAULT_PATH`. Everything else of the base (Cmd, Entrypoint, User, WorkingDir) is kept.
    """
    config = copy.deepcopy(dict(base_config))
    created = created_timestamp()
    inner = dict(config.get("config") or {})
    inner["Env"] = merge_env(inner.get("Env") or [], env)
    inner["Labels"] = {**(inner.get("Labels") or {}), **labels}
    inner.setdefault("WorkingDir", "/")
    config["config"] = inner
    rootfs = dict(config.get("rootfs") or {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), *diff_ids]
    config["rootfs"] = rootfs
    config["history"] = [*config.get("history", []), *(h.to_dict(created) for h in history)]
    config["created"] = created
    for docker_only in ("container", "container_config", "docker_version", "id", "parent"):
        config.pop(docker_only, None)  # describe the base's build container, not ours
    return config


def merge_env(base_env: Sequence[str], ours: Mapping[str, str]) -> list[str]:
    """`NAME=value` items: the base's, with ours set over them (see `derive_config`)."""
    merged = dict(item.split("=", 1) if "=" in item else (item, "") for item in base_env)
    for name, value in ours.items():
        # without this, `PATH=/opt/bakery/env/bin:${PATH}` would hide the base's bash and python
        previous = merged.get(name, DEFAULT_PATH if name == "PATH" else "")
        value = value.replace("${" + name + "}", previous)
        merged[name] = value.replace("::", ":").strip(":")
    return [f"{name}={value}" for name, value in merged.items()]


def config_descriptor(config_bytes: bytes) -> Descriptor:
    return Descriptor(OCI_CONFIG, sha256_digest(config_bytes), len(config_bytes))


def platform_of(descriptor: Descriptor) -> str:
    """`linux/amd64` (with `/variant` if any) for an index entry."""
    p = descriptor.platform or {}
    text = f"{p.get('os', '?')}/{p.get('architecture', '?')}"
    return f"{text}/{p['variant']}" if p.get("variant") else text
