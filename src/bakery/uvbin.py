"""Locating the uv binary that ships with the `uv` Python package."""

from __future__ import annotations

import os
import shutil
import sysconfig
import threading

from .settings import current

# sysconfig fills its table on first use and is not thread-safe then: a thread can read it
# half-filled (`uv.find_uv_bin()` failed now and then with EXE None while another thread was
# the first to use sysconfig). Filled here, when this module is imported, before resolver
# threads start; it costs about 2 ms.
sysconfig.get_config_vars()
_lock = threading.Lock()
_found: str | None = None


def uv_binary() -> str:
    """Path of uv: `BAKERY_UV` if set, else the one from the `uv` package, else PATH."""
    global _found
    configured = current().uv
    if configured:
        return str(configured)
    if _found is None:
        # resolvers run in threads; uv's finder reads sysconfig, which is not thread-safe on first use
        with _lock:
            if _found is None:
                _found = _locate()
    return _found


def _locate() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise FileNotFoundError("uv is not installed: `pip install uv` (Bakery depends on it)")


def uv_environment() -> dict[str, str]:
    """The environment for running uv: never download Pythons, no colour, no caller's venv."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    return env
