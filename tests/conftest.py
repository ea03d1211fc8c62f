"""Shared pytest configuration: fixture modules live in tests/fixtures/, one per real service.

The suite is hermetic: it never sees the caller's Bakery or Metaflow settings, profile, Bakery
cache or the machine's admin policy (`/etc/bakery/policy.toml`), and its output checks do not
depend on the terminal's width. Tests that need a setting set it themselves.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.registry",
    "tests.fixtures.pretend_registry",
    "tests.fixtures.conda_channel",
    "tests.fixtures.flows",
    "tests.fixtures.private_index",
    "tests.fixtures.s3",
]

# what a caller's shell may set that would change what Bakery or Metaflow do
_CALLER_PREFIXES = ("METAFLOW_", "BAKERY_")
_CALLER_NAMES = ("CONDA_CHANNELS", "COLUMNS", "LINES", "FORCE_COLOR", "VIRTUAL_ENV")


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if name.startswith(_CALLER_PREFIXES) or name in _CALLER_NAMES:
            del os.environ[name]
    root = Path(tempfile.mkdtemp(prefix="bakery-tests-"))
    (root / "metaflow-home").mkdir()
    policy = root / "allow-all-policy.toml"
    policy.write_text("version = 1\n")
    os.environ.update(
        {
            "METAFLOW_HOME": str(root / "metaflow-home"),  # no profile of the caller's
            "BAKERY_POLICY_FILE": str(policy),  # not the machine's /etc/bakery/policy.toml
            "BAKERY_CACHE_DIR": str(root / "cache"),  # not the caller's cache
        }
    )


@pytest.fixture(autouse=True)
def _settings_read_per_test():
    """Each test's in-process Bakery reads the settings its own environment holds."""
    from bakery.settings import use

    use(None)
    yield
    use(None)
