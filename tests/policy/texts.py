"""Policy texts and digests the tests share."""

from __future__ import annotations

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64

EXAMPLE = """\
version = 1

[images]
allowed = ["registry.example.com/ml/*", "docker.io/library/python:3.11-slim"]

[dependencies]
on_the_fly = false

[bake]
registry = "registry.example.com/team/envs"
"""


def images_policy(*patterns: str) -> str:
    """The text of a policy whose only rule is `[images] allowed = patterns`."""
    quoted = ", ".join(f'"{pattern}"' for pattern in patterns)
    return f"version = 1\n\n[images]\nallowed = [{quoted}]\n"
