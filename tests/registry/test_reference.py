"""ImageReference.parse follows Docker's normalization rules and explains what is wrong."""

from __future__ import annotations

import pytest

from bakery.cli.main import main
from bakery.errors import ImageReferenceError
from bakery.registry import ImageReference, push_target

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("python", "registry-1.docker.io", "library/python", None, None),
        ("python:3.11-slim", "registry-1.docker.io", "library/python", "3.11-slim", None),
        ("team/envs", "registry-1.docker.io", "team/envs", None, None),
        ("docker.io/python", "registry-1.docker.io", "library/python", None, None),
        ("index.docker.io/library/python:3", "registry-1.docker.io", "library/python", "3", None),
        ("registry-1.docker.io/python", "registry-1.docker.io", "library/python", None, None),
        ("127.0.0.1:5000/team/envs:abc", "127.0.0.1:5000", "team/envs", "abc", None),
        ("localhost/foo", "localhost", "foo", None, None),
        ("localhost:5000/foo/bar/baz:v1", "localhost:5000", "foo/bar/baz", "v1", None),
        ("ghcr.io/org/app", "ghcr.io", "org/app", None, None),
        (f"ghcr.io/org/app@{DIGEST}", "ghcr.io", "org/app", None, DIGEST),
        (f"quay.io/org/app:v2@{DIGEST}", "quay.io", "org/app", "v2", DIGEST),
        ("[::1]:5000/envs", "[::1]:5000", "envs", None, None),
        (
            "my-registry.example.com/a.b/c__d/e-f:T_1.0",
            "my-registry.example.com",
            "a.b/c__d/e-f",
            "T_1.0",
            None,
        ),
        ("  python  ", "registry-1.docker.io", "library/python", None, None),
    ],
)
def test_parse_normalizes_like_docker(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    assert ImageReference.parse(text) == ImageReference(registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty image reference"),
        ("Python", "must be lowercase"),
        ("ghcr.io/Org/app", "must be lowercase"),
        ("python:", "invalid tag"),
        ("python:-bad", "invalid tag"),
        ("python:" + "a" * 129, "invalid tag"),
        ("python@sha256:abc", "64"),
        ("python@md5", "invalid digest"),
        ("https://ghcr.io/org/app", "drop the URL scheme"),
        ("ghcr.io/", "no repository"),
        ("ghcr.io/org//app", "invalid repository component"),
        ("team/-envs", "invalid repository component"),
        ("my_registry:5000/app", "invalid registry"),
    ],
)
def test_parse_rejects_malformed_references_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ImageReferenceError, match=message) as caught:
        ImageReference.parse(text)
    if text:
        assert repr(text) in str(caught.value), "the message names the offending reference"
    lowercase_hint = "(try '" in str(caught.value)
    assert lowercase_hint or "a valid reference looks like" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1:5000/team/envs:abc",
        f"ghcr.io/org/app:v2@{DIGEST}",
        "docker.io/library/python:3.11",
    ],
)
def test_str_is_canonical_and_parses_back(text: str) -> None:
    reference = ImageReference.parse(text)
    assert str(reference) == text
    assert ImageReference.parse(str(reference)) == reference


def test_docker_hub_names_print_as_docker_io() -> None:
    assert str(ImageReference.parse("python")) == "docker.io/library/python"


def test_reference_prefers_digest_then_tag_then_latest() -> None:
    reference = ImageReference.parse("127.0.0.1:5000/team/envs")
    assert reference.reference == "latest"
    assert reference.with_tag("abc").reference == "abc"
    assert reference.with_tag("abc").with_digest(DIGEST).reference == DIGEST


def test_with_tag_drops_the_digest() -> None:
    pinned = ImageReference.parse(f"ghcr.io/org/app:v1@{DIGEST}")
    assert pinned.with_tag("v2") == ImageReference("ghcr.io", "org/app", "v2", None)


def test_with_tag_and_with_digest_validate() -> None:
    reference = ImageReference.parse("ghcr.io/org/app")
    with pytest.raises(ImageReferenceError, match="invalid tag"):
        reference.with_tag("no spaces")
    with pytest.raises(ImageReferenceError, match="invalid digest"):
        reference.with_digest("sha256")


def test_references_are_frozen_values() -> None:
    reference = ImageReference.parse("python")
    assert reference == ImageReference.parse("docker.io/library/python")
    assert len({reference, ImageReference.parse("python")}) == 1
    with pytest.raises(AttributeError):
        reference.tag = "x"  # type: ignore[misc]


@pytest.mark.parametrize("target", ["127.0.0.1:5000/team/envs", "ghcr.io/org/envs", "team/envs"])
def test_a_push_target_is_a_repository(target: str) -> None:
    parsed = push_target(target)
    assert parsed.tag is None and parsed.digest is None


@pytest.mark.parametrize(
    ("target", "pinned", "repository"),
    [
        ("127.0.0.1:5000/repo:tag", "tag 'tag'", "127.0.0.1:5000/repo"),
        ("ghcr.io/org/envs:latest", "tag 'latest'", "ghcr.io/org/envs"),
        (f"127.0.0.1:5000/repo@{DIGEST}", f"digest {DIGEST}", "127.0.0.1:5000/repo"),
    ],
)
def test_a_push_target_with_a_tag_or_digest_is_refused(
    target: str, pinned: str, repository: str
) -> None:
    with pytest.raises(ImageReferenceError) as caught:
        push_target(target, setting="METAFLOW_BAKERY_REGISTRY")
    message = str(caught.value)
    assert f"METAFLOW_BAKERY_REGISTRY {target!r} names a {pinned}" in message
    assert f"give a repository only, e.g. {repository!r}" in message
    assert "overwritten" in message


def test_bake_refuses_a_tagged_registry_before_locking_anything(tmp_path, capsys) -> None:
    missing_lock = tmp_path / "never-read.bakery.lock"
    code = main(["bake", "--lock", str(missing_lock), "--registry", "127.0.0.1:5000/repo:tag"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and "Traceback" not in err
    assert "--registry '127.0.0.1:5000/repo:tag' names a tag 'tag'" in err
    assert "e.g. '127.0.0.1:5000/repo'" in err
