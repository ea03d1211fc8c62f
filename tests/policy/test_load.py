"""Where the policy comes from: an explicit path, $BAKERY_POLICY_FILE, the default path, or nowhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import bakery.policy.load
from bakery.errors import BakeryError, PolicyFileError
from bakery.policy import (
    DEFAULT_POLICY_PATH,
    POLICY_FILE_ENV,
    ImagePattern,
    RepositoryPrefix,
    find_policy_file,
    load_policy,
)

from .texts import EXAMPLE


def test_the_documented_defaults() -> None:
    assert POLICY_FILE_ENV == "BAKERY_POLICY_FILE"
    assert DEFAULT_POLICY_PATH == Path("/etc/bakery/policy.toml")


def test_no_variable_and_no_default_file_means_no_policy() -> None:
    assert find_policy_file() is None
    assert load_policy() is None


def test_the_full_example_loads(write_policy: Callable[[str], Path]) -> None:
    path = write_policy(EXAMPLE)
    policy = load_policy(path)
    assert policy is not None
    assert policy.path == path
    assert policy.version == 1
    assert policy.allowed_images == (
        ImagePattern.parse("registry.example.com/ml/*"),
        ImagePattern.parse("docker.io/library/python:3.11-slim"),
    )
    assert policy.on_the_fly is False
    assert policy.bake_registry == RepositoryPrefix("registry.example.com", "team/envs")


def test_every_section_is_optional(write_policy: Callable[[str], Path]) -> None:
    policy = load_policy(write_policy("version = 1\n"))
    assert policy is not None
    assert (policy.allowed_images, policy.on_the_fly, policy.bake_registry) == (None, None, None)


def test_the_variable_names_the_policy_file(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(EXAMPLE)
    monkeypatch.setenv(POLICY_FILE_ENV, str(path))
    policy = load_policy()
    assert policy is not None and policy.path == path


def test_the_variable_wins_over_the_default_path(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    default = write_policy("version = 1\n")
    chosen = write_policy(EXAMPLE)
    monkeypatch.setattr(bakery.policy.load, "DEFAULT_POLICY_PATH", default)
    monkeypatch.setenv(POLICY_FILE_ENV, str(chosen))
    policy = load_policy()
    assert policy is not None and policy.path == chosen


def test_the_default_path_is_read_when_it_exists(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    default = write_policy(EXAMPLE)
    monkeypatch.setattr(bakery.policy.load, "DEFAULT_POLICY_PATH", default)
    policy = load_policy()
    assert policy is not None and policy.path == default and policy.on_the_fly is False


def test_an_explicit_path_wins_over_the_variable(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = write_policy(EXAMPLE)
    monkeypatch.setenv(POLICY_FILE_ENV, str(write_policy("version = 1\n")))
    policy = load_policy(explicit)
    assert policy is not None and policy.path == explicit


def test_a_missing_explicit_path_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyFileError) as raised:
        load_policy(missing)
    assert str(missing) in str(raised.value)
    assert "does not exist" in str(raised.value)
    assert isinstance(raised.value, BakeryError)


def test_a_missing_file_named_by_the_variable_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv(POLICY_FILE_ENV, str(missing))
    with pytest.raises(PolicyFileError, match="does not exist") as raised:
        load_policy()
    assert str(missing) in str(raised.value)
    assert POLICY_FILE_ENV in str(raised.value)


def test_an_empty_variable_is_an_error_not_a_way_to_switch_the_policy_off(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bakery.policy.load, "DEFAULT_POLICY_PATH", write_policy(EXAMPLE))
    monkeypatch.setenv(POLICY_FILE_ENV, "  ")
    with pytest.raises(PolicyFileError, match=f"{POLICY_FILE_ENV} is set but empty"):
        load_policy()


def test_a_directory_is_an_unreadable_policy(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read policy file"):
        load_policy(tmp_path)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"version = 1\n# \xff\xfe\n")
    with pytest.raises(PolicyFileError, match="UTF-8"):
        load_policy(path)
