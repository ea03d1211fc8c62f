"""Layer planning: which staged packages go into which layer. Pure: data in, data out.

A large package gets a layer of its own, so every image holding the same build of numpy points
at the same blob. Small packages are grouped to keep the layer count low; group boundaries
depend only on package *names*, so bumping one small package changes one group, not all.
Layers stack largest first, the groups on top: a runtime re-applies every layer above one that
changed (it keeps layers by their chain), so a bumped small package re-applies only small ones.

Runtimes refuse images with more than ~125 layers, so an image keeps to a budget (~100 with
its base) whatever the number of packages: past it, the largest packages still get a layer
each, up to the budget less a fixed number of buckets, and every other package goes to the
bucket its name hashes to. Membership still depends on names alone, so a changed pin moves
one layer there too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .compression import Compression
from .layers import LayerJob
from .stage import Staged

LARGE_PACKAGE_BYTES = 4 * 1024 * 1024
# The whole image, base included: overlayfs and runtimes fail past ~125 layers.
IMAGE_LAYER_BUDGET = 100
IMAGE_LAYER_LIMIT = 125
# Past the budget, packages that are not among the largest share this many hash buckets.
BUCKETS = 24
# A group ends after a name whose hash falls in 1/GROUP_SPREAD of the range: ~4 packages a group.
GROUP_SPREAD = 4
MAX_GROUP_BYTES = 16 * 1024 * 1024


def _ends_group(name: str) -> bool:
    return hashlib.sha256(name.encode()).digest()[0] < 256 // GROUP_SPREAD


def layer_key(staged: Sequence[Staged], python_minor: str, compression: Compression) -> str:
    """Content key of a layer: the staged trees it holds, where they go, and how it is gzipped."""
    text = "|".join([python_minor, compression.codec, *sorted(s.key for s in staged)])
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def plan_layers(
    staged: Sequence[Staged],
    python_minor: str,
    *,
    compression: Compression,
    large_bytes: int = LARGE_PACKAGE_BYTES,
    max_layers: int = IMAGE_LAYER_BUDGET,
) -> list[LayerJob]:
    """At most `max_layers` layers: large packages alone, largest first, then small ones in
    name-stable groups, in order of their first package's name."""
    by_name = sorted(staged, key=lambda s: s.package.name)
    buckets = min(BUCKETS, max(max_layers // 2, 1))
    large = sorted(
        (p for p in by_name if p.size >= large_bytes), key=lambda p: (-p.size, p.package.name)
    )
    alone = large[: max(max_layers - buckets, 0)]
    alone_names = {p.package.name for p in alone}
    rest = [p for p in by_name if p.package.name not in alone_names]
    groups = _name_groups(rest)
    if len(groups) > max_layers - len(alone):
        groups = _hash_buckets(rest, buckets)
    # a runtime keeps a layer by its chain (the layers beneath it): one that changes makes every
    # layer above it new to a node, re-pulled and re-applied. So the large packages lie at the
    # bottom, largest first (what sits above one is smaller), and the small groups, which change
    # most and cost least to re-apply, on top.
    layers = [[p] for p in alone] + sorted(groups, key=lambda group: group[0].package.name)
    return [
        LayerJob(
            key=layer_key(group, python_minor, compression),
            sources=tuple(group),
            packages=tuple(s.pin for s in group),
        )
        for group in layers
    ]


def package_layer_budget(base_layers: int, extra_layers: int = 1) -> int:
    """How many layers an environment's packages get on a base of `base_layers` layers, with
    `extra_layers` of Bakery's own (the python links)."""
    return max(IMAGE_LAYER_BUDGET - base_layers - extra_layers, 2)


def _name_groups(packages: Sequence[Staged]) -> list[list[Staged]]:
    """Consecutive names, a group ending after a name that hashes low or at MAX_GROUP_BYTES."""
    groups: list[list[Staged]] = []
    current: list[Staged] = []
    for package in packages:
        current.append(package)
        if _ends_group(package.package.name) or sum(p.size for p in current) >= MAX_GROUP_BYTES:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _hash_buckets(packages: Sequence[Staged], count: int) -> list[list[Staged]]:
    """`count` buckets (the empty ones dropped), each package in the one its name hashes to."""
    buckets: list[list[Staged]] = [[] for _ in range(count)]
    for package in packages:
        digest = hashlib.sha256(package.package.name.encode()).digest()
        buckets[int.from_bytes(digest[:8], "big") % count].append(package)
    return [bucket for bucket in buckets if bucket]
