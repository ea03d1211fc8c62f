"""`NAME[:TAG]` references to named environments.

Names are paths of lowercase segments (`team/torch`); tags are OCI-tag-like (`2024-11`,
`v1.2`). `latest` and `stable` are aliases: they move (and record who moved them, and when);
every other tag names one environment per platform forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import NamedEnvError

ALIASES = ("latest", "stable")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class NamedRef:
    name: str
    tag: str

    @property
    def is_alias(self) -> bool:
        return self.tag in ALIASES

    @property
    def key(self) -> str:
        """The name as one path segment of the store (`team/torch` -> `team%2Ftorch`)."""
        return quote(self.name, safe="")

    def __str__(self) -> str:
        return f"{self.name}:{self.tag}"


def parse_ref(text: str, *, default_tag: str | None = "latest") -> NamedRef:
    """`team/torch:2024-11` -> NamedRef; a missing tag is `default_tag` (refused when None)."""
    name, sep, tag = (
        str(text).strip().rpartition(":") if ":" in str(text) else (str(text).strip(), "", "")
    )
    if not sep:
        tag = default_tag or ""
    if not _NAME.fullmatch(name):
        raise NamedEnvError(
            f"'{text}' is not a named environment: a name is lowercase segments joined by `/` "
            "(e.g. team/torch), then `:TAG`"
        )
    if not tag:
        raise NamedEnvError(f"'{text}' names no tag: write {name}:TAG (e.g. {name}:2024-11)")
    if not _TAG.fullmatch(tag):
        raise NamedEnvError(
            f"'{text}': the tag '{tag}' is not valid (letters, digits, `.`, `_`, `-`; 128 at most)"
        )
    return NamedRef(name, tag)
