"""The public surface of bakery.container."""

from __future__ import annotations

import inspect

import bakery.container as container


def test_all_is_sorted_and_complete() -> None:
    assert container.__all__ == sorted(
        container.__all__, key=lambda name: (not name.isupper(), name)
    )
    public = {name for name in vars(container) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(container, name))}
    assert set(container.__all__) == public - modules - {"annotations"}


def test_entry_points_take_keyword_options() -> None:
    run = inspect.signature(container.run_container).parameters
    assert [name for name, p in run.items() if p.kind is p.KEYWORD_ONLY] == [
        "stream", "pull_first", "runtime",
    ]  # fmt: skip
    assert run["stream"].default is True
