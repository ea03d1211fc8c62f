"""Bake progress: every stage reports without error, and finished bars are removed."""

from __future__ import annotations

from pathlib import Path

from bakery.image.layers import Layer, LayerJob
from bakery.image.progress import BakeProgress


def test_each_stage_adds_a_bar_and_removes_it_when_done():
    job = LayerJob("k1", (), ("numpy==2.0",))
    layer = Layer("sha256:" + "a" * 64, "sha256:" + "b" * 64, 10, 20, Path("/nowhere"))
    with BakeProgress(enabled=True) as progress:
        bars = progress._progress
        with progress.fetching(3):
            assert [t.description for t in bars.tasks] == ["fetch 3 wheel(s)"]
        one_done = progress.compiling(2)
        one_done()
        assert bars.tasks[0].completed == 1
        one_done()
        progress.layer_bytes(job, 1000)
        progress.layer_bytes(job, 500)
        assert [(t.description, t.completed) for t in bars.tasks] == [("layer numpy==2.0", 1500)]
        progress.layer_built(job, layer)
        assert bars.tasks == []


def test_disabled_progress_draws_nothing():
    with BakeProgress(enabled=False) as progress:
        with progress.fetching(1):
            pass
        progress.compiling(1)()
        progress.layer_bytes(LayerJob("k", (), ()), 1)
