"""Finding uv from resolver threads: sysconfig is filled before any thread can race on it."""

from __future__ import annotations

import subprocess
import sys

FRESH = """
import sysconfig
assert not getattr(sysconfig, "_CONFIG_VARS", None), "sysconfig already filled"
import bakery.uvbin
assert sysconfig._CONFIG_VARS and sysconfig._CONFIG_VARS.get("EXE") is not None
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(8) as pool:
    found = set(pool.map(lambda _: bakery.uvbin.uv_binary(), range(32)))
assert len(found) == 1, found
print("ok")
"""


def test_importing_uvbin_fills_sysconfig_before_threads_use_it():
    # -S: no site, so nothing has touched sysconfig before bakery.uvbin is imported
    done = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}\n" + FRESH],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
