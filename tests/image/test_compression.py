"""Layers compressed slice by slice on every core: one valid stream, bytes independent of the
number of threads, diff_id of the whole tar, gzip or zstd."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import zstandard

from bakery.errors import ImageError
from bakery.image import compression as compression_module
from bakery.image.compression import Compression, CompressionPool
from bakery.image.layer_stream import tar_members
from bakery.image.layers import Tree, write_layer
from bakery.image.oci import Descriptor

SLICE = 64 * 1024


@pytest.fixture
def small_slices(monkeypatch):
    monkeypatch.setattr(compression_module, "SLICE_BYTES", SLICE)


def tree(root: Path, files: int = 12, size: int = 40_000) -> Path:
    """Files of mixed text and random bytes: several slices' worth."""
    (root / "pkg").mkdir(parents=True)
    for i in range(files):
        text = f"line {i}\n".encode() * (size // 16)
        (root / "pkg" / f"m{i}.py").write_bytes(text + os.urandom(size // 2))
    return root


def gzip_members(blob: bytes) -> int:
    count = 0
    while blob:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        inflate.decompress(blob)
        blob = inflate.unused_data
        count += 1
    return count


def test_gzip_layer_is_many_members_read_as_one_stream(tmp_path, small_slices):
    layer = write_layer([Tree(tree(tmp_path / "t"), "opt/env")], tmp_path / "out", inside="opt")
    blob = layer.path.read_bytes()
    raw = gzip.decompress(blob)  # Python's gzip reads concatenated members, as runtimes do
    assert gzip_members(blob) == -(-len(raw) // SLICE) > 4
    assert layer.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert (layer.size, layer.uncompressed_size) == (len(blob), len(raw))
    names = tarfile.open(fileobj=io.BytesIO(raw)).getnames()
    assert "opt/env/pkg/m11.py" in names


def test_bytes_do_not_depend_on_the_number_of_threads(tmp_path, small_slices):
    source = [Tree(tree(tmp_path / "t"), "opt/env")]
    digests = set()
    for workers in (1, 2, 5):
        with CompressionPool(workers, max_in_flight=workers) as pool:
            out = tmp_path / f"out{workers}"
            digests.add(write_layer(source, out, inside="opt", pool=pool).digest)
    assert len(digests) == 1


def test_zstd_layer_is_frames_read_as_one_stream(tmp_path, small_slices):
    zstd = Compression.of("zstd")
    layer = write_layer(
        [Tree(tree(tmp_path / "t"), "opt/env")], tmp_path / "out", inside="opt", compression=zstd
    )
    assert layer.media_type == "application/vnd.oci.image.layer.v1.tar+zstd"
    blob = layer.path.read_bytes()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)
    raw = reader.read()
    assert layer.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert blob.count(b"\x28\xb5\x2f\xfd") >= -(-len(raw) // SLICE)  # a frame per slice
    # Bakery reads its own zstd layers back (bakery verify --image, base checks)
    descriptor = Descriptor(layer.media_type, layer.digest, layer.size)
    with open(layer.path, "rb") as raw_file:
        names = [info.name for info in tar_members(raw_file, descriptor)]
    assert "opt/env/pkg/m0.py" in names


def test_gzip_and_zstd_layers_have_their_own_cache_keys():
    codecs = {Compression.of("gzip").codec, Compression.of("gzip", 6).codec}
    codecs.add(Compression.of("zstd").codec)
    assert len(codecs) == 3


@pytest.mark.parametrize(
    ("format", "level", "message"),
    [("brotli", None, "unknown layer compression 'brotli'"), ("gzip", 12, "levels 1-9, not 12")],
)
def test_unknown_compression_is_one_clear_error(format, level, message):
    with pytest.raises(ImageError, match=message):
        Compression.of(format, level)


def test_writers_sharing_a_small_pool_never_wait_on_each_other(tmp_path, small_slices):
    """More layers than slots in flight: each writer frees slots by writing its own slices."""
    sources = [[Tree(tree(tmp_path / f"t{i}", files=4), "opt/env")] for i in range(4)]
    with CompressionPool(2, max_in_flight=2) as pool, ThreadPoolExecutor(4) as builders:
        layers = list(
            builders.map(
                lambda i: write_layer(sources[i], tmp_path / f"o{i}", inside="opt", pool=pool),
                range(4),
            )
        )
    assert all(gzip.decompress(layer.path.read_bytes()) for layer in layers)
