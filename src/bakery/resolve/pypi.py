"""Resolving a spec's PyPI requirements with uv into pinned, hashed artifacts.

`uv pip compile --format pylock.toml` resolves for the target Python and platform (not
necessarily this machine's) and lists, per package, the compatible wheels with their URLs and
sha256. We keep the one wheel an installer would pick for that target, so the lock names the
exact bytes each environment installs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

from packaging import tags
from packaging.utils import parse_wheel_filename

from ..errors import ResolutionError
from ..lock.model import LockedEnv, LockedPackage
from ..spec import EnvSpec, TargetPlatform
from ..uvbin import uv_binary, uv_environment
from .indexes import IndexConfig, strip_credentials
from .pypi_failures import classify_failure
from .python import known_interpreter

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def resolve_pypi(
    spec: EnvSpec,
    python_version: str,
    *,
    indexes: IndexConfig | None = None,
    base_packages: Sequence[LockedPackage] = (),
) -> LockedEnv:
    """Resolve `spec.pypi` for `python_version` on `spec.platform` into a LockedEnv.

    `base_packages` (conda packages already providing the interpreter) are kept as they are
    and listed first in the result.
    """
    indexes = indexes or IndexConfig.from_environment()
    minor = ".".join(python_version.split(".")[:2])
    requirements = "\n".join(r.pep508() for r in spec.pypi) + "\n"
    constraints = "\n".join(r.pep508() for r in spec.constraints)
    pylock = _uv_compile(requirements, python_version, spec.platform, indexes, constraints)
    markers = spec.platform.marker_environment(python_version)
    packages = tuple(
        _locked_package(entry, minor, spec.platform) for entry in pylock if _applies(entry, markers)
    )
    return LockedEnv(spec=spec, python=minor, packages=tuple(base_packages) + packages)


def _uv_compile(
    requirements: str,
    python_version: str,
    platform: TargetPlatform,
    indexes: IndexConfig,
    constraints: str = "",
) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bakery-resolve-") as tmp:
        out = Path(tmp) / "pylock.toml"
        constraint_args = []
        if constraints:  # pip's -c: versions for packages that get installed, installing none
            (Path(tmp) / "constraints.txt").write_text(constraints + "\n")
            constraint_args = ["-c", str(Path(tmp) / "constraints.txt")]
        # the interpreter uv builds source distributions with; named, uv need not look for one
        interpreter = known_interpreter(python_version)
        python_args = ["--python", str(interpreter)] if interpreter else []
        cmd = [
            uv_binary(),
            "pip",
            "compile",
            "-",
            "--format",
            "pylock.toml",
            "-o",
            str(out),
            "--python-version",
            python_version,
            "--python-platform",
            platform.uv_platform,
            "--no-header",
            "--quiet",
            *constraint_args,
            *python_args,
            *indexes.uv_args(),
        ]
        env = {**uv_environment(), **platform.uv_environment(), **indexes.uv_credentials()}
        proc = subprocess.run(cmd, input=requirements, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise classify_failure(proc.stderr, requirements, indexes)
        return tomllib.loads(out.read_text()).get("packages", [])


def _locked_package(entry: dict, minor: str, platform: TargetPlatform) -> LockedPackage:
    artifact = _best_wheel(entry.get("wheels") or [], minor, platform) or entry.get("sdist")
    if artifact is None and entry.get("wheels"):
        raise ResolutionError(
            f"package '{entry['name']}' {entry.get('version', '')} has no wheel for "
            f"{platform} and no source distribution: pin a version that has one"
        )
    if artifact is None:
        raise ResolutionError(
            f"package '{entry['name']}' {entry.get('version', '')} has no downloadable file "
            "(a git or path dependency?): Bakery locks only index packages"
        )
    url = strip_credentials(artifact["url"])
    return LockedPackage(
        kind="pypi",
        name=entry["name"],
        version=str(entry["version"]),
        url=url,
        sha256=artifact["hashes"]["sha256"],
        filename=_filename(artifact),
        size=artifact.get("size"),
    )


def _filename(artifact: dict) -> str:
    """An artifact's file name: pylock's `name`, else its URL's last part, decoded (PyTorch's
    indexes link `torch-2.4.1%2Bcpu-...whl` for the local version `2.4.1+cpu`)."""
    return artifact.get("name") or unquote(artifact["url"].split("?", 1)[0].rsplit("/", 1)[-1])


def _applies(entry: dict, markers: dict[str, str]) -> bool:
    """Whether a pylock entry is installed on the target (its marker, evaluated there)."""
    marker = entry.get("marker")
    if not marker:
        return True
    from packaging.markers import Marker

    return Marker(marker).evaluate(markers)


def _best_wheel(wheels: list[dict], minor: str, platform: TargetPlatform) -> dict | None:
    """The wheel an installer would choose for the target: lowest index in its tag priority.

    None when no listed wheel runs there.
    """
    priority = {tag: i for i, tag in enumerate(target_tags(minor, platform))}

    def rank(wheel: dict) -> int:
        _, _, _, wheel_tags = parse_wheel_filename(_filename(wheel))
        return min((priority.get(t, len(priority)) for t in wheel_tags), default=len(priority))

    best = min(wheels, key=rank, default=None)
    return best if best is not None and rank(best) < len(priority) else None


def target_tags(minor: str, platform: TargetPlatform) -> list[tags.Tag]:
    """Supported wheel tags, most preferred first, for a CPython `minor` on `platform`."""
    version = tuple(int(x) for x in minor.split("."))
    platforms = platform.wheel_platform_tags()
    return list(tags.cpython_tags(version, platforms=platforms)) + list(
        tags.compatible_tags(version, f"cp{version[0]}{version[1]}", platforms)
    )
