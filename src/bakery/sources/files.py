"""Files named by decorators: found relative to the flow's folder, read once, hashed.

A decorator names a file relative to the flow (`requirements="requirements.txt"`); the spec
records that path and the file's sha256, so the spec (and the lock) changes exactly when the
file does, and the path means the same on every machine that has the flow's folder.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceFileError
from ..spec import SourceFile


@dataclass(frozen=True)
class ReadFile:
    """A file read for a spec: where it is here, how the spec names it, and its text."""

    path: Path
    source: SourceFile
    text: str


def relative_name(path: Path, root: Path) -> str:
    """How the spec names `path`: relative to the flow's folder, with `/` (`../uv.lock` too)."""
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def read_file(written: str, root: Path, *, what: str, base: Path | None = None) -> ReadFile:
    """Read the file a decorator (or an include in another file, relative to `base`) names.

    `what` names the attribute for messages, e.g. `@pypi(requirements=...)`.
    """
    if not isinstance(written, str) or not written.strip():
        raise SourceFileError(
            f"{what}: {written!r} is not a file name; write a path such as 'requirements.txt'"
        )
    path = Path(written).expanduser()
    if not path.is_absolute():
        path = (base or root) / path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceFileError(
            f"{what}: {written!r} does not exist (looked for {path}); paths are relative to "
            "the flow's folder"
        ) from None
    except OSError as e:
        raise SourceFileError(f"{what}: cannot read {path}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceFileError(f"{what}: {path} is not UTF-8 text") from None
    source = SourceFile(relative_name(path, root), hashlib.sha256(data).hexdigest())
    return ReadFile(path, source, text)


def check_unchanged(sources: tuple[SourceFile, ...], root: Path) -> None:
    """Refuse to lock from files that changed since the spec was made from them."""
    for source in sources:
        path = root / source.path
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            digest = None
        if digest != source.sha256:
            raise SourceFileError(
                f"{source.path} changed (or went away) while the environment was being locked; "
                "run again"
            )
