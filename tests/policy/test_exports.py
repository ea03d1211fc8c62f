"""The public surface of bakery.policy is what the run path codes against."""

from __future__ import annotations

import inspect

import bakery.policy as policy


def test_all_is_sorted_and_complete() -> None:
    assert policy.__all__ == sorted(policy.__all__, key=lambda name: (not name.isupper(), name))
    public = {name for name in vars(policy) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(policy, name))}
    assert set(policy.__all__) == public - modules - {"annotations"}


def test_check_methods_take_keyword_only_context() -> None:
    def keyword_only(method: object) -> list[str]:
        parameters = inspect.signature(method).parameters.values()  # type: ignore[arg-type]
        return [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]

    assert keyword_only(policy.Policy.check_image) == ["step", "source"]
    assert keyword_only(policy.Policy.check_on_the_fly) == ["step", "decorator"]
    assert keyword_only(policy.Policy.check_bake_target) == ["step"]
