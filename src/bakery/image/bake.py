"""Bake: a locked environment on a base image -> layers -> config -> manifest, pushed.

Order matters: every blob (base layers, our layers, the config) is in the target repository
before the manifest that names them is pushed, so a failure leaves no partial image. A local
record of what was pushed where makes re-baking an unchanged environment cost one manifest HEAD.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import image_tags as tags
from ..envs.cache import default_cache_root, image_cache_dir
from ..errors import ImageError
from ..lock.model import LockedEnv
from ..registry import Credentials, RegistryClient
from ..registry.reference import ImageReference
from ..registry.referrers import Referrers
from .base import BaseImage, ManifestCache, check_python, resolve_base
from .base_check import BaseCommands, base_commands, base_search_path, check_base, python_links_job
from .compression import Compression
from .documents import BakedImage, attach_documents, image_documents, preload_sbom_writer
from .gc import mark_used
from .layers import DEFAULT_COMPRESSION, Layer, LayerCache, LayerJob, build_layers
from .oci import (
    ANNOTATION_BASE_DIGEST,
    ANNOTATION_BASE_NAME,
    ANNOTATION_LAYER_PACKAGES,
    LABEL_BASE,
    LABEL_ENV_ID,
    LABEL_LOCK_HASH,
    LABEL_PACKAGES,
    LABEL_PLATFORM,
    LABEL_PYTHON,
    OCI_MANIFEST,
    Descriptor,
    HistoryEntry,
    ImageManifest,
    canonical_json,
    config_descriptor,
    derive_config,
    merge_env,
)
from .plan import IMAGE_LAYER_LIMIT, package_layer_budget, plan_layers
from .progress import BakeProgress
from .records import IMAGE_VERSION, PushRecords
from .stage import ENV_ROOT, LAYOUT_VERSION, StageResult, site_packages_dir, stage_env


def default_cache_dir() -> Path:
    """`image/` under the Bakery cache root (`$BAKERY_CACHE_DIR`, else `~/.cache/bakery`)."""
    return image_cache_dir(default_cache_root())


@dataclass(frozen=True)
class BakeOptions:
    """How to bake: cache location, layer compression, registry access, and whether to show
    progress."""

    cache_dir: Path | None = None
    compression: Compression = DEFAULT_COMPRESSION
    refresh_base: bool = False  # re-resolve the base tag even if this env was baked on it
    insecure: bool | None = None
    credentials: Credentials | None = None
    progress: bool = True
    workers: int | None = None  # compression threads (default: every core)
    uploads: int = 4  # blobs pushed at once
    # extra environment variables for the image's config (part of what names the image)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BakeResult:
    """What a bake produced and what it cost."""

    image: str  # repository:tag
    digest: str
    base: str  # the base, pinned by digest
    bytes_uploaded: int
    layers_built: int
    layers_reused: int
    image_size: int  # compressed: base layers + ours + config
    seconds: float
    up_to_date: bool  # True when the image was already pushed and nothing was done
    notes: tuple[str, ...] = field(default=())
    # the SBOM and provenance attached to it: (artifactType, manifest digest)
    referrers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def reference(self) -> str:
        """`repository:tag@digest`: what to run."""
        return f"{self.image}@{self.digest}"


def image_tag(env: LockedEnv, base_digest: str, extra_env: Mapping[str, str] | None = None) -> str:
    """The content tag: the environment id, then a hash of the base digest, layout version and
    any extra environment variables (see `bakery.image_tags`)."""
    return tags.image_tag(env.env_id, base_digest, f"{LAYOUT_VERSION}.{IMAGE_VERSION}", extra_env)


def lock_hash(env: LockedEnv) -> str:
    """sha256 of the locked environment's canonical JSON (spec and artifacts)."""
    return hashlib.sha256(canonical_json(env.to_dict())).hexdigest()


def image_env(python_minor: str) -> dict[str, str]:
    """Environment variables that put the baked environment in front of the base's Python."""
    site = "/" + site_packages_dir(python_minor)
    return {
        "PATH": f"/{ENV_ROOT}/bin:${{PATH}}",
        "PYTHONPATH": f"{site}:${{PYTHONPATH}}",
        # the user site is our site-packages too, so Python also runs its .pth files
        "PYTHONUSERBASE": f"/{ENV_ROOT}",
    }


def bake(
    env: LockedEnv,
    *,
    base: str,
    repository: str,
    options: BakeOptions | None = None,
    client: RegistryClient | None = None,
    base_client: RegistryClient | None = None,
) -> BakeResult:
    """Bake `env` on `base` and push it to `repository` (`registry/name`, optionally `:tag`)."""
    options = options or BakeOptions()
    started = time.perf_counter()
    target = ImageReference.parse(repository)
    base_ref = ImageReference.parse(base)
    cache_dir = options.cache_dir or default_cache_dir()
    client = client or RegistryClient(
        target.registry, insecure=options.insecure, credentials=options.credentials
    )
    records = PushRecords(cache_dir / "pushed")
    record_key = records.key(target, env, base_ref, options.compression, options.env)
    record = None if options.refresh_base else records.get(record_key)
    if record and records.still_pushed(client, target, record):
        return BakeResult(
            image=str(target.with_tag(record["tag"])),
            digest=record["digest"],
            base=record["base"],
            bytes_uploaded=0,
            layers_built=0,
            layers_reused=record["layers"],
            image_size=record["image_size"],
            seconds=time.perf_counter() - started,
            up_to_date=True,
            referrers=tuple((kind, digest) for kind, digest in record["referrers"]["ours"]),
        )
    if base_client is None:
        same = base_ref.registry == target.registry
        base_client = client if same else RegistryClient(base_ref.registry)
    result, listing = _bake_fully(
        env, target, base_ref, options, cache_dir, client, base_client, started
    )
    records.put(
        record_key,
        {
            "tag": result.image.rsplit(":", 1)[1],
            "digest": result.digest,
            "base": result.base,
            "layers": result.layers_built + result.layers_reused,
            "image_size": result.image_size,
            "referrers": {**listing.record(), "ours": [list(r) for r in result.referrers]},
        },
    )
    return result


def _bake_fully(
    env: LockedEnv,
    target: ImageReference,
    base_ref: ImageReference,
    options: BakeOptions,
    cache_dir: Path,
    client: RegistryClient,
    base_client: RegistryClient,
    started: float,
) -> tuple[BakeResult, Referrers]:
    preload_sbom_writer()
    base = resolve_base(base_client, base_ref, env.spec.platform, ManifestCache(cache_dir))
    # a PyPI environment runs on the base's Python; a conda one brings its own
    base_python = None if any(p.name == "python" for p in env.by_kind("conda")) else env.python
    if base_python:
        check_python(base, base_python)
    keep = base_client.registry != client.registry  # its layers are copied below anyway
    commands = _base_commands(env, base, options, base_client, cache_dir, keep)
    check_base(base, commands, base_python)
    notes = [f"base image {base.pinned} not checked for bash and Python: {commands.unread}"]
    notes = notes if commands.unread else []
    stdlib_note = commands.stdlib_note(base_python) if base_python else None
    notes += [stdlib_note] if stdlib_note else []
    tag = target.tag or image_tag(env, base.digest, options.env)
    uploaded_before = client.bytes_uploaded
    _check_base_layer_count(base)
    with BakeProgress(enabled=options.progress) as progress, _Uploads(options.uploads) as uploads:
        staged = stage_env(env, cache_dir, background=True, progress=progress)
        try:
            jobs = _plan(env, staged, base, commands, base_python, options, notes)
            layers, built = build_layers(
                jobs,
                LayerCache(cache_dir),
                compression=options.compression,
                workers=options.workers,
                on_built=progress.layer_built,
                on_bytes=progress.layer_bytes,
                before_build=lambda job: staged.wait(job.sources),
                build_order=lambda job: staged.ready_rank(job.sources),
            )
            # Nothing is pushed before every layer is built: each member of each layer has
            # passed the layer gate (safe_paths), so a refused package leaves no trace there.
            # Then every blob goes up at once, the base's (present, mounted or copied) too.
            _push_base_layers(uploads, client, base_client, target, base, cache_dir, progress)
            for layer in layers:
                uploads.push_layer(client, target.repository, layer, progress)
            config_bytes = canonical_json(_config(env, base, layers, options.env))
            manifest = _manifest(base, layers, config_bytes)
            uploads.wait()  # every blob is in before the manifest that names them
            client.push_blob(target.repository, manifest.config.digest, config_bytes)
            digest = client.put_manifest(target.repository, tag, manifest.to_bytes(), OCI_MANIFEST)
        finally:
            staged.close()
    uploaded = client.bytes_uploaded - uploaded_before  # the image's bytes, not its documents'
    subject = Descriptor(OCI_MANIFEST, digest, len(manifest.to_bytes()))
    ours, listing = _attach_documents(
        env, client, target.with_tag(tag), subject, base, staged, options
    )
    result = BakeResult(
        image=str(target.with_tag(tag)),
        digest=digest,
        base=base.pinned,
        bytes_uploaded=uploaded,
        layers_built=built,
        layers_reused=len(layers) - built,
        image_size=base.size + sum(layer.size for layer in layers) + len(config_bytes),
        seconds=time.perf_counter() - started,
        up_to_date=False,
        notes=(*notes, *staged.notes),
        referrers=ours,
    )
    return result, listing


def _attach_documents(
    env: LockedEnv,
    client: RegistryClient,
    image: ImageReference,
    subject: Descriptor,
    base: BaseImage,
    staged: StageResult,
    options: BakeOptions,
) -> tuple[tuple[tuple[str, str], ...], Referrers]:
    """The image's SBOM and provenance, pushed as its referrers: ((type, digest), ...) and
    what now refers to the image."""
    documents = image_documents(
        env,
        BakedImage(image, subject.digest, base.reference, base.digest),
        {one.package.sha256: one.licenses for one in staged.packages},
        lock_hash=lock_hash(env),
        layout=f"{LAYOUT_VERSION}.{IMAGE_VERSION}",
        compression=options.compression.codec,
    )
    listing = attach_documents(client, image.repository, subject, documents)
    return tuple((d.artifact_type, d.manifest(subject).digest) for d in documents), listing


def _base_commands(
    env: LockedEnv,
    base: BaseImage,
    options: BakeOptions,
    base_client: RegistryClient,
    cache_dir: Path,
    keep_layers: bool,
) -> BaseCommands:
    """What the image's PATH finds in the base (bash, its Pythons), from the base's layers."""
    base_env = (base.config.get("config") or {}).get("Env") or []
    image_path = merge_env(base_env, {**image_env(env.python), **options.env})
    search_path = base_search_path(image_path)
    return base_commands(base, search_path, base_client, cache_dir, keep_layers=keep_layers)


def _config(
    env: LockedEnv, base: BaseImage, layers: list[Layer], extra_env: Mapping[str, str]
) -> dict:
    pins = sorted(f"{p.name}=={p.version}" for p in env.packages)
    labels = {
        LABEL_ENV_ID: env.env_id,
        LABEL_LOCK_HASH: lock_hash(env),
        LABEL_PACKAGES: json.dumps(pins),
        LABEL_PYTHON: env.python,
        LABEL_PLATFORM: str(env.spec.platform),
        LABEL_BASE: base.pinned,
    }
    history = [
        HistoryEntry(f"bakery: install {' '.join(layer.packages)}", comment="bakery")
        for layer in layers
    ]
    return derive_config(
        base.config,
        diff_ids=[layer.diff_id for layer in layers],
        env={**image_env(env.python), **extra_env},
        labels=labels,
        history=history,
    )


def _manifest(base: BaseImage, layers: list[Layer], config_bytes: bytes) -> ImageManifest:
    ours = tuple(
        Descriptor(
            layer.media_type,
            layer.digest,
            layer.size,
            annotations={ANNOTATION_LAYER_PACKAGES: ",".join(layer.packages)},
        )
        for layer in layers
    )
    base_layers = tuple(layer.as_oci_layer() for layer in base.manifest.layers)
    return ImageManifest(
        config=config_descriptor(config_bytes),
        layers=base_layers + ours,
        annotations={
            ANNOTATION_BASE_NAME: str(base.reference.with_tag(base.reference.tag or "latest")),
            ANNOTATION_BASE_DIGEST: base.digest,
        },
    )


def _plan(
    env: LockedEnv,
    staged: StageResult,
    base: BaseImage,
    commands: BaseCommands,
    base_python: str | None,
    options: BakeOptions,
    notes: list[str],
) -> list[LayerJob]:
    """The layers to build: the packages' (within the image's layer budget), the python links."""
    interpreter = commands.python(base_python) if base_python else None
    budget = package_layer_budget(len(base.manifest.layers), 1 if interpreter else 0)
    jobs = plan_layers(
        staged.packages, env.python, compression=options.compression, max_layers=budget
    )
    if interpreter:
        jobs.append(python_links_job(interpreter, options.compression))
    elif base_python:  # the base could not be read: its own `python3` has to do
        notes.append(f"`python` not added: the base's Python {base_python} is not known")
    return jobs


def _check_base_layer_count(base: BaseImage) -> None:
    count = len(base.manifest.layers)
    if count + package_layer_budget(count) + 1 > IMAGE_LAYER_LIMIT:
        raise ImageError(
            f"base image {base.pinned} has {count} layers: with the environment's, the image "
            f"would pass the ~{IMAGE_LAYER_LIMIT} layers container runtimes accept; use a base "
            "with fewer layers (e.g. squashed with `podman build --squash-all`)"
        )


class _Uploads:
    """Blobs pushed `workers` at a time, each once; `wait()` raises the first failure.

    Every blob is looked up in the registry before it is sent (`push_blob`), so a bake that
    was interrupted half-way resumes: the blobs already there cost one HEAD each."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max(workers, 1), thread_name_prefix="bakery-push")
        self._futures: dict[str, Future[object]] = {}

    def __enter__(self) -> _Uploads:
        return self

    def __exit__(self, *exc: object) -> None:
        # after a failure: what has not started is dropped, what is sending finishes
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, digest: str, work: Callable[[], object]) -> None:
        if digest not in self._futures:
            self._futures[digest] = self._pool.submit(work)

    def push_layer(
        self, client: RegistryClient, repository: str, layer: Layer, progress: BakeProgress
    ) -> None:
        self.submit(
            layer.digest,
            lambda: progress.push(client, repository, layer.digest, layer.path, layer.packages),
        )

    def wait(self) -> None:
        for future in list(self._futures.values()):
            future.result()


def _push_base_layers(
    uploads: _Uploads,
    client: RegistryClient,
    base_client: RegistryClient,
    target: ImageReference,
    base: BaseImage,
    cache_dir: Path,
    progress: BakeProgress,
) -> None:
    """Make the target repository hold the base's layers: present, mounted, or copied."""
    same_registry = base_client.registry == client.registry

    def one(layer: Descriptor) -> None:
        if client.blob_exists(target.repository, layer.digest):
            return
        if same_registry and client.mount_blob(
            target.repository, layer.digest, base.reference.repository
        ):
            return
        path = cache_dir / "blobs" / "sha256" / layer.digest.split(":", 1)[1]
        if path.is_file():
            mark_used(path)
        else:
            base_client.pull_blob(base.reference.repository, layer.digest, path)
        progress.push(client, target.repository, layer.digest, path, ("base layer",))

    for layer in base.manifest.layers:
        if not layer.urls:  # non-distributable layers stay where their urls point
            uploads.submit(layer.digest, lambda layer=layer: one(layer))
