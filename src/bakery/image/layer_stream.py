"""Reading a layer as a stream of tar members: from a file or straight off the registry.

A layer is never held in memory or written to disk to be read: the blob's pieces are inflated
(ISA-L's inflate when available) and parsed as a tar stream as they arrive, and read to their
end so the registry client can check the digest of everything that came.
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from ..registry import RegistryClient
from .oci import Descriptor

try:  # ISA-L's inflate: several times faster than zlib's
    from isal.igzip import IGzipFile as _GzipFile
    from isal.isal_zlib import error as _InflateError
except ImportError:  # pragma: no cover - platforms without isal wheels
    from gzip import GzipFile as _GzipFile
    from zlib import error as _InflateError

READ_SIZE = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
try:
    from zstandard import ZstdError as _ZstdError
except ImportError:  # pragma: no cover - zstandard is a dependency
    _ZstdError = OSError
LAYER_ERRORS = (tarfile.TarError, _InflateError, zlib.error, _ZstdError, EOFError, OSError)
"""What reading a broken layer raises."""


class UnreadableLayer(Exception):
    """A layer in a format this Python cannot read, or outside the registry."""


@contextmanager
def registry_layer(client: RegistryClient, repository: str, digest: str) -> Iterator[BinaryIO]:
    """Blob `digest` of `repository` as a readable stream, downloaded as it is read."""
    pieces = client.iter_blob(repository, digest)
    try:
        yield io.BufferedReader(PiecesReader(pieces), READ_SIZE)
    finally:
        pieces.close()


def tar_members(
    raw: BinaryIO,
    layer: Descriptor,
    on_member: Callable[[tarfile.TarInfo, tarfile.TarFile], None] | None = None,
) -> Iterator[tarfile.TarInfo]:
    """The layer's tar headers, gzip or plain; reads `raw` to its end (so its digest is checked).

    `on_member(info, tar)` runs before each member is yielded, while its content can still be
    read (`tar.extractfile(info)`): a stream cannot go back to it later."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, READ_SIZE)
    head = buffered.peek(4)[:4]
    if head == _ZSTD_MAGIC or "zstd" in layer.media_type:
        stream = _zstd_reader(buffered, layer)
    elif head[:2] == _GZIP_MAGIC:
        stream = _GzipFile(fileobj=buffered, mode="rb")
    else:
        stream = buffered
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for info in tar:
            if on_member is not None:
                on_member(info, tar)
            yield info
    while buffered.read(READ_SIZE):
        pass  # past the tar's end-of-archive blocks: the rest must still hash to the digest


def _zstd_reader(raw: BinaryIO, layer: Descriptor) -> BinaryIO:
    try:
        import zstandard
    except ImportError:  # pragma: no cover - zstandard is a dependency
        raise UnreadableLayer(
            f"layer {layer.digest} is zstd-compressed and `zstandard` is not installed"
        ) from None
    # a layer may be several frames (Bakery compresses slices apart): read across them
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


class PiecesReader(io.RawIOBase):
    """A readable stream over an iterator of byte pieces (a blob being downloaded)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._left:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._left = piece
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size
