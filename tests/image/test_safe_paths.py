"""The gate every layer member passes: names normalized and kept inside the prefix, links
checked, nothing written through a link; a refused layer leaves no blob behind."""

from __future__ import annotations

import gzip
import io
import tarfile
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from bakery.errors import UnsafePathError
from bakery.image.layers import Entry, LayerCache, LayerJob, build_layers, write_layer
from bakery.image.safe_paths import ENV_ROOT, checked_member

REG, DIR, SYM, LNK = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def check(name: str, kind: bytes = REG, link: str = "") -> tuple[str, str]:
    return checked_member(name, kind, link, inside=ENV_ROOT, owner="package x")


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("opt/bakery/env/lib/a.py", "opt/bakery/env/lib/a.py"),
        ("./opt/bakery/env//lib/./a.py", "opt/bakery/env/lib/a.py"),
        ("opt/bakery/env/bin/", "opt/bakery/env/bin"),
        ("opt/bakery/env", "opt/bakery/env"),
    ],
)
def test_member_names_are_normalized(name, normalized):
    assert check(name) == (normalized, "")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("opt/bakery/env/bin/../../../../tmp/evil", "climbs out with '..'"),
        ("opt/bakery/env/lib/../bin/x", "climbs out with '..'"),
        ("/opt/bakery/env/bin/x", "is absolute"),
        ("/etc/passwd", "is absolute"),
        ("opt/bakery/env/bin/a\x00b", "NUL"),
        ("./", "is empty"),
        ("etc/passwd", "lies outside /opt/bakery/env"),
        ("opt/bakery/environment/x", "lies outside /opt/bakery/env"),
        ("opt/bakery", "lies outside /opt/bakery/env"),
    ],
)
def test_member_names_that_leave_the_prefix_are_refused(name, why):
    with pytest.raises(UnsafePathError, match=f"package x holds .*{why}") as refused:
        check(name)
    assert "stopped before pushing anything" in str(refused.value)


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("opt/bakery/env/bin/python3", "python3.11"),
        ("opt/bakery/env/lib/libz.so", "libz.so.1"),
        ("opt/bakery/env/lib64", "lib"),
        ("opt/bakery/env/share/x", "../lib/x"),
        ("opt/bakery/env/lib/a/b", "../../bin/tool"),
        # absolute: a path of the image's own root, resolved inside the container
        ("opt/bakery/env/bin/python", "/usr/local/bin/python3.11"),
    ],
)
def test_symlinks_inside_the_prefix_or_absolute_are_kept(name, target):
    assert check(name, SYM, target) == (name, target)


@pytest.mark.parametrize(
    "target", ["../../../../etc/passwd", "../../../../../../../../tmp", "../..", "..", ""]
)
def test_relative_symlinks_out_of_the_prefix_are_refused(target):
    with pytest.raises(UnsafePathError, match="symlink|NUL"):
        check("opt/bakery/env/bin", SYM, target)


def test_hard_links_must_name_a_member_inside_the_prefix():
    assert check("opt/bakery/env/b", LNK, "opt/bakery/env/a") == (
        "opt/bakery/env/b",
        "opt/bakery/env/a",
    )
    for target in ("etc/shadow", "/etc/shadow", "opt/bakery/env/../../../etc/shadow"):
        with pytest.raises(UnsafePathError):
            check("opt/bakery/env/b", LNK, target)


def test_devices_are_refused():
    with pytest.raises(UnsafePathError, match="device or fifo"):
        check("opt/bakery/env/dev/null", tarfile.CHRTYPE)


@dataclass(frozen=True)
class Listed:
    """A layer source listing given entries."""

    items: tuple[Entry, ...]
    label: str = "package x"

    def entries(self, stack: ExitStack):
        return iter(self.items)


def members(layer) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.path.read_bytes()))) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_a_layer_holds_normalized_names_and_its_folders(tmp_path):
    layer = write_layer([Listed((Entry.from_bytes("./opt/bakery/env//lib/a.py", b"x"),))], tmp_path)
    assert list(members(layer)) == [
        "opt",
        "opt/bakery",
        "opt/bakery/env",
        "opt/bakery/env/lib",
        "opt/bakery/env/lib/a.py",
    ]


@pytest.mark.parametrize(
    "entry",
    [
        Entry.from_bytes("opt/bakery/env/bin/../../../../tmp/evil", b"x"),
        Entry.from_bytes("/etc/cron.d/evil", b"x"),
        Entry("opt/bakery/env/lib/out", 0o777, SYM, linkname="../../../../etc"),
    ],
)
def test_a_refused_member_leaves_no_blob(tmp_path, entry):
    good = Entry.from_bytes("opt/bakery/env/lib/a.py", b"x")
    with pytest.raises(UnsafePathError, match="package x"):
        write_layer([Listed((good, entry))], tmp_path)
    assert list((tmp_path / "sha256").iterdir()) == []


def test_nothing_may_be_written_through_a_symlink_of_the_layer(tmp_path):
    link = Entry("opt/bakery/env/lib/out", 0o777, SYM, linkname="/etc")
    below = Entry.from_bytes("opt/bakery/env/lib/out/cron.d/evil", b"x")
    sources = [Listed((link,), "package a"), Listed((below,), "package b")]
    with pytest.raises(UnsafePathError, match="package b holds .* below the symlink .*package a"):
        write_layer(sources, tmp_path)
    assert list((tmp_path / "sha256").iterdir()) == []


def test_a_whole_root_filesystem_may_be_written_when_asked(tmp_path):
    entries = (
        Entry.from_bytes("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        Entry("usr/lib/x", 0o777, SYM, linkname="../../../lib/x"),
    )
    layer = write_layer([Listed(entries)], tmp_path, inside="")
    assert {"etc/passwd", "usr/lib/x"} <= set(members(layer))


def test_build_layers_refuses_before_caching_anything(tmp_path):
    cache = LayerCache(tmp_path / "cache")
    evil = Listed((Entry.from_bytes("opt/bakery/env/../../../etc/x", b"x"),))
    with pytest.raises(UnsafePathError):
        build_layers([LayerJob("k", (evil,), ("x==1",))], cache)
    assert cache.get("k") is None


def test_a_conda_file_read_through_a_symlinked_folder_is_refused(tmp_path):
    from bakery.image.stage_conda import CondaStaged
    from bakery.lock.model import LockedPackage

    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret").write_text("this machine's file\n")
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (prefix / "lib").symlink_to(outside)
    package = LockedPackage("conda", "evil", "1.0", "file:///x", "0" * 64, "evil-1.0-0.tar.bz2")
    staged = CondaStaged(package, "k", prefix, ("lib/secret",), "evil.json", b"{}", 1, None)
    with ExitStack() as stack, pytest.raises(UnsafePathError, match="symlink out of it"):
        list(staged.entries(stack))
