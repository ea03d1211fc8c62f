"""Image baking: a locked environment on a base image, as deterministic layers, pushed to a registry.

`bake(env, base=..., repository=...)` is the entry point; `inspect_image(ref)` reads one back.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bake import BakeOptions, BakeResult, bake, default_cache_dir, image_env, image_tag
    from .inspect import ImageInfo, LayerInfo, inspect_image
    from .layers import DEFAULT_COMPRESSION_LEVEL, Entry, Layer, Tree, write_layer
    from .stage import ENV_ROOT, StagedPackage, find_python, site_packages_dir, stage_env

# imported when first used: a submodule (`bakery.image.compression`) does not pull in the rest
_HOMES = {
    **dict.fromkeys(
        ["BakeOptions", "BakeResult", "bake", "default_cache_dir", "image_env", "image_tag"],
        "bake",
    ),
    **dict.fromkeys(["ImageInfo", "LayerInfo", "inspect_image"], "inspect"),
    **dict.fromkeys(
        ["DEFAULT_COMPRESSION_LEVEL", "Entry", "Layer", "Tree", "write_layer"], "layers"
    ),
    **dict.fromkeys(
        ["ENV_ROOT", "StagedPackage", "find_python", "site_packages_dir", "stage_env"], "stage"
    ),
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_COMPRESSION_LEVEL",
    "ENV_ROOT",
    "BakeOptions",
    "BakeResult",
    "Entry",
    "ImageInfo",
    "Layer",
    "LayerInfo",
    "StagedPackage",
    "Tree",
    "bake",
    "default_cache_dir",
    "find_python",
    "image_env",
    "image_tag",
    "inspect_image",
    "site_packages_dir",
    "stage_env",
    "write_layer",
]
