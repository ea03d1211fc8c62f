"""Layer planning: which staged packages go into which layer. Pure: data in, data out.

A large package gets a layer of its own, so every image holding the same build of numpy points
at the same blob. Small packages are grouped to keep the layer count low; group boundaries
depend only on package *names*, so bumping one small package changes one group, not all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .layers import LayerJob, compression_codec
from .stage import Staged

LARGE_PACKAGE_BYTES = 4 * 1024 * 1024
# A group ends after a name whose hash falls in 1/GROUP_SPREAD of the range: ~4 packages a group.
GROUP_SPREAD = 4
MAX_GROUP_BYTES = 16 * 1024 * 1024


def _ends_group(name: str) -> bool:
    return hashlib.sha256(name.encode()).digest()[0] < 256 // GROUP_SPREAD


def layer_key(staged: Sequence[Staged], python_minor: str, level: int) -> str:
    """Content key of a layer: the staged trees it holds, where they go, and how it is gzipped."""
    text = "|".join([python_minor, compression_codec(level), *sorted(s.key for s in staged)])
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def plan_layers(
    staged: Sequence[Staged],
    python_minor: str,
    *,
    level: int,
    large_bytes: int = LARGE_PACKAGE_BYTES,
) -> list[LayerJob]:
    """Large packages alone, small ones in name-stable groups; in order of package name."""
    groups: list[list[Staged]] = []
    current: list[Staged] = []
    for package in sorted(staged, key=lambda s: s.package.name):
        if package.size >= large_bytes:
            groups.append([package])
            continue
        current.append(package)
        if _ends_group(package.package.name) or sum(p.size for p in current) >= MAX_GROUP_BYTES:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return [
        LayerJob(
            key=layer_key(group, python_minor, level),
            sources=tuple(group),
            packages=tuple(s.pin for s in group),
        )
        for group in groups
    ]
