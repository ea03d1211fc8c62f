"""`pyproject.toml`: a project's dependencies, plus named optional groups.

`[project] dependencies` always; each name in `groups=` is an extra
(`[project.optional-dependencies]`) or a dependency group (`[dependency-groups]`, PEP 735, with
`{include-group = ...}`). `[project] requires-python` is returned for the caller to check.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import SourceFileError
from ..spec import SourceFile
from .files import read_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ProjectRequirements:
    requirements: tuple[Requirement, ...]
    requires_python: str | None
    source: SourceFile


def load_toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SourceFileError(f"{where} is not valid TOML ({e})") from None


def project_groups(data: dict) -> tuple[dict[str, list], dict[str, list]]:
    """(extras, dependency groups) of a parsed pyproject, by normalized name."""
    project = data.get("project") or {}
    extras = {
        canonicalize_name(k): v for k, v in (project.get("optional-dependencies") or {}).items()
    }
    groups = {canonicalize_name(k): v for k, v in (data.get("dependency-groups") or {}).items()}
    return extras, groups


def read_pyproject(
    written: str, root: Path, groups: tuple[str, ...], *, what: str
) -> ProjectRequirements:
    read = read_file(written, root, what=what)
    where = read.source.path
    data = load_toml(read.text, where)
    project = data.get("project")
    if not isinstance(project, dict):
        raise SourceFileError(
            f"{what}: {where} has no [project] table; Bakery reads [project] dependencies "
            "(PEP 621) and named groups"
        )
    extras, dependency_groups = project_groups(data)
    lines = list(project.get("dependencies") or [])
    for group in groups:
        name = canonicalize_name(group)
        if name in extras:
            lines += extras[name]
        elif name in dependency_groups:
            lines += _group_lines(name, dependency_groups, where, ())
        else:
            known = sorted({*extras, *dependency_groups})
            raise SourceFileError(
                f"{what}: group '{group}' is not in {where} (it has: "
                f"{', '.join(known) or 'no optional-dependencies or dependency-groups'})"
            )
    requirements = tuple(_requirement(line, where) for line in lines)
    return ProjectRequirements(requirements, project.get("requires-python"), read.source)


def _group_lines(name: str, groups: dict[str, list], where: str, seen: tuple[str, ...]) -> list:
    if name in seen:
        raise SourceFileError(f"{where}: dependency group '{name}' includes itself")
    lines = []
    for item in groups[name]:
        if isinstance(item, dict) and "include-group" in item:
            included = canonicalize_name(item["include-group"])
            if included not in groups:
                raise SourceFileError(
                    f"{where}: group '{name}' includes unknown group '{included}'"
                )
            lines += _group_lines(included, groups, where, (*seen, name))
        else:
            lines.append(item)
    return lines


def _requirement(line: object, where: str) -> Requirement:
    try:
        requirement = Requirement(str(line))
    except InvalidRequirement as e:
        raise SourceFileError(f"{where}: '{line}' is not a valid requirement ({e})") from None
    if requirement.url:
        raise SourceFileError(
            f"{where}: '{line}' names a URL; Bakery locks only index packages "
            "(name and version specifier)"
        )
    return requirement
