"""Find and read the policy files in force (TOML) into `Policies`; every mistake is one `PolicyFileError`.

Which files are in force, all of them at once (a request must satisfy each):

1. `/etc/bakery/policy.toml`, the machine's, whenever it exists: nothing a user sets can move,
   replace or switch it off;
2. the file named by the `policy_file` setting (`METAFLOW_BAKERY_POLICY_FILE` in the environment
   or Metaflow's configuration, else `BAKERY_POLICY_FILE`): it can only add restrictions.

A user who controls the environment or `METAFLOW_HOME`/`METAFLOW_PROFILE` picks the second file,
never the first; a flow or the command line cannot name either. What a check on the client cannot
stop (root, or another interpreter) is what `bakery policy export` is for.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PolicyFileError
from ..settings import current
from .model import Policies, Policy
from .patterns import ImagePattern, RepositoryPrefix

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

POLICY_FILE_ENV = "BAKERY_POLICY_FILE"
"""Environment variable naming a policy file that adds to the machine's."""

MACHINE_POLICY_PATH = Path("/etc/bakery/policy.toml")
"""The machine's policy file, in force whenever it exists; no setting moves it."""

MACHINE_ORIGIN = "the machine's policy file, in force whenever it exists"

SUPPORTED_VERSIONS = (1,)
"""Values of `version` this Bakery understands."""

_SECTIONS: dict[str, tuple[str, ...]] = {
    "images": ("allowed",),
    "dependencies": ("on_the_fly", "named_prefixes"),
    "bake": ("registry",),
}
_TOP_LEVEL = ("version", *_SECTIONS)


@dataclass(frozen=True)
class PolicySource:
    """A policy file in force and why: `origin` is said in every refusal."""

    path: Path
    origin: str


def find_policy_files() -> list[PolicySource]:
    """The policy files in force, the machine's first; an empty list when there are none.

    A file named by the setting is listed even if it does not exist, so that loading it fails
    loudly; one that is the machine's file itself is listed once."""
    sources = []
    if MACHINE_POLICY_PATH.exists():
        sources.append(PolicySource(MACHINE_POLICY_PATH, MACHINE_ORIGIN))
    settings = current()
    configured = settings.policy_file
    if configured is None:
        return sources
    if not configured.strip():
        raise PolicyFileError(
            f"{settings.source('policy_file')} is set but empty; set it to the path of a policy "
            f"file, or unset it (a policy cannot be switched off by emptying the variable)"
        )
    path = Path(configured.strip()).expanduser()
    if not any(_same_file(path, source.path) for source in sources):
        origin = (
            f"{settings.source('policy_file')}; it adds to the machine's policy, never replaces it"
        )
        sources.append(PolicySource(path, origin))
    return sources


def load_policies() -> Policies:
    """Every policy file in force, loaded (see `find_policy_files`); empty when there is none.

    A file in force that is missing, unreadable or malformed raises `PolicyFileError`: a policy
    somebody configured is never skipped."""
    return Policies(tuple(load_policy(s.path, origin=s.origin) for s in find_policy_files()))


def load_policy(path: Path, *, origin: str = "named explicitly") -> Policy:
    """Load the one policy file at `path`; `origin` says why it is in force, for messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(
            f"policy file {path} does not exist; it is configured ({origin}), so runs stop "
            f"rather than go ahead without it. Create the file, or point {POLICY_FILE_ENV} at "
            f"the right one."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyFileError(
            f"cannot read policy file {path} ({origin}): {error}; make it a readable UTF-8 "
            f"TOML file"
        ) from None
    return parse_policy(text, path=path, origin=origin)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def parse_policy(text: str, *, path: Path, origin: str = "named explicitly") -> Policy:
    """Parse the TOML `text` of the policy file at `path` (named in errors) into a `Policy`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _error(path, None, f"is not valid TOML ({error})", "fix the syntax") from None
    _check_keys(path, None, data, _TOP_LEVEL)
    version = _version(path, data)
    images = _section(path, data, "images")
    dependencies = _section(path, data, "dependencies")
    bake = _section(path, data, "bake")
    return Policy(
        path=path,
        origin=origin,
        version=version,
        allowed_images=None if images is None else _allowed_images(path, images),
        on_the_fly=None if dependencies is None else _on_the_fly(path, dependencies),
        named_prefixes=None if dependencies is None else _named_prefixes(path, dependencies),
        bake_registry=None if bake is None else _bake_registry(path, bake),
    )


def _version(path: Path, data: dict[str, Any]) -> int:
    if "version" not in data:
        raise _error(path, "version", "is missing", "add `version = 1` at the top of the file")
    version = data["version"]
    if type(version) is not int:
        raise _error(path, "version", f"must be an integer, not {version!r}", "write `version = 1`")
    if version not in SUPPORTED_VERSIONS:
        raise _error(
            path,
            "version",
            f"= {version} is not supported by this Bakery (it reads version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))})",
            "write `version = 1`, or upgrade Bakery on every machine that reads this file",
        )
    return version


def _section(path: Path, data: dict[str, Any], name: str) -> dict[str, Any] | None:
    if name not in data:
        return None
    section = data[name]
    if not isinstance(section, dict):
        raise _error(path, name, "must be a table", f"write it as a `[{name}]` section")
    _check_keys(path, name, section, _SECTIONS[name])
    if not any(key in section for key in _SECTIONS[name]):
        keys = " or ".join(f"`{key}`" for key in _SECTIONS[name])
        raise _error(
            path,
            f"[{name}]",
            f"has no {keys}",
            f"set {keys} in it, or remove the section to put no constraint of this kind",
        )
    return section


def _allowed_images(path: Path, images: dict[str, Any]) -> tuple[ImagePattern, ...]:
    allowed = images["allowed"]
    if not isinstance(allowed, list):
        raise _error(
            path,
            "[images] allowed",
            f"must be a list of strings, not {allowed!r}",
            'write e.g. `allowed = ["registry.example.com/ml/*"]`',
        )
    patterns = []
    for index, entry in enumerate(allowed):
        key = f"[images] allowed[{index}]"
        if not isinstance(entry, str):
            raise _error(path, key, f"must be a string, not {entry!r}", "quote the pattern")
        try:
            patterns.append(ImagePattern.parse(entry))
        except PolicyFileError as error:
            raise _error(
                path,
                key,
                f"= {entry!r} is not a valid image pattern: {error}",
                "write a glob like 'registry.example.com/ml/*' or 'python:3.11-*', "
                "or a digest like 'python@sha256:<64 hex>'",
            ) from None
    return tuple(patterns)


def _named_prefixes(path: Path, dependencies: dict[str, Any]) -> tuple[str, ...] | None:
    value = dependencies.get("named_prefixes")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _error(
            path,
            "[dependencies] named_prefixes",
            f"must be a list of name prefixes, not {value!r}",
            'write e.g. `named_prefixes = ["ml-platform/"]`',
        )
    return tuple(v.strip() for v in value)


def _on_the_fly(path: Path, dependencies: dict[str, Any]) -> bool | None:
    if "on_the_fly" not in dependencies:
        return None
    value = dependencies["on_the_fly"]
    if not isinstance(value, bool):
        raise _error(
            path,
            "[dependencies] on_the_fly",
            f"must be true or false, not {value!r}",
            "write `on_the_fly = false` (or true), without quotes",
        )
    return value


def _bake_registry(path: Path, bake: dict[str, Any]) -> RepositoryPrefix:
    value = bake["registry"]
    if not isinstance(value, str):
        raise _error(
            path,
            "[bake] registry",
            f"must be a string, not {value!r}",
            'write e.g. `registry = "registry.example.com/team/envs"`',
        )
    try:
        return RepositoryPrefix.parse(value)
    except PolicyFileError as error:
        raise _error(
            path,
            "[bake] registry",
            f"= {value!r} is not a registry or repository path: {error}",
            "write a registry host, optionally with a path, e.g. 'registry.example.com/team/envs'",
        ) from None


def _check_keys(
    path: Path, section: str | None, table: dict[str, Any], known: tuple[str, ...]
) -> None:
    for key in table:
        if key in known:
            continue
        where = f"[{section}] {key}" if section else key
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        expected = ", ".join(f"`{name}`" for name in known)
        raise _error(
            path,
            where,
            "is not a known " + (f"key of [{section}]" if section else "key or section"),
            f"{hint}{'the section knows' if section else 'the file knows'} {expected}; "
            "remove or rename it",
        )


def _error(path: Path, key: str | None, problem: str, fix: str) -> PolicyFileError:
    where = f"policy file {path}" + (f": {key}" if key else "")
    return PolicyFileError(f"{where} {problem}; {fix}.")
