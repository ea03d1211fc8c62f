"""Patterns are normalized as Docker normalizes references, then matched part by part."""

from __future__ import annotations

import pytest

from bakery.errors import PolicyFileError
from bakery.policy import ImagePattern, RepositoryPrefix
from bakery.registry.reference import ImageReference

from .texts import DIGEST_A, DIGEST_B


@pytest.mark.parametrize(
    ("pattern", "normalized"),
    [
        ("python", "docker.io/library/python"),
        ("python:*", "docker.io/library/python:*"),
        ("python:3.11-slim", "docker.io/library/python:3.11-slim"),
        ("docker.io/python:3.11", "docker.io/library/python:3.11"),
        ("index.docker.io/library/python", "docker.io/library/python"),
        ("registry-1.docker.io/team/app:*", "docker.io/team/app:*"),
        ("team/*", "docker.io/team/*"),
        ("*", "docker.io/library/*"),
        ("*/*", "*/*"),  # a wildcard in the first component makes it a registry glob
        ("*/ml/*", "*/ml/*"),
        ("registry.example.com/ml/*", "registry.example.com/ml/*"),
        ("Registry.Example.com/ml/*", "registry.example.com/ml/*"),
        ("*.example.com/ml/*", "*.example.com/ml/*"),
        ("127.0.0.1:5000/team/envs", "127.0.0.1:5000/team/envs"),
        ("127.0.0.1:5000/team/envs:*", "127.0.0.1:5000/team/envs:*"),
        ("localhost/app:v?", "localhost/app:v?"),
        (f"python@{DIGEST_A}", f"docker.io/library/python@{DIGEST_A}"),
        (f"python:3.11@{DIGEST_A}", f"docker.io/library/python@{DIGEST_A}"),
    ],
)
def test_patterns_are_normalized_like_references(pattern: str, normalized: str) -> None:
    parsed = ImagePattern.parse(pattern)
    assert str(parsed) == normalized
    assert parsed.text == pattern


def allowed(pattern: str, reference: str) -> bool:
    return ImagePattern.parse(pattern).matches(ImageReference.parse(reference))


@pytest.mark.parametrize(
    ("pattern", "reference"),
    [
        ("python:*", "python:3.11"),
        ("python:*", "docker.io/library/python:3.12-slim"),
        ("docker.io/library/python:*", "python"),
        ("python:3.11-*", "index.docker.io/library/python:3.11-slim"),
        ("python:latest", "python"),
        ("python", "python:3.11"),
        ("registry.example.com/ml/*", "registry.example.com/ml/train:v1"),
        ("registry.example.com/ml/*", "registry.example.com/ml/team/train"),
        ("registry.example.com/ml/*", "REGISTRY.example.com/ml/train:v1"),
        ("*.example.com/ml/*", "eu.registry.example.com/ml/train:v1"),
        ("127.0.0.1:5000/team/*", "127.0.0.1:5000/team/envs:abc"),
        ("localhost:5000/app:v?", "localhost:5000/app:v2"),
        ("team/*", "team/app:1"),
        ("*", "ubuntu:22.04"),
        ("*/*", "ghcr.io/org/app:1"),
        ("*/*", "python"),
        ("*/ml/*", "127.0.0.1:5000/ml/train"),
    ],
)
def test_globs_allow(pattern: str, reference: str) -> None:
    assert allowed(pattern, reference)


@pytest.mark.parametrize(
    ("pattern", "reference"),
    [
        ("python:3.11", "python"),  # untagged means :latest
        ("python:3.11", "python:3.11-slim"),
        ("python:*", "team/python:3.11"),
        ("python:*", "ghcr.io/library/python:3.11"),
        ("registry.example.com/ml/*", "registry.example.com/mlx/train:v1"),
        ("registry.example.com/ml/*", "registry.example.com:5000/ml/train"),
        ("registry.example.com/ml/*", "other.example.com/ml/train"),
        ("127.0.0.1:5000/team/*", "127.0.0.1:5001/team/envs"),
        ("127.0.0.1:5000/team/*", "127.0.0.1/team/envs"),
        # a wildcard in the registry never reaches into the repository
        ("*.example.com/ml/*", "evil.com/x.example.com/ml/train"),
        ("*", "team/app"),
        ("*", "ghcr.io/app"),
        ("localhost:5000/app:v?", "localhost:5000/app:v10"),
    ],
)
def test_globs_refuse(pattern: str, reference: str) -> None:
    assert not allowed(pattern, reference)


@pytest.mark.parametrize("pattern", ["python", "python:*", "docker.io/library/*"])
def test_a_digest_reference_is_allowed_by_a_glob_whose_tag_is_star_or_omitted(
    pattern: str,
) -> None:
    assert ImagePattern.parse(pattern).allows_digests
    assert allowed(pattern, f"python@{DIGEST_A}")
    assert allowed(pattern, f"python:3.11@{DIGEST_A}")


@pytest.mark.parametrize("pattern", ["python:3.11", "python:3.*", "python:latest"])
def test_a_digest_reference_is_refused_by_a_glob_with_a_tag(pattern: str) -> None:
    assert not ImagePattern.parse(pattern).allows_digests
    assert not allowed(pattern, f"python@{DIGEST_A}")
    # the tag next to a digest is ignored when pulling, so it proves nothing
    assert not allowed(pattern, f"python:3.11@{DIGEST_A}")


def test_a_digest_pattern_allows_that_digest_only() -> None:
    pattern = f"python@{DIGEST_A}"
    assert allowed(pattern, f"python@{DIGEST_A}")
    assert allowed(pattern, f"docker.io/library/python:3.11@{DIGEST_A}")
    assert not allowed(pattern, f"python@{DIGEST_B}")
    assert not allowed(pattern, "python:3.11")
    assert not allowed(pattern, "python")


def test_a_digest_pattern_allows_that_digest_in_its_repository_only() -> None:
    pattern = f"127.0.0.1:5000/team/envs@{DIGEST_A}"
    assert allowed(pattern, f"127.0.0.1:5000/team/envs@{DIGEST_A}")
    assert not allowed(pattern, f"127.0.0.1:5000/team/other@{DIGEST_A}")
    assert not allowed(pattern, f"127.0.0.1:5001/team/envs@{DIGEST_A}")


@pytest.mark.parametrize(
    ("text", "registry", "repository"),
    [
        ("registry.example.com", "registry.example.com", ""),
        ("registry.example.com/", "registry.example.com", ""),
        ("127.0.0.1:5000", "127.0.0.1:5000", ""),
        ("localhost", "localhost", ""),
        ("127.0.0.1:5000/team/envs", "127.0.0.1:5000", "team/envs"),
        ("registry.example.com/team/envs", "registry.example.com", "team/envs"),
        ("team/envs", "docker.io", "team/envs"),
        ("index.docker.io/team", "docker.io", "library/team"),
    ],
)
def test_bake_registries_are_normalized(text: str, registry: str, repository: str) -> None:
    assert RepositoryPrefix.parse(text) == RepositoryPrefix(registry, repository)


@pytest.mark.parametrize(
    ("prefix", "repository", "inside"),
    [
        ("registry.example.com/team/envs", "registry.example.com/team/envs", True),
        ("registry.example.com/team/envs", "registry.example.com/team/envs/flow:abc", True),
        ("registry.example.com/team/envs", "registry.example.com/team/envs2", False),
        ("registry.example.com/team/envs", "registry.example.com/team", False),
        ("registry.example.com/team/envs", "other.example.com/team/envs", False),
        ("registry.example.com", "registry.example.com/anything/at/all", True),
        ("127.0.0.1:5000", "127.0.0.1:5000/envs", True),
        ("127.0.0.1:5000", "127.0.0.1:5001/envs", False),
        ("team/envs", "docker.io/team/envs/x", True),
    ],
)
def test_bake_registry_contains(prefix: str, repository: str, inside: bool) -> None:
    assert RepositoryPrefix.parse(prefix).contains(ImageReference.parse(repository)) is inside


@pytest.mark.parametrize("text", ["Python:3.11", "python:*@sha256:" + "a" * 64, " "])
def test_a_bad_pattern_raises_policy_file_error(text: str) -> None:
    with pytest.raises(PolicyFileError):
        ImagePattern.parse(text)


def test_a_bad_bake_registry_raises_policy_file_error() -> None:
    with pytest.raises(PolicyFileError, match="invalid registry 'registry.example.com:abc'"):
        RepositoryPrefix.parse("registry.example.com:abc")
