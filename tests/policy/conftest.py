"""Policies are written as real TOML files in tmp_path; no test reads this machine's own policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import bakery.policy.load
from bakery.policy import Policy, load_policy


@pytest.fixture(autouse=True)
def no_machine_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Unset the variable and move the machine's path into tmp_path (where no file exists)."""
    monkeypatch.delenv(bakery.policy.load.POLICY_FILE_ENV, raising=False)
    monkeypatch.setattr(bakery.policy.load, "MACHINE_POLICY_PATH", tmp_path / "etc" / "policy.toml")


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[str], Path]:
    """Write `text` to a fresh policy file in tmp_path and return its path."""
    count = 0

    def write(text: str) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"policy-{count}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def policy_from(write_policy: Callable[[str], Path]) -> Callable[[str], Policy]:
    """Write `text` as a policy file and load it through `load_policy`."""

    def load(text: str) -> Policy:
        policy = load_policy(write_policy(text))
        assert policy is not None
        return policy

    return load
