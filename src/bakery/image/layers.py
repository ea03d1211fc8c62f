"""Deterministic image layers: sorted tar entries, fixed metadata, fixed compression headers.

Equal file trees give byte-identical layer blobs on any machine, so two images that share a
package share its layer digest and a registry stores (and a node pulls) it once. A layer is
written in one pass: the tar stream is hashed (diff_id) and compressed (digest) as it goes,
slice by slice on every core (`compression.py`), layers also in parallel.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from ..errors import ImageError
from .compression import Compression, CompressionPool
from .gc import mark_used
from .safe_paths import ENV_ROOT, checked_member, refuse_members_below_symlinks

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
# A cold bake is compression-bound. Levels 1-3 use ISA-L's deflate (python-isal), levels 4-9
# zlib's. On 163 MB of pandas+requests: ISA-L 2 takes 0.28 s for 52.4 MB, zlib 1 1.24 s for
# 52.8 MB, zlib 6 3.6 s for 45.8 MB. Same gzip format either way; every registry reads both.
DEFAULT_COMPRESSION_LEVEL = 2
DEFAULT_COMPRESSION = Compression()


@dataclass(frozen=True)
class Entry:
    """One tar entry: a path inside the image (relative, POSIX) and where its bytes come from.

    `open` returns a binary stream of exactly `size` bytes (a file, a zip member, a buffer); it
    is called only while the layer is written, so a layer never holds its files in memory.
    """

    name: str
    mode: int = 0o644
    kind: bytes = tarfile.REGTYPE
    size: int = 0
    open: Callable[[], BinaryIO] | None = None
    linkname: str = ""

    @classmethod
    def from_bytes(cls, name: str, data: bytes, mode: int = 0o644) -> Entry:
        return cls(name, mode, tarfile.REGTYPE, len(data), lambda: io.BytesIO(data))

    def add_to(self, tar: tarfile.TarFile) -> None:
        info = _tarinfo(self.name, self.mode, self.kind, self.size, self.linkname)
        if self.open is None:
            tar.addfile(info)
            return
        with self.open() as stream:
            tar.addfile(info, stream)


def zip_member_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, mode: int = 0o644
) -> Entry:
    """An entry whose bytes are `info`'s in the (open) `archive`, read when the layer is written."""
    return Entry(name, mode, tarfile.REGTYPE, info.file_size, lambda: archive.open(info))


def bytecode_entries(stack: ExitStack, path: Path | None) -> Iterator[Entry]:
    """The `.pyc` files of a bytecode zip (members named by their image path), if any."""
    if path is None:
        return
    archive = stack.enter_context(zipfile.ZipFile(path))
    for info in archive.infolist():
        yield zip_member_entry(archive, info, info.filename)


class LayerSource(Protocol):
    """Anything that lists layer entries; files it opens are closed by `stack`. `label` names
    it in errors (the package, with its file)."""

    @property
    def label(self) -> str: ...

    def entries(self, stack: ExitStack) -> Iterable[Entry]: ...


@dataclass(frozen=True)
class Tree:
    """A directory on disk placed at `prefix` (a relative POSIX path) inside the image."""

    source: Path
    prefix: str

    @property
    def label(self) -> str:
        return f"folder {self.source}"

    def entries(self, stack: ExitStack) -> Iterator[Entry]:
        prefix = PurePosixPath(self.prefix)
        if str(prefix) != ".":  # "." places the tree at the root
            yield Entry(str(prefix), 0o755, tarfile.DIRTYPE)
        for dirpath, dirnames, filenames in os.walk(self.source):
            rel = PurePosixPath(Path(dirpath).relative_to(self.source).as_posix())
            for name in dirnames + filenames:
                source = os.path.join(dirpath, name)
                entry = disk_entry(str(prefix / rel / name), source, os.lstat(source))
                if entry is not None:
                    yield entry


def disk_entry(name: str, source: str, st: os.stat_result) -> Entry | None:
    if stat.S_ISDIR(st.st_mode):
        return Entry(name, 0o755, tarfile.DIRTYPE)
    if stat.S_ISLNK(st.st_mode):
        return Entry(name, 0o777, tarfile.SYMTYPE, linkname=os.readlink(source))
    if stat.S_ISREG(st.st_mode):
        mode = 0o755 if st.st_mode & 0o111 else 0o644
        return Entry(name, mode, tarfile.REGTYPE, st.st_size, lambda: open(source, "rb"))
    return None  # sockets, fifos and devices have no place in an environment layer


@dataclass(frozen=True)
class Layer:
    """A built layer blob: `digest` of the gzip bytes, `diff_id` of the tar, and where it lies."""

    digest: str
    diff_id: str
    size: int
    uncompressed_size: int
    path: Path
    packages: tuple[str, ...] = ()
    media_type: str = LAYER_MEDIA_TYPE

    def to_dict(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path)
        data["packages"] = list(self.packages)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Layer:
        return cls(**{**data, "path": Path(data["path"]), "packages": tuple(data["packages"])})


def _tarinfo(
    name: str, mode: int, kind: bytes, size: int = 0, linkname: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _checked_entries(
    sources: Sequence[LayerSource], stack: ExitStack, inside: str
) -> dict[str, Entry]:
    """Every source's entries through `checked_member`, by name, with the folders they need."""
    entries: dict[str, Entry] = {}
    owners: dict[str, str] = {}
    for source in sources:
        for entry in source.entries(stack):
            name, link = checked_member(
                entry.name, entry.kind, entry.linkname, inside=inside, owner=source.label
            )
            entries[name] = dataclasses.replace(entry, name=name, linkname=link)
            owners[name] = source.label
    refuse_members_below_symlinks({n: (e.kind, e.linkname, owners[n]) for n, e in entries.items()})
    for name in list(entries):
        for parent in _parents(name):
            if parent not in entries:
                entries[parent] = Entry(parent, 0o755, tarfile.DIRTYPE)
    return entries


def write_layer(
    sources: Sequence[LayerSource],
    dest_dir: Path,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    on_bytes: Callable[[int], None] | None = None,
    inside: str = ENV_ROOT,
    pool: CompressionPool | None = None,
) -> Layer:
    """Tar and compress the entries of `sources` into a blob under `dest_dir/sha256/`, named by
    its digest. Entries are sorted by name, and every parent folder gets an entry of its own.
    Every entry must lie inside `inside` ("": anywhere, e.g. a base image's root filesystem);
    `safe_paths.checked_member` refuses the rest before a byte of the layer is written.
    Slices are compressed in `pool` (shared by layers built at once), else in a pool of its own.

    The blob is written to a temporary file and renamed into place, so an interrupted or
    failed build (disk full) leaves nothing that looks like a finished layer.
    """
    blobs = dest_dir / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".layer-", dir=blobs)
    with ExitStack() as cleanup:
        if pool is None:
            pool = cleanup.enter_context(CompressionPool(os.cpu_count() or 2))
        sink = pool.writer(os.fdopen(fd, "wb"), compression, on_bytes)
        try:
            with ExitStack() as stack, sink.out:
                entries = _checked_entries(sources, stack, inside)
                with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for name in sorted(entries):
                        entries[name].add_to(tar)
                sink.close()
            final = blobs / sink.compressed_sha.hexdigest()
            os.replace(tmp, final)
        except BaseException:
            sink.abandon()
            Path(tmp).unlink(missing_ok=True)
            raise
    return Layer(
        digest="sha256:" + sink.compressed_sha.hexdigest(),
        diff_id="sha256:" + sink.raw_sha.hexdigest(),
        size=sink.compressed_size,
        uncompressed_size=sink.raw_size,
        path=final,
        media_type=compression.media_type,
    )


@dataclass(frozen=True)
class LayerJob:
    """A layer to build: its content key (for the cache), trees, and the packages it holds."""

    key: str
    sources: tuple[LayerSource, ...]
    packages: tuple[str, ...]


class LayerCache:
    """Built layers by content key: `layers/<key>.json` describing a blob in `blobs/sha256/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.index = root / "layers"

    def get(self, key: str) -> Layer | None:
        try:
            layer = Layer.from_dict(json.loads((self.index / f"{key}.json").read_text()))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        if not layer.path.is_file() or layer.path.stat().st_size != layer.size:
            return None
        mark_used(self.index / f"{key}.json")
        mark_used(layer.path)
        return layer

    def put(self, key: str, layer: Layer) -> None:
        write_atomic(self.index / f"{key}.json", json.dumps(layer.to_dict(), sort_keys=True))


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write a file through a temporary sibling and a rename: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_layers(
    jobs: Sequence[LayerJob],
    cache: LayerCache,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    workers: int | None = None,
    on_built: Callable[[LayerJob, Layer], None] | None = None,
    on_bytes: Callable[[LayerJob, int], None] | None = None,
    before_build: Callable[[LayerJob], None] | None = None,
    build_order: Callable[[LayerJob], int] | None = None,
    inside: str = ENV_ROOT,
) -> tuple[list[Layer], int]:
    """Build (or take from `cache`) one layer per job; returns (layers in job order, number built).

    Missing layers are built in parallel threads, started in `build_order` (default: job
    order), their slices compressed on `workers` threads (default: every core); `before_build` runs first in the building thread (to wait for inputs still being
    made), `on_bytes` as tar bytes are compressed. A full disk raises `ImageError`, a member
    outside `inside` `UnsafePathError` (see `write_layer`).
    """
    found = {job.key: cache.get(job.key) for job in jobs}
    todo = [job for job in jobs if found[job.key] is None]
    if build_order is not None:
        todo.sort(key=build_order)

    def build(job: LayerJob) -> Layer:
        if before_build:
            before_build(job)
        try:
            count = (lambda n: on_bytes(job, n)) if on_bytes else None
            layer = write_layer(
                job.sources,
                cache.blobs,
                compression=compression,
                on_bytes=count,
                inside=inside,
                pool=pool,
            )
        except OSError as e:
            raise ImageError(
                f"could not write the layer for {', '.join(job.packages) or job.key} in "
                f"{cache.blobs} ({e.strerror or e}): free disk space there or point "
                "BAKERY_CACHE_DIR at a larger disk, then bake again"
            ) from e
        layer = Layer(**{**layer.__dict__, "packages": job.packages})
        cache.put(job.key, layer)
        if on_built:
            on_built(job, layer)
        return layer

    if todo:
        threads = workers or os.cpu_count() or 2
        with CompressionPool(threads) as pool, ThreadPoolExecutor(threads) as builders:
            for job, layer in zip(todo, builders.map(build, todo), strict=True):
                found[job.key] = layer
    return [found[job.key] for job in jobs], len(todo)  # type: ignore[misc]
