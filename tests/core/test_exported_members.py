"""The public surface: every name in `bakery.__all__` resolves, and importing `bakery` stays
light (a remote bootstrap imports it with the standard library only)."""

from __future__ import annotations

import subprocess
import sys

import bakery


def test_every_exported_name_resolves():
    for name in bakery.__all__:
        assert getattr(bakery, name) is not None, name


def test_all_is_sorted_and_unique():
    assert bakery.__all__ == sorted(set(bakery.__all__))


def test_importing_bakery_loads_nothing_heavy():
    code = "import sys, bakery, bakery.lock; print(sorted(m for m in ('httpx', 'rich', 'rattler', 'packaging') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
