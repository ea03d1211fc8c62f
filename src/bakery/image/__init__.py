"""Image baking: a locked environment on a base image, as deterministic layers, pushed to a registry.

`bake(env, base=..., repository=...)` is the entry point; `inspect_image(ref)` reads one back.
"""

from .bake import BakeOptions, BakeResult, bake, default_cache_dir, image_env, image_tag
from .inspect import ImageInfo, LayerInfo, inspect_image
from .layers import DEFAULT_COMPRESSION_LEVEL, Entry, Layer, Tree, write_layer
from .stage import ENV_ROOT, StagedPackage, find_python, site_packages_dir, stage_env

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
