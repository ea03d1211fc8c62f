"""The example in docs/policies.md is a valid policy that means what the page says."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bakery.errors import PolicyViolation
from bakery.policy import Policy

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


def test_the_documented_example_loads_and_behaves_as_described(
    policy_from: Callable[[str], Policy],
) -> None:
    example = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert example is not None
    policy = policy_from(example.group(1))
    policy.check_image("registry.example.com/ml/team/app", step="a", source="workstation image")
    policy.check_image("python:3.12-slim", step="a", source="workstation image")
    with pytest.raises(PolicyViolation):
        policy.check_image("python:3.11", step="a", source="workstation image")
    with pytest.raises(PolicyViolation):
        policy.check_on_the_fly(step="a", decorator="@conda(packages={'numpy': '2.1'})")
    policy.check_bake_target("registry.example.com/team/envs/flow", step="a")
