"""pip requirements files (`requirements.txt`): the subset of pip's syntax Bakery can lock.

Supported: one PEP 508 requirement per line (with extras and environment markers), comments,
`\\` continuations, `-r`/`--requirement` includes and `-c`/`--constraint` files (relative to the
file that names them). Refused, each with what to do instead: index options (Bakery reads pip's
own settings, `PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL`, for every step), editable installs, URLs
and local paths (Bakery locks index packages), per-requirement `--hash` (a hashed file is a
lock: use `lockfile=` with a pylock.toml), and any other option.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SourceFileError
from ..spec import SourceFile
from .files import read_file

_INDEX_OPTIONS = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--trusted-host",
)
_INCLUDES = {"-r": "r", "--requirement": "r", "-c": "c", "--constraint": "c"}


@dataclass
class RequirementsFile:
    """What a requirements file (and the files it includes) asks for."""

    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    files: list[SourceFile] = field(default_factory=list)


def read_requirements(
    written: str, root: Path, *, what: str, base: Path | None = None
) -> RequirementsFile:
    """Parse the requirements file `written` (relative to `base`, else to the flow's folder
    `root`) and everything it includes."""
    result = RequirementsFile()
    _read_into(result, written, root, base, what, constraints=False, seen=())
    return result


def parse_lines(lines: list[str], *, where: str) -> list[Requirement]:
    """Requirement lines (e.g. environment.yml's `pip:` list) without options or includes."""
    out = []
    for number, line in enumerate(lines, 1):
        text = _strip_comment(line)
        if text:
            out.append(_requirement(text, f"{where}, item {number}"))
    return out


def _read_into(
    result: RequirementsFile,
    written: str,
    root: Path,
    base: Path | None,
    what: str,
    *,
    constraints: bool,
    seen: tuple[Path, ...],
) -> None:
    read = read_file(written, root, what=what, base=base)
    if read.path.resolve() in seen:
        chain = " -> ".join(p.name for p in (*seen, read.path))
        raise SourceFileError(f"{what}: {read.source.path} includes itself ({chain})")
    result.files.append(read.source)
    for number, text in _logical_lines(read.text):
        where = f"{read.source.path}, line {number}"
        if text.startswith("-"):
            kind, target = _include(text, where)
            _read_into(
                result,
                target,
                root,
                read.path.parent,
                f"{what} ({where})",
                constraints=constraints or kind == "c",
                seen=(*seen, read.path.resolve()),
            )
            continue
        requirement = _requirement(text, where)
        (result.constraints if constraints else result.requirements).append(requirement)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each logical line: comments removed, continuations joined."""
    out, pending, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append((start, line))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def _strip_comment(line: str) -> str:
    # pip: a comment starts at a `#` at the line's start or after whitespace
    return re.sub(r"(^|\s)#.*$", "", line).strip()


def _include(text: str, where: str) -> tuple[str, str]:
    """`-r file` / `--constraint=file` -> ("r" or "c", file); any other option is refused."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    option, _, attached = words[0].partition("=")
    if option.startswith("-r") and option not in _INCLUDES:  # -rfile
        option, attached = "-r", option[2:]
    if option.startswith("-c") and option not in _INCLUDES:
        option, attached = "-c", option[2:]
    if option in _INCLUDES:
        target = attached or (words[1] if len(words) > 1 else "")
        if not target:
            raise SourceFileError(f"{where}: {option} names no file")
        return _INCLUDES[option], target
    if option in _INDEX_OPTIONS:
        raise SourceFileError(
            f"{where}: '{option}' is not supported in a requirements file Bakery reads: every "
            "step uses pip's own index settings; set PIP_INDEX_URL / PIP_EXTRA_INDEX_URL (or "
            "pip.conf) instead, and remove the line"
        )
    if option in ("-e", "--editable"):
        raise SourceFileError(
            f"{where}: editable installs ({option}) cannot be locked: Bakery locks index "
            "packages; install your own code through the code package instead"
        )
    raise SourceFileError(
        f"{where}: the option '{option}' is not supported by Bakery (only -r and -c are); remove it"
    )


def _requirement(text: str, where: str) -> Requirement:
    if " --hash" in f" {text}" or "--hash=" in text:
        raise SourceFileError(
            f"{where}: per-requirement hashes (--hash) make this file a lock, which Bakery takes "
            "as a pylock.toml: export one (`uv pip compile requirements.in --format pylock.toml "
            "-o pylock.toml`) and use lockfile='pylock.toml'"
        )
    if text.startswith((".", "/")) or re.match(r"^[a-z+]+://", text):
        raise SourceFileError(
            f"{where}: '{text}' is a path or URL; Bakery locks only index packages "
            "(name and version specifier)"
        )
    try:
        requirement = Requirement(text)
    except InvalidRequirement as e:
        raise SourceFileError(f"{where}: '{text}' is not a valid requirement ({e})") from None
    if requirement.url:
        raise SourceFileError(
            f"{where}: '{text}' names a URL; Bakery locks only index packages "
            "(name and version specifier)"
        )
    return requirement
