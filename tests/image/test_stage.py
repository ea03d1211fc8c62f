"""Staging installs locked wheels for the target, one cached tree per package, with valid bytecode."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from bakery.errors import ImageError
from bakery.image.stage import find_python, stage_env

from .locks import lock

pytestmark = pytest.mark.slow


def test_each_package_is_staged_in_its_own_tree(cache_dir):
    env = lock(("requests==2.32.3",))
    result = stage_env(env, cache_dir)
    pins = [s.pin for s in result.packages]
    assert "requests==2.32.3" in pins and len(pins) == len(env.packages)
    requests_tree = next(s for s in result.packages if s.package.name == "requests").root
    assert (requests_tree / "site" / "requests" / "__init__.py").is_file()
    assert not (requests_tree / "site" / "urllib3").exists()


def test_second_stage_installs_nothing(cache_dir):
    env = lock(("requests==2.32.3",))
    stage_env(env, cache_dir)
    assert stage_env(env, cache_dir).installed == 0


def test_bytecode_is_unchecked_hash_and_points_at_the_image_path(cache_dir):
    env = lock(("requests==2.32.3",))
    staged = next(s for s in stage_env(env, cache_dir).packages if s.package.name == "requests")
    pyc = next((staged.root / "site" / "requests" / "__pycache__").glob("api.cpython-311.pyc"))
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, check_source off
    source = (staged.root / "site" / "requests" / "api.py").read_bytes()
    assert pyc.read_bytes()[8:16] == importlib.util.source_hash(source)
    assert b"/opt/bakery/env/lib/python3.11/site-packages/requests/api.py" in pyc.read_bytes()


def test_scripts_find_python_on_path(cache_dir):
    env = lock(("charset-normalizer==3.4.0",))
    staged = stage_env(env, cache_dir).packages[0]
    script = (staged.root / "bin" / "normalizer").read_text()
    assert script.startswith("#!/usr/bin/env python3.11\n")


def test_staging_targets_another_python_than_the_host(cache_dir):
    if find_python("3.12") is None:
        pytest.fail("no Python 3.12 on this machine: pyenv install 3.12 (tests expect pyenv's)")
    env = lock(("markupsafe==3.0.2",), python="3.12")
    staged = stage_env(env, cache_dir).packages[0]
    assert list((staged.root / "site" / "markupsafe").glob("_speedups.cpython-312-*.so"))
    assert list((staged.root / "site" / "markupsafe" / "__pycache__").glob("*.cpython-312.pyc"))


def test_staged_bytes_do_not_depend_on_the_cache_location(tmp_path):
    env = lock(("idna==3.10",))
    one = stage_env(env, tmp_path / "a").packages[0].root
    two = stage_env(env, tmp_path / "b").packages[0].root
    diff = subprocess.run(["diff", "-r", str(one), str(two)], capture_output=True, text=True)
    assert diff.returncode == 0, diff.stdout


def test_a_wheel_for_another_platform_is_refused(cache_dir):
    env = lock(("markupsafe==3.0.2",), python="3.12")
    wrong = type(env)(spec=env.spec, python="3.11", packages=env.packages)
    with pytest.raises(ImageError, match="markupsafe|Python 3.11"):
        stage_env(wrong, cache_dir)


def test_host_python_is_found():
    assert find_python(f"{sys.version_info[0]}.{sys.version_info[1]}") is not None
