"""A malformed policy file is one PolicyFileError naming the file, the key, the problem and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bakery.errors import PolicyFileError
from bakery.policy import load_policy

from .texts import DIGEST_A


def load_error(write_policy: Callable[[str], Path], text: str) -> str:
    path = write_policy(text)
    with pytest.raises(PolicyFileError) as raised:
        load_policy(path)
    message = str(raised.value)
    assert f"policy file {path}" in message
    return message


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["version is missing", "add `version = 1`"]),
        ("version = 2\n", ["version = 2 is not supported", "write `version = 1`"]),
        ('version = "1"\n', ["version must be an integer, not '1'"]),
        ("version = true\n", ["version must be an integer, not True"]),
        ("version = 1\nversion = 1\n", ["is not valid TOML", "fix the syntax"]),
        ("version = 1\n[images\n", ["is not valid TOML", "line 2"]),
    ],
)
def test_version_and_syntax(
    write_policy: Callable[[str], Path], text: str, fragments: list[str]
) -> None:
    message = load_error(write_policy, text)
    for fragment in fragments:
        assert fragment in message


def test_an_unknown_section_is_named_with_a_suggestion(
    write_policy: Callable[[str], Path],
) -> None:
    message = load_error(write_policy, "version = 1\n[image]\nallowed = []\n")
    assert "image is not a known key or section" in message
    assert "did you mean `images`?" in message


def test_an_unknown_key_in_a_section_is_named(write_policy: Callable[[str], Path]) -> None:
    message = load_error(
        write_policy, "version = 1\n[dependencies]\non_the_fly = false\non_the_fy = true\n"
    )
    assert "[dependencies] on_the_fy is not a known key of [dependencies]" in message
    assert "did you mean `on_the_fly`?" in message


def test_an_unknown_top_level_key_is_named(write_policy: Callable[[str], Path]) -> None:
    message = load_error(write_policy, 'version = 1\nowner = "ops"\n')
    assert "owner is not a known key or section" in message
    assert "`version`, `images`, `dependencies`, `bake`" in message


def test_a_section_without_its_key_is_an_error(write_policy: Callable[[str], Path]) -> None:
    message = load_error(write_policy, "version = 1\n[images]\n")
    assert "[images] has no `allowed`" in message
    assert "remove the section" in message


def test_a_section_that_is_not_a_table(write_policy: Callable[[str], Path]) -> None:
    message = load_error(write_policy, 'version = 1\nimages = ["python"]\n')
    assert "images must be a table" in message


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ('[images]\nallowed = "python"', ["[images] allowed must be a list of strings"]),
        ("[images]\nallowed = [3]", ["[images] allowed[0] must be a string, not 3"]),
        ('[dependencies]\non_the_fly = "no"', ["on_the_fly must be true or false, not 'no'"]),
        ("[bake]\nregistry = 5", ["[bake] registry must be a string, not 5"]),
    ],
)
def test_wrong_types(write_policy: Callable[[str], Path], body: str, fragments: list[str]) -> None:
    message = load_error(write_policy, f"version = 1\n{body}\n")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("Python:3.11", "must be lowercase"),
        (
            "registry.example.com/ml/**/",
            "invalid repository component '' in image reference 'ml/**/'",
        ),
        ("python:-bad", "invalid tag"),
        ("python:3.11 slim", "invalid tag"),
        (f"python:*@{DIGEST_A}", "cannot contain wildcards"),
        ("python@sha256:1234", "invalid digest"),
        ("", "empty pattern"),
        ("https://registry.example.com/ml/*", "drop the URL scheme"),
    ],
)
def test_a_bad_image_pattern_is_named_with_its_index(
    write_policy: Callable[[str], Path], pattern: str, fragment: str
) -> None:
    text = f'version = 1\n[images]\nallowed = ["python:3.11", "{pattern}"]\n'
    message = load_error(write_policy, text)
    assert f"[images] allowed[1] = {pattern!r} is not a valid image pattern" in message
    assert fragment in message
    assert "write a glob like" in message


@pytest.mark.parametrize(
    ("registry", "fragment"),
    [
        ("registry.example.com/team/*", "wildcards are not allowed"),
        ("registry.example.com/team/envs:v1", "without a tag or digest"),
        (f"registry.example.com/team/envs@{DIGEST_A}", "without a tag or digest"),
        ("registry.example.com/Team", "must be lowercase"),
        ("", "names no registry"),
    ],
)
def test_a_bad_bake_registry(
    write_policy: Callable[[str], Path], registry: str, fragment: str
) -> None:
    message = load_error(write_policy, f'version = 1\n[bake]\nregistry = "{registry}"\n')
    assert f"[bake] registry = {registry!r} is not a registry or repository path" in message
    assert fragment in message
