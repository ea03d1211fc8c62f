"""A lockfile is checked against itself when read: hand edits and damage are one clear error.

Each attack edits a lock Bakery wrote (env id left as it was) and expects `LockIntegrityError`
naming the lockfile and `bakery lock`; `bakery lock` (`repair`) re-resolves what was damaged.
"""

from __future__ import annotations

import json

import pytest

from bakery.errors import LockError, LockIntegrityError
from bakery.lock import LockedEnv, LockedPackage, read_lock
from bakery.lock.update import update_lock
from bakery.spec import EnvSpec, Requirement, TargetPlatform, pypi_requirements

PLATFORM = TargetPlatform("linux-64", "2.28")
SIX = LockedPackage(
    "pypi", "six", "1.17.0", "https://example.invalid/six-1.17.0.whl", "a" * 64, "six-1.17.0.whl"
)
EVIL = {
    "kind": "pypi",
    "name": "evil",
    "version": "1.0",
    "url": "https://example.invalid/evil-1.0-py3-none-any.whl",
    "sha256": "e" * 64,
    "filename": "evil-1.0-py3-none-any.whl",
}


def spec(**packages: str) -> EnvSpec:
    return EnvSpec(python="3.11", pypi=pypi_requirements(packages), platform=PLATFORM)


def resolver(s: EnvSpec) -> LockedEnv:
    packages = [SIX] if any(r.name == "six" for r in s.pypi) else []
    tabulate = LockedPackage("pypi", "tabulate", "0.9.0", "https://x/t.whl", "b" * 64, "t.whl")
    if any(r.name == "tabulate" for r in s.pypi):
        packages.append(tabulate)
    return LockedEnv(spec=s, python="3.11", packages=tuple(packages))


@pytest.fixture
def lock_path(tmp_path):
    path = tmp_path / "train.bakery.lock"
    update_lock(path, "Train", {"start": spec(six="1.17.0"), "end": spec(tabulate="")}, resolver)
    return path


def edit(path, change) -> None:
    data = json.loads(path.read_text())
    env_id = data["steps"]["start"]["linux-64"]
    change(data["environments"][env_id]["packages"], data)
    path.write_text(json.dumps(data, indent=2))


def assert_refused(path) -> None:
    with pytest.raises(LockIntegrityError) as error:
        read_lock(path)
    message = str(error.value)
    assert str(path) in message and "edited by hand or damaged" in message
    assert "bakery lock train.py" in message


def test_a_lock_bakery_wrote_reads_back(lock_path):
    assert read_lock(lock_path) is not None


def test_an_added_package_is_refused(lock_path):
    edit(lock_path, lambda packages, _: packages.append(EVIL))
    assert_refused(lock_path)


def test_a_changed_version_is_refused(lock_path):
    edit(lock_path, lambda packages, _: packages[0].update(version="1.16.0"))
    assert_refused(lock_path)


def test_a_changed_sha256_is_refused(lock_path):
    edit(lock_path, lambda packages, _: packages[0].update(sha256="f" * 64))
    assert_refused(lock_path)


def test_a_removed_package_is_refused(lock_path):
    edit(lock_path, lambda packages, _: packages.clear())
    assert_refused(lock_path)


def test_a_step_pointed_at_another_environment_is_refused(lock_path):
    def swap(_, data):
        steps = data["steps"]
        steps["start"]["linux-64"] = steps["end"]["linux-64"]

    edit(lock_path, swap)
    with pytest.raises(LockIntegrityError, match="asks for pypi package 'six'"):
        read_lock(lock_path)


def test_a_step_naming_an_environment_the_lock_lacks_is_refused(lock_path):
    edit(lock_path, lambda _, data: data["steps"]["start"].update({"linux-64": "0" * 32}))
    with pytest.raises(LockIntegrityError, match="not in it"):
        read_lock(lock_path)


def test_a_conda_record_that_disagrees_with_its_entry_is_refused(tmp_path):
    python = LockedPackage(
        "conda",
        "python",
        "3.11.7",
        "https://c/python.conda",
        "c" * 64,
        "python.conda",
        record={"name": "python", "version": "3.11.7", "sha256": "c" * 64, "fn": "python.conda"},
    )
    path = tmp_path / "train.bakery.lock"
    conda_spec = EnvSpec(python="3.11", conda=(Requirement("python"),), platform=PLATFORM)
    update_lock(path, "Train", {"start": conda_spec}, lambda s: LockedEnv(s, "3.11", (python,)))
    # rattler downloads from the record and checks the record's hash: both pointed elsewhere
    edit(
        path, lambda packages, _: packages[0]["record"].update(sha256="d" * 64, url="https://evil")
    )
    with pytest.raises(LockIntegrityError, match="conda record of 'python' has another sha256"):
        read_lock(path)


def test_bakery_lock_re_resolves_the_damaged_steps_only(lock_path):
    edit(lock_path, lambda packages, _: packages.append(EVIL))
    asked = []

    def recording(s):
        asked.append(s)
        return resolver(s)

    specs = {"start": spec(six="1.17.0"), "end": spec(tabulate="")}
    update = update_lock(lock_path, "Train", specs, recording, repair=True)
    assert update.repaired_steps == ["start"] and [s.pypi[0].name for s in asked] == ["six"]
    lock = read_lock(lock_path)  # intact again
    assert "evil" not in {p.name for env in lock.environments.values() for p in env.packages}


def test_a_run_refuses_the_damaged_lock_even_unfrozen(lock_path):
    edit(lock_path, lambda packages, _: packages.append(EVIL))
    specs = {"start": spec(six="1.17.0"), "end": spec(tabulate="")}
    with pytest.raises(LockIntegrityError):
        update_lock(lock_path, "Train", specs, resolver)
    with pytest.raises(LockIntegrityError):
        update_lock(lock_path, "Train", specs, resolver, frozen=True, repair=True)


def test_a_lockfile_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "train.bakery.lock"
    path.write_bytes(b'{"version": 2, "flow": "caf\xe9"}')
    with pytest.raises(LockError, match=r"not UTF-8 text: byte 27 is 0xe9.*bakery lock train\.py"):
        read_lock(path)


@pytest.mark.parametrize(
    "text", ["[]", '"lock"', '{"version": 2}', '{"version": 2, "flow": 1, "environments": []}']
)
def test_json_of_another_shape_is_one_clear_error(tmp_path, text):
    path = tmp_path / "train.bakery.lock"
    path.write_text(text)
    with pytest.raises(LockError, match="not a valid Bakery lockfile"):
        read_lock(path)


def test_a_lock_from_a_newer_bakery_says_to_upgrade(tmp_path):
    path = tmp_path / "train.bakery.lock"
    path.write_text('{"version": 3, "flow": "Train"}')
    with pytest.raises(LockError, match="upgrade Bakery"):
        read_lock(path)


def test_an_old_lock_with_md5_only_conda_packages_is_told_apart_from_an_edit(tmp_path):
    """Conda packages of channels without sha256 are pinned by md5 now: an id computed before
    that is named as an older Bakery's, with the way to rewrite it."""
    old = LockedPackage(
        "conda", "b", "1.0", "https://c/b.tar.bz2", "", "b.tar.bz2", record={"md5": "1" * 32}
    )
    env = LockedEnv(EnvSpec(python="3.11", platform=PLATFORM), "3.11", (old,))
    from bakery.lock.model import content_id

    legacy = content_id(env, before_md5=True)
    assert legacy != env.env_id
    path = tmp_path / "train.bakery.lock"
    update_lock(path, "Train", {"start": env.spec}, lambda s: LockedEnv(s, "3.11", (old,)))
    text = path.read_text().replace(env.env_id, legacy)
    path.write_text(text)
    with pytest.raises(LockIntegrityError, match="written by an older Bakery"):
        read_lock(path)
