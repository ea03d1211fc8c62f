"""Layer planning: big packages alone, small ones grouped by name, keys by content."""

from __future__ import annotations

from pathlib import Path

from bakery.image.compression import Compression
from bakery.image.plan import LARGE_PACKAGE_BYTES, plan_layers
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
