"""How baked images are tagged, and reading a tag back: light, so task processes can ask.

A baked image's tag is `<first 20 characters of the environment id>-<12 hex>`, the second part
hashing the base image's digest, the layout version and any extra environment variables: the
same lock on the same base always names the same image, and a tag says which environment it
holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

ENV_ID_CHARS = 20
SUFFIX_CHARS = 12


def image_tag(
    env_id: str, base_digest: str, layout: int | str, extra_env: Mapping[str, str] | None = None
) -> str:
    text = f"{base_digest}|layout{layout}" + "".join(
        f"|{k}={v}" for k, v in sorted((extra_env or {}).items())
    )
    suffix = hashlib.sha256(text.encode()).hexdigest()
    return f"{env_id[:ENV_ID_CHARS]}-{suffix[:SUFFIX_CHARS]}"


def tag_of(reference: str) -> str:
    """The tag of `registry/repo:tag[@digest]`, or "" when it has none."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def looks_baked(reference: str) -> bool:
    """Whether a reference's tag has the shape of a baked image's."""
    tag = tag_of(reference)
    return len(tag) == ENV_ID_CHARS + 1 + SUFFIX_CHARS and tag[ENV_ID_CHARS] == "-"


def baked_for(reference: str, env_id: str) -> bool:
    """Whether `reference` is an image baked for environment `env_id`."""
    return looks_baked(reference) and tag_of(reference).startswith(env_id[:ENV_ID_CHARS])
