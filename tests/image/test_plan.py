"""Layer planning: big packages alone, small ones grouped by name, keys by content."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.image.compression import Compression
from bakery.image.plan import LARGE_PACKAGE_BYTES, package_layer_budget, plan_layers
from bakery.image.stage import StagedPackage
from bakery.lock.model import LockedPackage


def staged(name: str, size: int, version: str = "1") -> StagedPackage:
    package = LockedPackage("pypi", name, version, f"https://x/{name}", name * 4, f"{name}.whl")
    return StagedPackage(package, f"key-{name}-{version}", Path("/nowhere"), "3.11", size, None)


GZIP1 = Compression("gzip", 1)

SMALL = [staged(n, 1000) for n in ("a", "b", "certifi", "idna", "requests", "six", "urllib3")]


def test_large_packages_get_a_layer_each():
    jobs = plan_layers(
        [*SMALL, staged("numpy", LARGE_PACKAGE_BYTES * 4)], "3.11", compression=GZIP1
    )
    assert ("numpy==1",) in [job.packages for job in jobs]
    assert sum(len(job.packages) for job in jobs) == len(SMALL) + 1


def test_changing_one_small_package_changes_only_its_group():
    before = plan_layers(SMALL, "3.11", compression=GZIP1)
    after = plan_layers([*SMALL[:-1], staged("urllib3", 1200, "2")], "3.11", compression=GZIP1)
    changed = {job.key for job in after} - {job.key for job in before}
    assert len(changed) == 1
    assert len(before) > 1  # the small ones are not all in one group


def test_shared_large_package_has_the_same_layer_key_in_two_envs():
    numpy = staged("numpy", LARGE_PACKAGE_BYTES * 2)
    one = plan_layers([numpy, staged("pandas", LARGE_PACKAGE_BYTES * 3)], "3.11", compression=GZIP1)
    two = plan_layers([numpy, *SMALL], "3.11", compression=GZIP1)
    assert {j.key for j in one if j.packages == ("numpy==1",)} == {
        j.key for j in two if j.packages == ("numpy==1",)
    }


def many(count: int, size: int, version: str = "1") -> list[StagedPackage]:
    return [staged(f"pkg-{i:03d}", size, version) for i in range(count)]


def changed_keys(before, after) -> set[str]:
    return {job.key for job in after} - {job.key for job in before}


@pytest.mark.parametrize("size", [1000, LARGE_PACKAGE_BYTES * 2])
def test_150_packages_stay_within_the_layer_budget(size):
    jobs = plan_layers(many(150, size), "3.11", compression=GZIP1, max_layers=60)
    assert len(jobs) <= 60
    assert sorted(p for job in jobs for p in job.packages) == [
        f"pkg-{i:03d}==1" for i in range(150)
    ]


@pytest.mark.parametrize("size", [1000, LARGE_PACKAGE_BYTES * 2])
def test_past_the_budget_a_changed_pin_still_moves_one_layer(size):
    packages = many(150, size)
    before = plan_layers(packages, "3.11", compression=GZIP1, max_layers=60)
    packages[77] = staged("pkg-077", size, "2")
    after = plan_layers(packages, "3.11", compression=GZIP1, max_layers=60)
    assert len(changed_keys(before, after)) == 1


def test_past_the_budget_the_largest_packages_keep_a_layer_each():
    torch = staged("torch", LARGE_PACKAGE_BYTES * 100)
    jobs = plan_layers(
        [torch, *many(150, LARGE_PACKAGE_BYTES * 2)], "3.11", compression=GZIP1, max_layers=60
    )
    assert ("torch==1",) in [job.packages for job in jobs] and len(jobs) <= 60


def test_within_the_budget_grouping_is_as_before():
    # the budget does not reshuffle an environment that fits: images baked before keep their layers
    assert plan_layers(SMALL, "3.11", compression=GZIP1) == plan_layers(
        SMALL, "3.11", compression=GZIP1, max_layers=len(SMALL)
    )


def test_a_base_with_many_layers_leaves_the_packages_fewer():
    assert package_layer_budget(1) == 98
    assert package_layer_budget(90) == 9


def test_a_changed_small_package_re_applies_no_large_layer():
    """A runtime keeps a layer by its chain (the layers beneath it), so every layer above a
    changed one is new to a node: the large ones lie beneath every group, largest first."""
    big = [
        staged(name, LARGE_PACKAGE_BYTES * k)
        for name, k in (("nvidia-cudnn", 50), ("torch", 60), ("triton", 20))
    ]
    before = plan_layers([*big, *SMALL, staged("tabulate", 1000)], "3.11", compression=GZIP1)
    after = plan_layers([*big, *SMALL, staged("tabulate", 1200, "2")], "3.11", compression=GZIP1)
    assert [job.packages for job in after[:3]] == [
        ("torch==1",),
        ("nvidia-cudnn==1",),
        ("triton==1",),
    ]
    first = next(i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a.key != b.key)
    re_applied = [p for job in after[first:] for p in job.packages]
    assert "tabulate==2" in re_applied
    assert not any(p.split("==")[0] in ("torch", "nvidia-cudnn", "triton") for p in re_applied)
