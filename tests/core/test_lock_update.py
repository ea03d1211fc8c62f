"""Lockfile updates: only changed steps are resolved; frozen runs refuse to change the lock.

The resolver here is a plain function that records what it was asked (no index involved): what
is under test is the bookkeeping of the lock, not resolution.
"""

from __future__ import annotations

import pytest

from bakery.errors import FrozenLockError, LockError, ResolutionError
from bakery.lock import LockedEnv, LockedPackage, read_lock
from bakery.lock.update import update_lock
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements

PLATFORM = TargetPlatform("linux-64", "2.28")


def spec(**packages: str) -> EnvSpec:
    return EnvSpec(python="3.11", pypi=pypi_requirements(packages), platform=PLATFORM)


class RecordingResolver:
    def __init__(self) -> None:
        self.calls: list[EnvSpec] = []

    def __call__(self, s: EnvSpec) -> LockedEnv:
        self.calls.append(s)
        packages = tuple(
            LockedPackage(
                "pypi",
                r.name,
                r.specifier.lstrip("=") or "1.0",
                f"https://example.invalid/{r.name}.whl",
                (r.name * 64)[:64],
                f"{r.name}.whl",
            )
            for r in s.pypi
        )
        return LockedEnv(spec=s, python="3.11", packages=packages)


def test_first_update_resolves_each_distinct_spec_once(tmp_path):
    resolver = RecordingResolver()
    path = tmp_path / "f.bakery.lock"
    update = update_lock(
        path, "F", {"a": spec(six="1.17.0"), "b": spec(six="1.17.0"), "c": spec()}, resolver
    )
    assert len(resolver.calls) == 2
    assert update.written and sorted(update.resolved_steps) == ["a", "b", "c"]
    lock = read_lock(path)
    assert lock.steps["a"]["linux-64"] == lock.steps["b"]["linux-64"]


def test_unchanged_specs_resolve_nothing_and_do_not_rewrite(tmp_path):
    path = tmp_path / "f.bakery.lock"
    specs = {"a": spec(six="1.17.0")}
    update_lock(path, "F", specs, RecordingResolver())
    mtime = path.stat().st_mtime_ns
    resolver = RecordingResolver()
    update = update_lock(path, "F", specs, resolver)
    assert resolver.calls == [] and not update.written and path.stat().st_mtime_ns == mtime


def test_only_the_changed_step_is_resolved_again(tmp_path):
    path = tmp_path / "f.bakery.lock"
    update_lock(
        path, "F", {"a": spec(six="1.17.0"), "b": spec(tabulate="0.9.0")}, RecordingResolver()
    )
    resolver = RecordingResolver()
    update = update_lock(
        path, "F", {"a": spec(six="1.16.0"), "b": spec(tabulate="0.9.0")}, resolver
    )
    assert update.resolved_steps == ["a"] and len(resolver.calls) == 1


def test_removed_steps_and_unused_environments_are_pruned(tmp_path):
    path = tmp_path / "f.bakery.lock"
    update_lock(
        path, "F", {"a": spec(six="1.17.0"), "b": spec(tabulate="0.9.0")}, RecordingResolver()
    )
    update_lock(path, "F", {"a": spec(six="1.17.0")}, RecordingResolver())
    lock = read_lock(path)
    assert list(lock.steps) == ["a"] and len(lock.environments) == 1


def test_frozen_update_names_the_step_and_the_change(tmp_path):
    path = tmp_path / "f.bakery.lock"
    update_lock(path, "F", {"a": spec(six="1.17.0")}, RecordingResolver())
    before = path.read_text()
    with pytest.raises(FrozenLockError, match=r"step 'a' changed: six ==1.17.0 -> ==1.16.0"):
        update_lock(path, "F", {"a": spec(six="1.16.0")}, RecordingResolver(), frozen=True)
    assert path.read_text() == before


def test_a_corrupt_lockfile_is_one_clear_error(tmp_path):
    path = tmp_path / "f.bakery.lock"
    path.write_text("{not json")
    with pytest.raises(LockError, match="not a valid Bakery lockfile"):
        read_lock(path)


def test_environment_id_ignores_the_spec_and_follows_the_artifacts():
    resolver = RecordingResolver()
    a = resolver(spec(six="1.17.0"))
    b = LockedEnv(spec=spec(six=">=1.17"), python="3.11", packages=a.packages)
    assert a.env_id == b.env_id


def test_two_specs_resolving_to_one_environment_both_stay_current(tmp_path):
    """boto3 brings six along: `boto3` and `boto3 + six` can lock to the very same packages."""

    def same_packages(s: EnvSpec) -> LockedEnv:
        package = LockedPackage(
            "pypi", "six", "1.17.0", "https://example.invalid/six.whl", "a" * 64, "six.whl"
        )
        return LockedEnv(spec=s, python="3.11", packages=(package,))

    path = tmp_path / "f.bakery.lock"
    specs = {"a": spec(six="1.17.0"), "b": spec(six="")}
    update_lock(path, "F", specs, same_packages)
    lock = read_lock(path)
    assert len(lock.environments) == 1
    for step, s in specs.items():
        assert lock.env_for(step, s) is not None and lock.env_for(step, s).spec == s
    resolver = RecordingResolver()
    assert not update_lock(path, "F", specs, resolver).resolved_steps and not resolver.calls


def test_every_failing_step_is_in_the_one_error_and_alike_failures_are_grouped(tmp_path):
    def resolver(s: EnvSpec) -> LockedEnv:
        names = {r.name for r in s.pypi}
        raise ResolutionError("no six here" if "six" in names else "no tabulate here")

    specs = {"start": spec(six="1"), "mid": spec(tabulate="1"), "end": spec(six="2")}
    with pytest.raises(ResolutionError) as error:
        update_lock(tmp_path / "f.bakery.lock", "F", specs, resolver)
    assert str(error.value) == "steps 'start' and 'end': no six here\nstep 'mid': no tabulate here"
    assert not (tmp_path / "f.bakery.lock").exists()


def test_a_frozen_run_without_a_lockfile_says_how_to_make_one(tmp_path):
    path = tmp_path / "train.bakery.lock"
    with pytest.raises(FrozenLockError) as error:
        update_lock(path, "F", {"a": spec(six="1.17.0")}, RecordingResolver(), frozen=True)
    assert str(error.value) == (
        f"no lockfile at {path}: run `bakery lock train.py` (or a run without "
        "METAFLOW_BAKERY_FROZEN) to make one"
    )


def test_a_frozen_lock_names_the_file_that_changed(tmp_path):
    from bakery.errors import FrozenLockError
    from bakery.lock.update import update_lock
    from bakery.spec import EnvSpec, NamedSource, SourceFile

    def spec(sha, named=None):
        return EnvSpec(python="3.11", files=(SourceFile("requirements.txt", sha),), named=named)

    path = tmp_path / "flow.bakery.lock"
    env = LockedEnv(spec=spec("a" * 64), python="3.11", packages=())
    update_lock(path, "F", {"start": spec("a" * 64)}, lambda s: env)
    with pytest.raises(FrozenLockError, match="requirements.txt changed"):
        update_lock(path, "F", {"start": spec("b" * 64)}, lambda s: env, frozen=True)
    moved = spec("a" * 64, NamedSource("team/x", "stable", "c" * 32))
    with pytest.raises(FrozenLockError, match="named environment none -> team/x:stable"):
        update_lock(path, "F", {"start": moved}, lambda s: env, frozen=True)
