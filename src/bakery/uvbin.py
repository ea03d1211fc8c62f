"""Locating the uv binary that ships with the `uv` Python package."""

from __future__ import annotations

import functools
import os
import shutil


@functools.lru_cache(maxsize=1)
def uv_binary() -> str:
    """Path of uv: `BAKERY_UV` if set, else the one from the `uv` package, else PATH."""
    configured = os.environ.get("BAKERY_UV")
    if configured:
        return configured
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise FileNotFoundError("uv is not installed: `pip install uv` (Bakery depends on it)")
