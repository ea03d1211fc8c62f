"""conda's `environment.yml`: channels, conda packages (match specs), and a `pip:` section.

`name` and `prefix` are machine-specific and ignored; a `python` dependency sets the step's
Python unless the decorator names one; `pip:` items are requirement lines (and `-r file`,
relative to the yml); `variables:` is refused (Bakery does not set environment variables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement as PEP508Requirement

from ..errors import SourceFileError
from ..spec import Requirement, SourceFile
from .files import read_file
from .requirements import RequirementsFile, parse_lines, read_requirements


@dataclass
class CondaEnvironmentFile:
    conda: list[Requirement] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    pip: list[PEP508Requirement] = field(default_factory=list)
    constraints: list[PEP508Requirement] = field(default_factory=list)
    python: str | None = None
    files: list[SourceFile] = field(default_factory=list)


def load_yaml(text: str, where: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SourceFileError(f"{where} is not valid YAML ({_first_line(e)})") from None


def read_environment_yml(written: str, root: Path, *, what: str) -> CondaEnvironmentFile:
    read = read_file(written, root, what=what)
    where = read.source.path
    data = load_yaml(read.text, where)
    if not isinstance(data, dict) or not isinstance(data.get("dependencies", []), list):
        raise SourceFileError(
            f"{what}: {where} is not a conda environment file (a mapping with a "
            "`dependencies:` list)"
        )
    if data.get("variables"):
        raise SourceFileError(
            f"{what}: {where} sets `variables:`, which Bakery does not apply; set them in the "
            "step (os.environ) or with @environment(vars=...), and remove the section"
        )
    result = CondaEnvironmentFile(files=[read.source])
    channels = data.get("channels") or []
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise SourceFileError(f"{what}: {where}: `channels:` must be a list of channel names")
    result.channels = [c for c in channels if c != "defaults"] or []
    for number, item in enumerate(data.get("dependencies") or [], 1):
        if isinstance(item, dict) and set(item) == {"pip"}:
            _pip_section(result, item["pip"], read.path.parent, root, f"{where}: pip", what)
        elif isinstance(item, str):
            _conda_item(result, item, f"{where}: dependencies item {number}")
        else:
            raise SourceFileError(
                f"{what}: {where}: dependencies item {number} ({item!r}) is neither a match "
                "spec nor a `pip:` list"
            )
    return result


def _conda_item(result: CondaEnvironmentFile, text: str, where: str) -> None:
    from rattler import MatchSpec

    try:
        spec = MatchSpec(text)
    except Exception as e:  # noqa: BLE001 - rattler raises its own parse errors
        raise SourceFileError(f"{where}: '{text}' is not a conda match spec ({e})") from None
    if spec.name is None:
        raise SourceFileError(f"{where}: '{text}' names no package")
    name = str(spec.name.normalized)
    version = str(spec.version) if spec.version is not None else ""
    if name == "python":
        result.python = _python_version(version)
        return
    if name == "pip":
        return  # Bakery installs pip packages with uv: no pip needed in the environment
    specifier = " ".join(part for part in (version, spec.build or "") if part)
    channel = spec.channel.name if spec.channel is not None else None
    result.conda.append(Requirement(name, specifier, channel))


def _python_version(version: str) -> str | None:
    """`3.11.*` -> `3.11`, `==3.11.7` -> `3.11.7`, a range kept as it is."""
    text = version.strip()
    if not text:
        return None
    exact = re.fullmatch(r"=?=?(\d+\.\d+(?:\.\d+)?)(?:\.\*)?", text)
    return exact.group(1) if exact else text


def _pip_section(result, items, folder: Path, root: Path, where: str, what: str) -> None:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise SourceFileError(f"{what}: {where} must be a list of requirement lines")
    lines = []
    for item in items:
        option = item.strip().split(None, 1)
        if option and option[0] in ("-r", "--requirement", "-c", "--constraint"):
            target = option[1] if len(option) > 1 else ""
            included = read_requirements(target, root, what=f"{what} ({where})", base=folder)
            _merge(result, included, constraints=option[0] in ("-c", "--constraint"))
        else:
            lines.append(item)
    result.pip += parse_lines(lines, where=where)


def _merge(result: CondaEnvironmentFile, included: RequirementsFile, *, constraints: bool) -> None:
    result.files += included.files
    result.constraints += included.constraints
    (result.constraints if constraints else result.pip).extend(included.requirements)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
