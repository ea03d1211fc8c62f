"""Helpers for the conda tests: specs against the test channels, a per-test package cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bakery.spec import EnvSpec, Requirement, TargetPlatform, host_python_version

MakeSpec = Callable[..., EnvSpec]


@pytest.fixture
def make_spec() -> MakeSpec:
    """`make_spec("tinylib", "b<2", platform="osx-arm64")`: an EnvSpec for the test channels.

    A package is `name`, `name<op>version` or `channel::name`; python defaults to this
    interpreter's version, which is the one the test channel's `python` package wraps.
    """

    def make(
        *packages: str,
        python: str | None = None,
        platform: str | None = None,
        channels: tuple[str, ...] = (),
    ) -> EnvSpec:
        return EnvSpec(
            python=python or host_python_version(),
            conda=tuple(_requirement(p) for p in packages),
            channels=channels,
            platform=TargetPlatform.parse(platform) if platform else TargetPlatform.host(),
        )

    return make


def _requirement(text: str) -> Requirement:
    channel, _, rest = text.rpartition("::")
    for index, char in enumerate(rest):
        if char in "<>=!~":
            return Requirement(rest[:index], rest[index:], channel or None)
    return Requirement(rest, "", channel or None)


@pytest.fixture
def package_cache(tmp_path: Path) -> Path:
    """An empty rattler package cache for one test."""
    return tmp_path / "pkg-cache"
