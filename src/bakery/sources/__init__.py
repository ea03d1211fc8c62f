"""Environments from the files teams already have, one module per format.

| attribute | decorator | file | how it is taken |
|---|---|---|---|
| `requirements=` | `@pypi`, `@pypi_base` | requirements.txt | resolved (like `packages=`) |
| `pyproject=` (+ `groups=`) | `@pypi`, `@pypi_base` | pyproject.toml | resolved |
| `lockfile=` (+ `groups=`) | `@pypi`, `@pypi_base` | uv.lock, pylock.toml | pinned, as it is |
| `environment=` | `@conda`, `@conda_base` | environment.yml | resolved |
| `lockfile=` (+ `groups=`) | `@conda`, `@conda_base` | conda-lock.yml, pixi.lock | pinned, as it is |

Paths are relative to the flow's folder. `compose.py` says which attributes apply to a step;
`step_files` reads them into the parts of its spec; `pinned.lock_pinned` locks a pinned one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.markers import Marker
from packaging.requirements import Requirement as PEP508Requirement
from packaging.utils import canonicalize_name

from ..errors import SourceFileError, SpecError
from ..spec import PinnedSource, Requirement, SourceFile, TargetPlatform
from .compose import ATTRIBUTES, Named, SourcePlan, plan_sources

__all__ = [
    "ATTRIBUTES",
    "PINNED_FORMATS",
    "StepFiles",
    "pinned_format",
    "plan_sources",
    "step_files",
]

# format -> the decorator kind that takes it
PINNED_FORMATS = {"uv.lock": "pypi", "pylock": "pypi", "conda-lock": "conda", "pixi.lock": "conda"}


def pinned_format(path: str) -> str:
    """The format of a lockfile, from its name; one SourceFileError naming those accepted."""
    name = PurePosixPath(path).name
    if name == "uv.lock":
        return "uv.lock"
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        return "pylock"
    if name.endswith(("conda-lock.yml", "conda-lock.yaml")):
        return "conda-lock"
    if name == "pixi.lock":
        return "pixi.lock"
    raise SourceFileError(
        f"lockfile={path!r}: Bakery reads uv.lock, pylock.toml (or pylock.NAME.toml) with @pypi, "
        "and conda-lock.yml or pixi.lock with @conda; name the file as its tool does"
    )


@dataclass
class StepFiles:
    """The parts of a step's spec that its files give."""

    pypi: tuple[Requirement, ...] = ()
    conda: tuple[Requirement, ...] = ()
    channels: tuple[str, ...] = ()
    constraints: tuple[Requirement, ...] = ()
    files: tuple[SourceFile, ...] = ()
    pinned: PinnedSource | None = None
    python: str | None = None  # the Python a file asks for (environment.yml, a conda lock)


def step_files(plan: SourcePlan, root: Path, *, platform: TargetPlatform, python: str) -> StepFiles:
    """Read the files `plan` names (relative to the flow's folder `root`) for a step on
    `platform` with `python` (markers are evaluated for them)."""
    result = StepFiles()
    markers = platform.marker_environment(_marker_python(python))
    if plan.whole is not None and plan.whole.attribute == "lockfile":
        return _pinned(plan.whole, plan.groups, root, platform)
    pypi: list[PEP508Requirement] = []
    constraints: list[PEP508Requirement] = []
    files: list[SourceFile] = []
    conda: list[Requirement] = []
    channels: list[str] = []
    for named in plan.files:
        what = str(named)
        _check_text(named)
        if named.attribute == "requirements":
            from .requirements import read_requirements

            read = read_requirements(named.value, root, what=what)
            pypi += read.requirements
            constraints += read.constraints
            files += read.files
        elif named.attribute == "pyproject":
            from .pyproject import read_pyproject

            project = read_pyproject(named.value, root, plan.groups, what=what)
            _check_requires_python(project.requires_python, python, what)
            pypi += project.requirements
            files.append(project.source)
        elif named.attribute == "environment":
            from .environment_yml import read_environment_yml

            env = read_environment_yml(named.value, root, what=what)
            conda += env.conda
            channels += env.channels
            pypi += env.pip
            constraints += env.constraints
            files += env.files
            result.python = env.python
    result.pypi = _for_target(pypi, markers)
    result.constraints = _for_target(constraints, markers)
    result.conda = tuple(sorted({r.name: r for r in conda}.values()))
    result.channels = tuple(dict.fromkeys(channels))
    result.files = tuple(dict.fromkeys(files))
    return result


def _pinned(named: Named, groups: tuple[str, ...], root: Path, platform) -> StepFiles:
    from .files import read_file

    _check_text(named)
    fmt = pinned_format(named.value)
    if PINNED_FORMATS[fmt] != named.kind:
        other = "conda" if named.kind == "pypi" else "pypi"
        raise SourceFileError(
            f"{named}: {PurePosixPath(named.value).name} pins "
            f"{'conda' if other == 'conda' else 'PyPI'} environments; name it on "
            f"@{other}{'_base' if named.decorator.endswith('_base') else ''} instead"
        )
    read = read_file(named.value, root, what=str(named))
    files = [read.source]
    if fmt == "uv.lock":  # uv reads the lock with its project
        files.append(
            read_file(
                str(read.path.parent / "pyproject.toml"), root, what=f"{named} (its pyproject.toml)"
            ).source
        )
    pinned = PinnedSource(fmt, read.source.path, tuple(groups))
    python = None
    if fmt in ("conda-lock", "pixi.lock"):
        python = _conda_lock_python(pinned, root, platform)
    return StepFiles(files=tuple(files), pinned=pinned, python=python)


def _conda_lock_python(pinned: PinnedSource, root: Path, platform) -> str | None:
    """The Python minor a conda lock installs on `platform` (the step's Python is the lock's)."""
    from ..spec import EnvSpec

    spec = EnvSpec(python="3", platform=platform, pinned=pinned)
    for package in _packages_as_written(spec, root):
        if package.kind == "conda" and package.name == "python":
            return ".".join(package.version.split(".")[:2])
    return None


def _packages_as_written(spec, root: Path):
    """The lock's packages for the spec's platform, without fetching anything (a conda-lock's
    noarch records are completed only when it is locked)."""
    if spec.pinned.format == "conda-lock":
        from .condalock import packages_from_conda_lock

        path = root / spec.pinned.path
        return packages_from_conda_lock(
            path.read_text(), spec.pinned.path, platform=spec.platform, groups=spec.pinned.groups
        )
    from .pinned import pinned_packages

    return pinned_packages(spec, root)


def _check_text(named: Named) -> None:
    if not isinstance(named.value, str):
        raise SpecError(
            f"{named}: {named.attribute} is a file name, e.g. {named.attribute}='{_example(named.attribute)}'"
        )


def _example(attribute: str) -> str:
    return {
        "requirements": "requirements.txt",
        "pyproject": "pyproject.toml",
        "environment": "environment.yml",
    }.get(attribute, "uv.lock")


def _marker_python(python: str) -> str:
    import re
    import sys

    if re.fullmatch(r"\d+\.\d+(\.\d+)?", python):
        return python
    return "%d.%d.%d" % sys.version_info[:3]


def _for_target(
    requirements: list[PEP508Requirement], markers: Mapping[str, str]
) -> tuple[Requirement, ...]:
    """Spec requirements for those whose marker holds on the target (later ones win by name)."""
    out: dict[str, Requirement] = {}
    for requirement in requirements:
        if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate(
            dict(markers)
        ):
            continue
        name = canonicalize_name(requirement.name)
        if name in ("metaflow", "metaflow-bakery"):
            continue  # Metaflow comes with the code package
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        out[name] = Requirement(f"{name}{extras}", str(requirement.specifier))
    return tuple(sorted(out.values()))


def _check_requires_python(requires: str | None, python: str, what: str) -> None:
    if not requires:
        return
    from packaging.specifiers import SpecifierSet

    version = _marker_python(python)
    if version.count(".") == 1:
        version += ".0"  # a minor stands for its releases: check the first
    allowed = SpecifierSet(requires)
    if not allowed.contains(version, prereleases=True):
        raise SpecError(
            f"{what}: the project requires Python {requires}, and the step uses Python {python}; "
            "set python= on the decorator to a version it supports"
        )
