"""Named environments: a locked environment published under `NAME:TAG` in the datastore.

`registry.NamedEnvs` keeps them (over any `TextStore`: the Metaflow adapter gives it the
datastore); `refs` parses and checks names, tags and the moving aliases.
"""

from __future__ import annotations

from .refs import ALIASES, NamedRef, parse_ref
from .registry import NamedEnvs, Published, TextStore

__all__ = ["ALIASES", "NamedEnvs", "NamedRef", "Published", "TextStore", "parse_ref"]
