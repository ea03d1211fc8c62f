"""Test helper: lock requirements into a `LockedEnv` with `uv pip compile --format pylock.toml`.

Stands in for `bakery.resolve.pypi` in these tests; results are cached per requirement set.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

import tomllib
from packaging import tags
from packaging.utils import parse_wheel_filename
from uv import find_uv_bin

from bakery.lock.model import LockedEnv, LockedPackage
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements

PLATFORM = TargetPlatform("linux-64", "2.36")


def _target_tags(python: str) -> list[tags.Tag]:
    major, minor = (int(x) for x in python.split("."))
    platforms = [f"manylinux_2_{m}_x86_64" for m in range(36, 16, -1)]
    platforms += [
        "manylinux2014_x86_64",
        "manylinux2010_x86_64",
        "manylinux1_x86_64",
        "linux_x86_64",
    ]
    version = (major, minor)
    cp = list(tags.cpython_tags(version, platforms=platforms))
    return cp + list(tags.compatible_tags(version, f"cp{major}{minor}", platforms))


def _best_wheel(wheels: list[dict], python: str) -> dict:
    order = {tag: i for i, tag in enumerate(_target_tags(python))}

    def rank(wheel: dict) -> int:
        name = wheel["url"].rsplit("/", 1)[1]
        return min(order.get(t, 10**9) for t in parse_wheel_filename(name)[3])

    return min(wheels, key=rank)


@functools.cache
def lock(requirements: tuple[str, ...], python: str = "3.11") -> LockedEnv:
    """Resolve `requirements` (e.g. `("requests==2.32.3",)`) for linux-64 / `python`."""
    with tempfile.TemporaryDirectory() as tmp:
        infile, out = Path(tmp) / "in.txt", Path(tmp) / "pylock.toml"
        infile.write_text("\n".join(requirements) + "\n")
        command = [find_uv_bin(), "pip", "compile", "-q", "--format", "pylock.toml"]
        command += ["--python-version", python, "--python-platform", PLATFORM.uv_platform]
        subprocess.run([*command, str(infile), "-o", str(out)], check=True)
        data = tomllib.loads(out.read_text())
    packages = []
    for entry in data["packages"]:
        wheel = _best_wheel(entry["wheels"], python)
        url = wheel["url"]
        packages.append(
            LockedPackage(
                kind="pypi",
                name=entry["name"],
                version=entry["version"],
                url=url,
                sha256=wheel["hashes"]["sha256"],
                filename=url.rsplit("/", 1)[1],
                size=wheel.get("size"),
            )
        )
    specs = dict(r.split("==") if "==" in r else (r, "") for r in requirements)
    spec = EnvSpec(python=python, pypi=pypi_requirements(specs), platform=PLATFORM)
    return LockedEnv(spec=spec, python=python, packages=tuple(packages))
