"""Resolving a spec's PyPI requirements with uv into pinned, hashed artifacts.

`uv pip compile --format pylock.toml` resolves for the target Python and platform (not
necessarily this machine's) and lists, per package, the compatible wheels with their URLs and
sha256. We keep the one wheel an installer would pick for that target, so the lock names the
exact bytes each environment installs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from packaging import tags
from packaging.utils import parse_wheel_filename

from ..errors import IndexUnreachableError, PackageNotFoundError, ResolutionError
from ..lock.model import LockedEnv, LockedPackage
from ..spec import EnvSpec, TargetPlatform
from ..uvbin import uv_binary, uv_environment
from .indexes import IndexConfig, redact, strip_credentials

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
    pylock = _uv_compile(requirements, python_version, spec.platform, indexes)
    markers = spec.platform.marker_environment(python_version)
    packages = tuple(
        _locked_package(entry, minor, spec.platform) for entry in pylock if _applies(entry, markers)
    )
    return LockedEnv(spec=spec, python=minor, packages=tuple(base_packages) + packages)


def _uv_compile(
    requirements: str, python_version: str, platform: TargetPlatform, indexes: IndexConfig
) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bakery-resolve-") as tmp:
        out = Path(tmp) / "pylock.toml"
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
            *indexes.uv_args(),
        ]
        env = {**uv_environment(), **platform.uv_environment()}
        proc = subprocess.run(cmd, input=requirements, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise _classify_failure(proc.stderr, requirements, indexes)
        return tomllib.loads(out.read_text()).get("packages", [])


def _classify_failure(stderr: str, requirements: str, indexes: IndexConfig) -> ResolutionError:
    """Turn uv's report into one error that names the package and says what to do."""
    detail = redact(_condense(stderr))
    missing = re.search(r"Because ([\w.\-\[\]]+) was not found in the package registry", stderr)
    refused = _index_refusing_credentials(indexes, missing.group(1) if missing else None)
    if refused:
        return IndexUnreachableError(
            f"the package index {redact(refused)} refused the credentials (401/403): "
            "check the user and password in PIP_INDEX_URL / PIP_EXTRA_INDEX_URL or pip.conf"
        )
    if missing:
        return PackageNotFoundError(
            f"package '{missing.group(1)}' was not found on {indexes.describe()}: "
            "check its name on the index (or configure the index that has it with PIP_INDEX_URL)"
        )
    if re.search(r"Failed to fetch|error sending request|tcp connect|dns error", stderr):
        return IndexUnreachableError(
            f"cannot reach the package index {indexes.describe()}: {detail}. "
            "Check the network, or PIP_INDEX_URL / pip.conf if you use a private index"
        )
    if "No solution found" in stderr or "unsatisfiable" in stderr:
        return ResolutionError(
            f"the requested versions cannot be installed together: {detail}. "
            "Relax one of the pins named above"
        )
    wanted = ", ".join(line for line in requirements.split() if line)
    return ResolutionError(f"uv could not resolve [{wanted}]: {detail}")


def _index_refusing_credentials(indexes: IndexConfig, package: str | None) -> str | None:
    """The first http(s) index answering 401/403 (uv does not always say so), or None."""
    import httpx

    credentials = indexes.credentials_by_host()
    for url in indexes.urls():
        if not url.startswith(("http://", "https://")):
            continue
        auth = credentials.get(urlsplit(url).hostname)
        probe = strip_credentials(url).rstrip("/") + "/" + (f"{package}/" if package else "")
        try:
            status = httpx.get(probe, auth=auth, timeout=5).status_code
        except httpx.HTTPError:
            continue
        if status in (401, 403):
            return url
    return None


def _condense(stderr: str) -> str:
    lines = [
        re.sub(r"^\s*(error|cause|hint):\s*", "", line).strip() for line in stderr.splitlines()
    ]
    return " ".join(
        line for line in lines if line and line != "No solution found when resolving dependencies"
    )


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
        filename=url.rsplit("/", 1)[-1],
        size=artifact.get("size"),
    )


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
        filename = wheel["url"].rsplit("/", 1)[-1]
        _, _, _, wheel_tags = parse_wheel_filename(filename)
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
