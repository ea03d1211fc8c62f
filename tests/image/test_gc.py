"""The image cache is kept by use: what no bake used for a while goes, a re-bake still works."""

from __future__ import annotations

import os
import time

import pytest

from bakery.cli.main import main
from bakery.image.bake import BakeOptions, bake
from bakery.image.gc import collect_image_garbage
from bakery.image.layers import LayerCache

from .locks import lock

pytestmark = [pytest.mark.slow, pytest.mark.container]
DAY = 86400


def bake_idna(base_images, cache_dir, repository: str = "t/gc"):
    options = BakeOptions(cache_dir=cache_dir, progress=False)
    env = lock(("idna==3.10",))
    return bake(
        env, base=base_images.oci, repository=f"{base_images.host}/{repository}", options=options
    )


def test_recently_used_entries_stay_and_old_ones_go(base_images, cache_dir):
    first = bake_idna(base_images, cache_dir)
    kept = collect_image_garbage(cache_dir, max_age_days=30)
    assert kept.removed_count == 0 and kept.kept > 0

    later = collect_image_garbage(cache_dir, max_age_days=30, now=time.time() + 31 * DAY)
    assert {"wheel", "bytecode", "layer record", "push record", "blob"} <= later.removed.keys()
    assert later.bytes_freed > 0
    leftovers = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert leftovers == []

    again = bake_idna(base_images, cache_dir)  # everything is made again
    assert again.digest == first.digest and not again.up_to_date


def test_a_bake_marks_what_it_reuses(base_images, cache_dir):
    bake_idna(base_images, cache_dir)
    old = time.time() - 40 * DAY
    for path in cache_dir.rglob("*"):
        os.utime(path, (old, old))
    bake_idna(base_images, cache_dir, repository="t/gc-other")  # reuses wheels, bytecode, layers
    report = collect_image_garbage(cache_dir, max_age_days=30)
    assert "wheel" not in report.removed and "bytecode" not in report.removed
    assert "layer record" not in report.removed and "blob" not in report.removed
    assert report.removed.get("push record") == 1  # the first repository's record was not used


def test_a_kept_layer_keeps_its_blob(base_images, cache_dir):
    bake_idna(base_images, cache_dir)
    old = time.time() - 40 * DAY
    cache = LayerCache(cache_dir)
    for blob in (cache_dir / "blobs" / "sha256").iterdir():
        os.utime(blob, (old, old))
    records = list((cache_dir / "layers").glob("*.json"))
    collect_image_garbage(cache_dir, max_age_days=30)  # the base's old config blob may go
    assert records and all(cache.get(record.stem) for record in records)


def test_obsolete_and_unfinished_files_go(cache_dir):
    (cache_dir / "staged" / "abc" / "site").mkdir(parents=True)
    (cache_dir / "staged" / "abc" / "site" / "x.py").write_text("x = 1\n")
    blobs = cache_dir / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (blobs / ".layer-old").write_bytes(b"partial")
    (blobs / ".layer-new").write_bytes(b"being written")
    hours_ago = time.time() - 2 * 3600
    os.utime(blobs / ".layer-old", (hours_ago, hours_ago))
    report = collect_image_garbage(cache_dir, max_age_days=30)
    assert report.removed == {"obsolete cache": 1, "unfinished file": 1}
    assert not (cache_dir / "staged").exists() and (blobs / ".layer-new").exists()


def test_gc_command_reports_without_removing_on_dry_run(capsys, cache_dir):
    (cache_dir / "staged").mkdir(parents=True)
    (cache_dir / "staged" / "f").write_bytes(b"x" * 2_000_000)
    assert main(["image", "gc", "--dry-run", "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "would remove 1 obsolete cache(s)" in out and "would free 2.0 MB" in out
    assert f"would remove obsolete cache  {cache_dir / 'staged'}  2.0 MB" in out
    assert (cache_dir / "staged" / "f").exists()
    assert main(["image", "gc", "--cache-dir", str(cache_dir)]) == 0
    assert "freed 2.0 MB" in capsys.readouterr().out and not (cache_dir / "staged").exists()
