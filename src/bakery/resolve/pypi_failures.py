"""Turning uv's resolution report into one error that names the package and what to do.

uv explains a failure as a derivation ("Because requests==2.32.3 depends on urllib3>=1.21.1,<3
and you require urllib3<1.0, ..."). We keep its facts, drop its prose, and add what it leaves
out: the versions the index does have nearest to the pin that failed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..errors import IndexUnreachableError, PackageNotFoundError, ResolutionError
from .index_versions import available_versions, nearest_versions
from .indexes import IndexConfig, redact, strip_credentials

# a requirement as uv writes it: name, optional [extras] and {marker}, then a specifier
_REQ = r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?:\{[^}]*\})?((?:[<>=!~]=?|===)\S+)?"
_DEPENDS = re.compile(rf"{_REQ} depends on {_REQ}")
_NO_VERSION = re.compile(
    rf"there is no version of {_REQ}|only {_REQ} is available|"
    r"only the following versions of ([A-Za-z0-9][A-Za-z0-9._-]*)"
)


def classify_failure(stderr: str, requirements: str, indexes: IndexConfig) -> ResolutionError:
    """One error for a failed `uv pip compile` of `requirements` (one PEP 508 line each)."""
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
            f"cannot reach the package index {indexes.describe()}: {detail.rstrip('.')}. "
            "Check the network, or PIP_INDEX_URL / pip.conf if you use a private index"
        )
    if "No solution found" in stderr or "unsatisfiable" in stderr:
        return unsatisfiable(detail, _pins(requirements), indexes)
    wanted = ", ".join(line for line in requirements.split() if line)
    return ResolutionError(f"uv could not resolve [{wanted}]: {detail}")


def unsatisfiable(detail: str, pins: dict[str, str], indexes: IndexConfig) -> ResolutionError:
    """The error for requirements that cannot all hold: the pins involved, why, and the
    available versions nearest each pin that failed."""
    unavailable = [_name(m) for m in _NO_VERSION.finditer(detail)]
    unavailable = [n for n in dict.fromkeys(unavailable) if n in pins]
    if unavailable:
        parts = [
            f"{name}{pins[name]} is not available on {indexes.describe()}"
            + _suggestion(name, pins[name], "", indexes)
            for name in unavailable
        ]
        return ResolutionError(
            "; ".join(parts) + ". Pin an available version ('' accepts any version)"
        )
    conflicts = []
    for match in _DEPENDS.finditer(detail):
        parent, parent_spec, child, child_spec = match.groups()
        child_key = _key(child)
        if child_key in pins and child_spec:
            conflicts.append((f"{_key(parent)}{parent_spec or ''}", child_key, child_spec))
    if conflicts:
        named = {_key(m.group(1)) for m in re.finditer(rf"you require {_REQ}", detail)}
        named |= {c[1] for c in conflicts}
        involved = [n for n in pins if n in named]
        why = "; ".join(f"{parent} needs {child}{spec}" for parent, child, spec in conflicts)
        hints = "".join(
            f". Versions of {child} that {parent} accepts, nearest {child}{pins[child]}:"
            + _suggestion(child, pins[child], spec, indexes, bare=True)
            for parent, child, spec in conflicts
        )
        return ResolutionError(
            f"{' and '.join(f'{n}{pins[n]}' for n in involved)} cannot be installed together: "
            f"{why}{hints}. Change one of these pins"
        )
    return ResolutionError(
        f"the requested versions cannot be installed together: {detail.rstrip('.')}. "
        "Change one of the pins this names"
    )


def _suggestion(name: str, pin: str, accepted: str, indexes: IndexConfig, bare=False) -> str:
    """` (nearest: 0.2.0, 0.2.1; newest 2.32.3)`, or "" when the index cannot tell."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    versions = available_versions(name, indexes)
    try:
        versions = [v for v in versions if v in SpecifierSet(accepted)]
    except InvalidSpecifier:
        pass
    if not versions:
        return " none" if bare and accepted else ""
    anchor = _anchor(pin) or versions[-1]
    near = ", ".join(str(v) for v in nearest_versions(versions, anchor))
    newest = f"; newest {versions[-1]}" if str(versions[-1]) not in near.split(", ") else ""
    return f" {near}{newest}" if bare else f" (nearest: {near}{newest})"


def _anchor(specifier: str):
    """The version a specifier is about: `0.0.999` for `==0.0.999`, `1.0` for `<1.0`."""
    from packaging.version import InvalidVersion, Version

    found = re.search(r"\d+(\.\d+)*", specifier)
    try:
        return Version(found.group(0)) if found else None
    except InvalidVersion:
        return None


def _pins(requirements: str) -> dict[str, str]:
    """{canonical name: specifier} of the requested packages."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in requirements.splitlines():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        pins[canonicalize_name(requirement.name)] = str(requirement.specifier)
    return pins


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name(match: re.Match) -> str:
    return _key(next(g for g in (match.group(1), match.group(3), match.group(5)) if g))


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
