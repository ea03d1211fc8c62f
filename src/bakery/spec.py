"""EnvSpec: what a step asks for, normalized, with a stable content hash.

Decorators (`@pypi`, `@conda`, their `_base` forms) become one `EnvSpec` per step.
Two steps with equal specs share one environment. The spec hash is what the lockfile
compares to decide whether a step's lock entry is still current.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import SpecError
from .platforms import TargetPlatform  # the platform table; imported from here too


@dataclass(frozen=True, order=True)
class Requirement:
    """One requested package: name, version specifier, and for conda an optional channel."""

    name: str
    specifier: str = ""
    channel: str | None = None

    def pep508(self) -> str:
        return f"{self.name}{self.specifier}"

    def matchspec(self) -> str:
        """The conda MatchSpec text, `channel::name specifier`."""
        prefix = f"{self.channel}::" if self.channel else ""
        return f"{prefix}{self.name} {self.specifier}".strip()


@dataclass(frozen=True, order=True)
class SourceFile:
    """A file a spec was read from: its path relative to the flow's folder, and its sha256.

    Part of the spec, so editing the file changes the step's spec (and only that step re-locks).
    """

    path: str
    sha256: str


@dataclass(frozen=True)
class PinnedSource:
    """A file that already pins a whole environment (uv.lock, pylock.toml, conda-lock.yml,
    pixi.lock): taken as it is for the step's platform, never re-resolved."""

    format: str  # one of bakery.sources.PINNED_FORMATS
    path: str  # relative to the flow's folder, as in `SourceFile.path`
    groups: tuple[str, ...] = ()  # extras / dependency groups / categories / pixi environment


@dataclass(frozen=True)
class NamedSource:
    """A published named environment (`bakery env publish`): `name:tag` as written, and the
    environment id it named when the spec was made (an alias that moves changes the spec)."""

    name: str
    tag: str
    env_id: str

    def __str__(self) -> str:
        return f"{self.name}:{self.tag}"


@dataclass(frozen=True)
class EnvSpec:
    """A normalized environment request. Field order and sorting make `spec_hash` stable.

    `constraints`, `files`, `pinned` and `named` are left out of the canonical form while
    empty, so specs written before they existed keep their hashes.
    """

    python: str
    pypi: tuple[Requirement, ...] = ()
    conda: tuple[Requirement, ...] = ()
    channels: tuple[str, ...] = ()
    platform: TargetPlatform = field(default_factory=TargetPlatform.host)
    constraints: tuple[Requirement, ...] = ()  # pip `-c` constraints: versions, not installs
    files: tuple[SourceFile, ...] = ()  # every file the spec was read from
    pinned: PinnedSource | None = None
    named: NamedSource | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["platform"] = str(self.platform)
        if self.platform.glibc:
            data["glibc"] = self.platform.glibc
        for optional in ("constraints", "files", "pinned", "named"):
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> EnvSpec:
        pinned, named = data.get("pinned"), data.get("named")
        return cls(
            python=data["python"],
            pypi=tuple(Requirement(**r) for r in data.get("pypi", ())),
            conda=tuple(Requirement(**r) for r in data.get("conda", ())),
            channels=tuple(data.get("channels", ())),
            platform=TargetPlatform(data["platform"], data.get("glibc")),
            constraints=tuple(Requirement(**r) for r in data.get("constraints", ())),
            files=tuple(SourceFile(**f) for f in data.get("files", ())),
            pinned=PinnedSource(pinned["format"], pinned["path"], tuple(pinned.get("groups", ())))
            if pinned
            else None,
            named=NamedSource(**named) if named else None,
        )

    @functools.cached_property
    def spec_hash(self) -> str:
        """sha256 of the canonical JSON form: equal specs, equal hashes, on any machine."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def python_minor(self) -> str:
        """`3.11` for `3.11`, `3.11.7` or `==3.11.*`."""
        return ".".join(re.findall(r"\d+", self.python)[:2])


def host_python_version() -> str:
    """The running interpreter's version, `major.minor.micro`."""
    return "%d.%d.%d" % sys.version_info[:3]


def normalize_python(version: str | None, *, what: str = "python") -> str:
    """Validate a `python=` value: `3.11`, `3.11.7`, or a specifier such as `>=3.10,<3.12`."""
    if version is None or str(version).strip() == "":
        # the running Python's minor: a lockfile shared by a team is not tied to a patch release
        return "%d.%d" % sys.version_info[:2]
    text = str(version).strip()
    if re.fullmatch(r"\d+\.\d+(\.\d+)?", text):
        return text
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise SpecError(
            f"{what}='{text}' is not a Python version: write e.g. python='3.11' or '3.11.7'"
        ) from None
    return text


def _specifier_text(name: str, version: str) -> str:
    """Metaflow's `{"pkg": "1.2"}` means `==1.2`; `{"pkg": ">=1.2"}` keeps its operator."""
    version = str(version or "").strip()
    if not version:
        return ""
    if version[0] in "<>=!~" or "," in version:
        return version  # an operator (or a malformed one, which the parser then reports)
    return f"=={version}"


def pypi_requirements(packages: Mapping[str, str]) -> tuple[Requirement, ...]:
    """Parse `@pypi(packages=...)` into sorted, validated requirements (names canonicalized)."""
    # imported here: task environments read lockfiles through this module without `packaging`
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PEP508Requirement
    from packaging.utils import canonicalize_name

    out: dict[str, Requirement] = {}
    for raw_name, version in packages.items():
        text = f"{raw_name}{_specifier_text(raw_name, version)}"
        try:
            req = PEP508Requirement(text)
        except InvalidRequirement as e:
            raise SpecError(
                f"package '{raw_name}' with version '{version}' is not a valid requirement ({e}); "
                "write versions like '2.2.3', '>=2,<3' or '' for any version"
            ) from None
        name = canonicalize_name(req.name)
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        out[name] = Requirement(f"{name}{extras}", str(req.specifier))
    return tuple(sorted(out.values()))


def conda_requirements(packages: Mapping[str, str]) -> tuple[Requirement, ...]:
    """Parse `@conda(packages=...)`, accepting `channel::name` keys, into sorted requirements."""
    out: dict[str, Requirement] = {}
    for raw_name, version in packages.items():
        channel, _, name = str(raw_name).rpartition("::")
        name = name.strip().lower()
        if not re.fullmatch(r"[a-z0-9_.\-]+", name):
            raise SpecError(f"conda package name '{raw_name}' is malformed")
        spec = _specifier_text(name, version)
        if spec and not re.fullmatch(r"[0-9A-Za-z_.*!+<>=,|~\- ]+", spec):
            raise SpecError(f"conda package '{raw_name}' has a malformed version '{version}'")
        out[name] = Requirement(name, spec.replace(" ", ""), channel or None)
    return tuple(sorted(out.values()))


def decorator_problems(decorator: str, attributes: Mapping[str, Any]) -> list[str]:
    """What is malformed in a `@pypi` / `@conda` (or `_base`) decorator's attributes, one
    sentence each naming the attribute and the form it takes; empty when nothing is."""
    problems = []
    for attribute in ("packages", "libraries"):
        value = attributes.get(attribute)
        if value is None or (isinstance(value, Mapping) and _versions_are_text(value)):
            continue
        problems.append(
            f"@{decorator}({attribute}={value!r}): {attribute} is a dict {{name: version}} of "
            f"strings, e.g. {attribute}={_as_packages(value)!r} ('' for any version)"
        )
    python = attributes.get("python")
    if python is not None and not isinstance(python, str):
        problems.append(
            f"@{decorator}(python={python!r}): python is a string, e.g. python='3.11' "
            "(a number loses digits: 3.10 is 3.1)"
        )
    for attribute, example in _FILE_EXAMPLES.items():
        value = attributes.get(attribute)
        if value is not None and not isinstance(value, str):
            problems.append(
                f"@{decorator}({attribute}={value!r}): {attribute} is one "
                f"{'name' if attribute == 'named_env' else 'file name'}, e.g. "
                f"{attribute}='{example}'"
            )
    groups = attributes.get("groups")
    if groups is not None and not _is_name_list(groups):
        problems.append(
            f"@{decorator}(groups={groups!r}): groups is a list of names, e.g. groups=['train']"
        )
    disabled = attributes.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        problems.append(f"@{decorator}(disabled={disabled!r}): disabled is True or False")
    channels = attributes.get("channels")
    if channels is not None and not _is_name_list(channels):
        problems.append(
            f"@{decorator}(channels={channels!r}): channels is a list of names, "
            "e.g. channels=['conda-forge']"
        )
    return problems


# the attributes that name a file (or a named environment), with an example of each
_FILE_EXAMPLES = {
    "requirements": "requirements.txt",
    "pyproject": "pyproject.toml",
    "lockfile": "uv.lock",
    "environment": "environment.yml",
    "named_env": "team/torch:stable",
}


def _is_name_list(value: Any) -> bool:
    """A list (or tuple) of strings, not a string itself."""
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _versions_are_text(packages: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, (str, type(None))) for k, v in packages.items())


def _as_packages(value: Any) -> dict[str, str]:
    """The dict a user most likely meant: `"numpy==2.2"` -> `{"numpy": "2.2"}`."""
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    items = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    out = {}
    for item in items:
        match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._\-\[\],]*)\s*(==)?\s*(.*?)\s*", str(item))
        if match:
            out[match.group(1)] = match.group(3)
    return out or {"numpy": "2.2.3"}
