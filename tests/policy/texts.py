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


DIGEST_C = "0b2c6f0c4a1e3e1fd4c7e8d45b0f2f5e7a6b9c8d1e2f3a4b5c6d7e8f9a0b1c2d"

ADMISSION_EXAMPLE = f"""\
version = 1

[images]
allowed = [
    "registry.example.com/ml/*",
    "python:3.11-slim",
    "python:3.12-*",
    "team/app",
    "*.corp.io/x/*:v?",
    "127.0.0.1:5000/team/envs:*",
    "ghcr.io/acme/base@sha256:{DIGEST_C}",
    "localhost/*",
    "[::1]:5000/a",
    "docker.io/library/busybox:latest",
]
"""
"""A policy with every kind of pattern: registry globs, Docker Hub names, tags, digests, ports."""

REFERENCES = [
    # Docker Hub names and aliases; library/ added only for the exact spellings
    "python:3.11-slim",
    "docker.io/python:3.11-slim",
    "index.docker.io/library/python:3.11-slim",
    "registry-1.docker.io/python:3.11-slim",
    "Docker.io/python:3.11-slim",
    "DOCKER.IO/library/python:3.11-slim",
    "python",
    "busybox",
    "busybox:latest",
    "team/app",
    "docker.io/team/app:v2",
    "python:3.12-slim",
    "python:3.12",
    # tags and digests
    "python:3.11-slim@" + DIGEST_A,
    "team/app:v1@" + DIGEST_B,
    "busybox@" + DIGEST_A,
    "ghcr.io/acme/base@sha256:" + DIGEST_C,
    "ghcr.io/acme/base:v1@sha256:" + DIGEST_C,
    "ghcr.io/acme/base:v1",
    "ghcr.io/acme/base@" + DIGEST_A,
    "python@md5:" + "a" * 32,
    "python@sha256:" + "A" * 64,
    "python@sha512:" + "f" * 128,
    # registries: case, ports, IPv6, localhost
    "registry.example.com/ml/app",
    "REGISTRY.EXAMPLE.COM/ml/team/app:1",
    "registry.example.com:443/ml/app",
    "127.0.0.1:5000/team/envs:abc",
    "127.0.0.1:5000/team/envs@" + DIGEST_A,
    "127.0.0.1:5001/team/envs:abc",
    "localhost/a",
    "localhost:5000/a",
    "LOCALHOST/a",
    "[::1]:5000/a",
    "[::1]/a",
    "x.corp.io/x/y:v1",
    "x.corp.io/x/y:v10",
    "X.CORP.IO/x/y:v2",
    "corp.io/x/y:v1",
    # traversal and lookalikes
    "registry.example.com/ml/../evil/app",
    "registry.example.com/ml/./app",
    "registry.example.com/ML/app",
    "evil.com/registry.example.com/ml/app",
    "registry.example.com.evil.com/ml/app",
    "registry.example.com@evil.com/ml/app",
    "https://registry.example.com/ml/app",
    "registry.example.com/ml",
    "registry.example.com//ml/app",
    # whitespace (Python's str.strip(), Unicode included) and other characters
    " python:3.11-slim",
    "python:3.11-slim\t",
    "\u00a0python:3.11-slim",
    "\u200bpython:3.11-slim",
    "python:3.11-slim\u00e9",
    "Python:3.11-slim",
    "registry.example.com/ml/app:" + "t" * 128,
    "registry.example.com/ml/app:" + "t" * 129,
    "registry.example.com/ml/" + "b" * 252,
    "registry.example.com/ml/" + "b" * 253,
    "",
]
"""References to judge: tags, digests, aliases, ports, case, traversal tricks."""
