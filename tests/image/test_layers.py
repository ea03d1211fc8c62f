"""Layers are byte-for-byte reproducible, hashed right, cached, and fail cleanly."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from bakery.errors import ImageError
from bakery.image import compression as compression_module
from bakery.image.layers import LayerCache, LayerJob, Tree, build_layers, write_layer


def make_tree(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "pkg" / "sub" / "b.py").write_text("y = 2\n")
    (root / "tool").write_text("#!/bin/sh\n")
    (root / "tool").chmod(0o700)
    (root / "link").symlink_to("pkg/__init__.py")
    return root


def test_same_tree_gives_same_digest_whatever_the_mtimes(tmp_path):
    tree = make_tree(tmp_path / "a")
    first = write_layer([Tree(tree, "opt/env")], tmp_path / "out1", inside="opt/env")
    os.utime(tree / "pkg" / "__init__.py", (1, 1))
    second = write_layer([Tree(tree, "opt/env")], tmp_path / "out2", inside="opt/env")
    assert (first.digest, first.diff_id) == (second.digest, second.diff_id)


def test_digests_hash_the_blob_and_the_tar(tmp_path):
    layer = write_layer(
        [Tree(make_tree(tmp_path / "a"), "opt/env")], tmp_path / "out", inside="opt/env"
    )
    blob = layer.path.read_bytes()
    assert layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert layer.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    assert layer.size == len(blob) and layer.path.name == layer.digest[7:]


def test_gzip_header_has_no_name_and_no_mtime(tmp_path):
    layer = write_layer([Tree(make_tree(tmp_path / "a"), "x")], tmp_path / "out", inside="x")
    header = layer.path.read_bytes()[:10]
    assert header[3] == 0 and header[4:8] == b"\0\0\0\0"


def test_entries_are_sorted_normalized_and_include_parents(tmp_path):
    layer = write_layer(
        [Tree(make_tree(tmp_path / "a"), "opt/env")], tmp_path / "out", inside="opt/env"
    )
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.path.read_bytes()))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names[:2] == ["opt", "opt/env"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    by_name = {m.name: m for m in members}
    assert by_name["opt/env/tool"].mode == 0o755
    assert by_name["opt/env/pkg/__init__.py"].mode == 0o644
    assert by_name["opt/env/link"].issym() and by_name["opt/env/link"].linkname == "pkg/__init__.py"
    assert not any(m.pax_headers for m in members)


def test_cached_layer_is_not_rebuilt(tmp_path):
    cache = LayerCache(tmp_path / "cache")
    job = LayerJob("k1", (Tree(make_tree(tmp_path / "a"), "opt"),), ("a==1",))
    (first,), built = build_layers([job], cache, inside="opt")
    assert built == 1 and first.packages == ("a==1",)
    (again,), built = build_layers([job], cache, inside="opt")
    assert built == 0 and again == first


def test_full_disk_raises_image_error_and_leaves_no_partial_blob(tmp_path, monkeypatch):
    write_oldest = compression_module.ParallelCompressor._write_oldest

    def full_disk(self) -> None:
        if self.compressed_size > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        write_oldest(self)

    monkeypatch.setattr(compression_module, "SLICE_BYTES", 4096)
    monkeypatch.setattr(compression_module.ParallelCompressor, "_write_oldest", full_disk)
    cache = LayerCache(tmp_path / "cache")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "big").write_bytes(os.urandom(100_000))
    job = LayerJob("k1", (Tree(tmp_path / "a", "opt"),), ("big==1",))
    with pytest.raises(ImageError, match="No space left on device.*BAKERY_CACHE_DIR"):
        build_layers([job], cache, inside="opt")
    assert list((tmp_path / "cache" / "blobs" / "sha256").iterdir()) == []
    assert cache.get("k1") is None
