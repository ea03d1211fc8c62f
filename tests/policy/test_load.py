"""Which policy files are in force: the machine's whenever it exists, plus one a user may name,
which only adds restrictions. The attacks of issue #13 (a user's BAKERY_POLICY_FILE,
METAFLOW_HOME or METAFLOW_PROFILE picking a permissive file) each have a test here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import bakery.policy.load
from bakery.errors import BakeryError, PolicyFileError, PolicyViolation
from bakery.policy import (
    MACHINE_POLICY_PATH,
    POLICY_FILE_ENV,
    ImagePattern,
    RepositoryPrefix,
    find_policy_files,
    load_policies,
    load_policy,
)

from .texts import EXAMPLE

PERMISSIVE = "version = 1\n"
NO_ON_THE_FLY = "version = 1\n[dependencies]\non_the_fly = false\n"
PANDAS = "@pypi(packages={'pandas': '2.2.3'})"


@pytest.fixture
def machine_policy(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Path]:
    """Write `text` as the machine's policy file (the stand-in for /etc/bakery/policy.toml)."""

    def write(text: str) -> Path:
        path = write_policy(text)
        monkeypatch.setattr(bakery.policy.load, "MACHINE_POLICY_PATH", path)
        return path

    return write


def test_the_documented_defaults() -> None:
    assert POLICY_FILE_ENV == "BAKERY_POLICY_FILE"
    assert MACHINE_POLICY_PATH == Path("/etc/bakery/policy.toml")


def test_no_machine_file_and_no_setting_means_no_policy() -> None:
    assert find_policy_files() == []
    policies = load_policies()
    assert not policies and policies.files == ()
    policies.check_on_the_fly(step="a", decorator=PANDAS)  # nothing is constrained


def test_the_full_example_loads(write_policy: Callable[[str], Path]) -> None:
    path = write_policy(EXAMPLE)
    policy = load_policy(path)
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
    assert (policy.allowed_images, policy.on_the_fly, policy.bake_registry) == (None, None, None)


def test_the_machine_file_is_in_force_when_it_exists(
    machine_policy: Callable[[str], Path],
) -> None:
    path = machine_policy(NO_ON_THE_FLY)
    policies = load_policies()
    assert [p.path for p in policies.files] == [path]
    with pytest.raises(PolicyViolation) as raised:
        policies.check_on_the_fly(step="score", decorator=PANDAS)
    assert f"Policy file in force: {path} (the machine's policy file" in str(raised.value)


def test_the_variable_names_a_policy_file(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(EXAMPLE)
    monkeypatch.setenv(POLICY_FILE_ENV, str(path))
    policies = load_policies()
    assert [p.path for p in policies.files] == [path]
    assert "BAKERY_POLICY_FILE in the environment" in policies.files[0].origin


def test_a_permissive_file_in_the_variable_does_not_replace_the_machine_file(
    machine_policy: Callable[[str], Path],
    write_policy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine = machine_policy(NO_ON_THE_FLY)
    mine = write_policy(PERMISSIVE)
    monkeypatch.setenv(POLICY_FILE_ENV, str(mine))
    policies = load_policies()
    assert [p.path for p in policies.files] == [machine, mine]
    with pytest.raises(PolicyViolation) as raised:
        policies.check_on_the_fly(step="score", decorator=PANDAS)
    message = str(raised.value)
    assert f"{machine} (the machine's policy file, in force whenever it exists)" in message
    assert f"{mine} (BAKERY_POLICY_FILE in the environment; it adds to the machine's" in message


def test_a_user_file_adds_restrictions_to_the_machine_file(
    machine_policy: Callable[[str], Path],
    write_policy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine_policy('version = 1\n[images]\nallowed = ["python:*"]\n')
    monkeypatch.setenv(POLICY_FILE_ENV, str(write_policy(NO_ON_THE_FLY)))
    policies = load_policies()
    policies.check_image("python:3.11", step="a", source="@kubernetes(image=...)")
    with pytest.raises(PolicyViolation, match="ubuntu"):
        policies.check_image("ubuntu", step="a", source="@kubernetes(image=...)")
    with pytest.raises(PolicyViolation, match="on_the_fly = false"):
        policies.check_on_the_fly(step="a", decorator=PANDAS)


def test_the_metaflow_variable_cannot_replace_the_machine_file(
    machine_policy: Callable[[str], Path],
    write_policy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine_policy(NO_ON_THE_FLY)
    monkeypatch.setenv("METAFLOW_BAKERY_POLICY_FILE", str(write_policy(PERMISSIVE)))
    with pytest.raises(PolicyViolation, match="METAFLOW_BAKERY_POLICY_FILE in the environment"):
        load_policies().check_on_the_fly(step="a", decorator=PANDAS)


def _metaflow_home(folder: Path, policy: Path, profile: str | None = None) -> Path:
    folder.mkdir()
    name = f"config_{profile}.json" if profile else "config.json"
    (folder / name).write_text(json.dumps({"METAFLOW_BAKERY_POLICY_FILE": str(policy)}))
    return folder


def test_a_metaflow_home_of_ones_own_cannot_replace_the_machine_file(
    machine_policy: Callable[[str], Path],
    write_policy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    machine = machine_policy(NO_ON_THE_FLY)
    home = _metaflow_home(tmp_path / "home", write_policy(PERMISSIVE))
    monkeypatch.setenv("METAFLOW_HOME", str(home))
    policies = load_policies()
    assert policies.files[0].path == machine
    assert str(home / "config.json") in policies.files[1].origin
    with pytest.raises(PolicyViolation, match="the machine's policy file"):
        policies.check_on_the_fly(step="a", decorator=PANDAS)


def test_a_metaflow_profile_of_ones_own_cannot_replace_the_machine_file(
    machine_policy: Callable[[str], Path],
    write_policy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    machine_policy(NO_ON_THE_FLY)
    home = _metaflow_home(tmp_path / "home", write_policy(PERMISSIVE), profile="loose")
    monkeypatch.setenv("METAFLOW_HOME", str(home))
    monkeypatch.setenv("METAFLOW_PROFILE", "loose")
    policies = load_policies()
    assert str(home / "config_loose.json") in policies.files[1].origin
    with pytest.raises(PolicyViolation, match="on_the_fly = false"):
        policies.check_on_the_fly(step="a", decorator=PANDAS)


def test_the_machine_file_named_again_is_listed_once(
    machine_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = machine_policy(NO_ON_THE_FLY)
    monkeypatch.setenv(POLICY_FILE_ENV, str(machine))
    assert [s.path for s in find_policy_files()] == [machine]


def test_an_unreadable_machine_file_stops_everything(
    machine_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bakery.policy.load, "MACHINE_POLICY_PATH", tmp_path)  # a directory
    with pytest.raises(PolicyFileError, match="the machine's policy file"):
        load_policies()


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
        load_policies()
    assert str(missing) in str(raised.value)
    assert POLICY_FILE_ENV in str(raised.value)


def test_an_empty_variable_is_an_error_not_a_way_to_switch_the_policy_off(
    machine_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    machine_policy(EXAMPLE)
    monkeypatch.setenv(POLICY_FILE_ENV, "  ")
    with pytest.raises(PolicyFileError, match=f"{POLICY_FILE_ENV} in the environment is set but"):
        load_policies()


def test_a_directory_is_an_unreadable_policy(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read policy file"):
        load_policy(tmp_path)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"version = 1\n# \xff\xfe\n")
    with pytest.raises(PolicyFileError, match="UTF-8"):
        load_policy(path)
