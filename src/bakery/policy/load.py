"""Find and read the admin's policy file (TOML) into a `Policy`; every mistake is one `PolicyFileError`.

Where the policy comes from, in order: an explicit path (from the launcher that owns the machine),
the `BAKERY_POLICY_FILE` environment variable, `/etc/bakery/policy.toml` if it exists. A flow or the
command line cannot switch a policy off: nothing here reads them.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

from ..errors import PolicyFileError
from ..settings import current
from .model import Policy
from .patterns import ImagePattern, RepositoryPrefix

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

POLICY_FILE_ENV = "BAKERY_POLICY_FILE"
"""Environment variable naming the policy file (set by whoever owns the machine or launcher)."""

DEFAULT_POLICY_PATH = Path("/etc/bakery/policy.toml")
"""The policy file used when nothing names one; no file there means no policy."""

SUPPORTED_VERSIONS = (1,)
"""Values of `version` this Bakery understands."""

_SECTIONS: dict[str, tuple[str, ...]] = {
    "images": ("allowed",),
    "dependencies": ("on_the_fly", "named_prefixes"),
    "bake": ("registry",),
}
_TOP_LEVEL = ("version", *_SECTIONS)


def find_policy_file() -> Path | None:
    """The policy file this machine is configured with: `$BAKERY_POLICY_FILE`, else the default path
    if it exists, else None. A path named by the variable is returned even if it does not exist, so
    that loading it fails loudly."""
    configured = current().policy_file
    if configured is not None:
        if not configured.strip():
            raise PolicyFileError(
                f"{POLICY_FILE_ENV} is set but empty; set it to the path of the policy file, "
                f"or unset it (a policy cannot be switched off by emptying the variable)"
            )
        return Path(configured.strip()).expanduser()
    return DEFAULT_POLICY_PATH if DEFAULT_POLICY_PATH.exists() else None


def load_policy(path: Path | None = None) -> Policy | None:
    """Load the policy at `path`, or the one this machine is configured with; None if there is none.

    A path given here or in `$BAKERY_POLICY_FILE` must exist: an admin who configured a policy never
    meant to run without it, so a missing or unreadable file raises `PolicyFileError`.
    """
    if path is None:
        path = find_policy_file()
        if path is None:
            return None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(
            f"policy file {path} does not exist; it is configured (explicitly or through "
            f"{POLICY_FILE_ENV}), so runs stop rather than go ahead without it. Create the file, "
            f"or point {POLICY_FILE_ENV} at the right one."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyFileError(
            f"cannot read policy file {path}: {error}; make it a readable UTF-8 TOML file"
        ) from None
    return parse_policy(text, path=path)


def parse_policy(text: str, *, path: Path) -> Policy:
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
