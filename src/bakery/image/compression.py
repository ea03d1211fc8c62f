"""Layer compression on every core: the tar stream cut into fixed slices, each slice compressed
on its own (a gzip member, or a zstd frame) in a thread pool, written back in order.

Concatenated gzip members are one valid gzip stream (RFC 1952 §2.2), and concatenated zstd
frames one valid zstd stream: every runtime and registry reads them as a single layer. Slices
are cut at fixed uncompressed offsets, so the blob's bytes depend only on the tar and the
codec, never on how many threads compressed it; the uncompressed digest (the layer's diff_id)
is hashed as the slices go by. At most a few slices per worker are in flight: a layer of any
size is never held in memory.

Levels 1-3 of gzip use ISA-L's deflate (python-isal), several times faster than zlib's at a
similar size; 4-9 zlib's. zstd (`zstandard`) decompresses faster than either, for images that
are pulled more often than baked.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

try:  # ISA-L's deflate: several times faster than zlib at similar sizes (isal on PyPI)
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - platforms without isal wheels
    _isal_zlib = None

from ..errors import ImageError

GZIP = "gzip"
ZSTD = "zstd"
FORMATS = (GZIP, ZSTD)
MEDIA_TYPES = {
    GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
    ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd",
}
DEFAULT_LEVELS = {GZIP: 2, ZSTD: 3}
LEVELS = {GZIP: range(1, 10), ZSTD: range(1, 20)}
# Slices of this many uncompressed bytes each become one member/frame: large enough that the
# format's window (32 KiB for deflate) costs nothing measurable in size, small enough that a
# 50 MB package spreads over every core.
SLICE_BYTES = 4 << 20
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0, OS unknown


@dataclass(frozen=True)
class Compression:
    """How layers are compressed: `gzip` (levels 1-9) or `zstd` (levels 1-19)."""

    format: str = GZIP
    level: int = DEFAULT_LEVELS[GZIP]

    @classmethod
    def of(cls, format: str = GZIP, level: int | None = None) -> Compression:
        """The compression `format` at `level` (its default when None); checked."""
        if format not in FORMATS:
            raise ImageError(
                f"unknown layer compression {format!r}: use one of {', '.join(FORMATS)}"
            )
        level = DEFAULT_LEVELS[format] if level is None else level
        if level not in LEVELS[format]:
            levels = LEVELS[format]
            raise ImageError(
                f"{format} compression has levels {levels.start}-{levels.stop - 1}, not {level}"
            )
        if format == ZSTD:
            _zstandard()  # a missing library fails here, before anything is built
        return cls(format, level)

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def codec(self) -> str:
        """`isal2/4M`, `zlib6/4M`, `zstd3/4M`: names the exact bytes, for cache keys."""
        if self.format == ZSTD:
            name = f"zstd{self.level}"
        elif _isal_zlib is not None and self.level <= 3:
            name = f"isal{self.level}"
        else:
            name = f"zlib{self.level}"
        return f"{name}/{SLICE_BYTES >> 20}M"

    def compress_slice(self, data: bytes) -> bytes:
        """One self-contained gzip member or zstd frame holding `data` (runs without the GIL)."""
        if self.format == ZSTD:
            return _zstandard().ZstdCompressor(level=self.level).compress(data)
        if _isal_zlib is not None and self.level <= 3:
            deflate = _isal_zlib.compressobj(self.level, _isal_zlib.DEFLATED, -15)
        else:
            deflate = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = deflate.compress(data) + deflate.flush()
        trailer = zlib.crc32(data).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(
            4, "little"
        )
        return _GZIP_HEADER + body + trailer


def _zstandard():
    try:
        import zstandard
    except ImportError:  # pragma: no cover - zstandard is a dependency
        raise ImageError(
            "zstd layers need the `zstandard` package: `pip install zstandard`, or bake with "
            "--compression gzip"
        ) from None
    return zstandard


class CompressionPool:
    """Threads that compress slices for any number of layers at once, and a bound on the
    slices in flight across all of them (each is a few MiB in and out), so memory stays flat
    whatever the number of layers, cores or their sizes."""

    def __init__(self, workers: int, *, max_in_flight: int | None = None) -> None:
        self.workers = max(workers, 1)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="bakery-compress")
        self._slots = threading.Semaphore(max_in_flight or min(2 * self.workers + 2, 32))

    def __enter__(self) -> CompressionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def writer(
        self,
        out: BinaryIO,
        compression: Compression,
        on_bytes: Callable[[int], None] | None = None,
    ) -> ParallelCompressor:
        return ParallelCompressor(out, compression, self, on_bytes)


class ParallelCompressor:
    """A write-only file object for `tarfile`: hashes what it is given (diff_id), compresses it
    slice by slice in the pool, writes the compressed slices to `out` in order and hashes them
    (digest). `close()` writes what is left; `out` stays open."""

    def __init__(
        self,
        out: BinaryIO,
        compression: Compression,
        pool: CompressionPool,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self._out = out
        self._compression = compression
        self._pool = pool
        self._on_bytes = on_bytes
        self._pending: deque[tuple[Future[bytes], int]] = deque()
        self._buffer = bytearray()
        self.raw_sha = hashlib.sha256()
        self.compressed_sha = hashlib.sha256()
        self.raw_size = 0
        self.compressed_size = 0

    @property
    def out(self) -> BinaryIO:
        """Where the compressed slices go."""
        return self._out

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= SLICE_BYTES:
            piece = bytes(self._buffer[:SLICE_BYTES])
            del self._buffer[:SLICE_BYTES]
            self._submit(piece)
        return len(data)

    def tell(self) -> int:
        return self.raw_size + len(self._buffer)

    def close(self) -> None:
        """Compress what is buffered and write every slice still in flight."""
        if self._buffer or not self.raw_size:  # an empty stream is still one member
            self._submit(bytes(self._buffer))
            self._buffer.clear()
        while self._pending:
            self._write_oldest()

    def abandon(self) -> None:
        """Drop the slices still compressing (the layer failed): nothing more is written."""
        while self._pending:
            future, _ = self._pending.popleft()
            future.cancel()
            self._pool._slots.release()

    def _submit(self, piece: bytes) -> None:
        self.raw_sha.update(piece)
        self.raw_size += len(piece)
        # Wait for a slot by writing our own oldest slice out: a writer blocks on the shared
        # bound only when it holds no slot, so writers never wait on each other in a circle.
        while not self._pool._slots.acquire(blocking=not self._pending):
            self._write_oldest()
        try:
            future = self._pool._executor.submit(self._compression.compress_slice, piece)
        except BaseException:
            self._pool._slots.release()
            raise
        self._pending.append((future, len(piece)))

    def _write_oldest(self) -> None:
        future, raw_length = self._pending.popleft()
        try:
            data = future.result()
        finally:
            self._pool._slots.release()
        self._out.write(data)
        self.compressed_sha.update(data)
        self.compressed_size += len(data)
        if self._on_bytes is not None:
            self._on_bytes(raw_length)
