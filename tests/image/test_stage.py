"""Staging reads locked wheels straight into layer entries, with valid bytecode, as uv installs them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import zipfile
from contextlib import ExitStack

import pytest

from bakery.errors import ImageError
from bakery.image.layers import DEFAULT_COMPRESSION, LayerCache, build_layers
from bakery.image.plan import plan_layers
from bakery.image.stage import StagedPackage, find_python, stage_env
from bakery.image.wheel import site_packages_dir
from bakery.uvbin import uv_binary

from .locks import lock

pytestmark = pytest.mark.slow
SITE = site_packages_dir("3.11")


def files_of(staged: StagedPackage) -> dict[str, bytes]:
    """Every regular file the package puts in a layer: image path -> bytes."""
    with ExitStack() as stack:
        return {
            e.name: e.open().read()
            for e in staged.entries(stack)
            if e.kind == tarfile.REGTYPE and e.open
        }


def one(result, name: str) -> StagedPackage:
    return next(s for s in result.packages if s.package.name == name)


def test_each_package_brings_only_its_own_files(cache_dir):
    env = lock(("requests==2.32.3",))
    result = stage_env(env, cache_dir)
    pins = [s.pin for s in result.packages]
    assert "requests==2.32.3" in pins and len(pins) == len(env.packages)
    files = files_of(one(result, "requests"))
    assert f"{SITE}/requests/__init__.py" in files
    assert not any(name.startswith(f"{SITE}/urllib3/") for name in files)


def test_second_stage_compiles_nothing(cache_dir):
    env = lock(("requests==2.32.3",))
    stage_env(env, cache_dir)
    assert stage_env(env, cache_dir).installed == 0


def test_bytecode_is_unchecked_hash_and_points_at_the_image_path(cache_dir):
    env = lock(("requests==2.32.3",))
    files = files_of(one(stage_env(env, cache_dir), "requests"))
    pyc = files[f"{SITE}/requests/__pycache__/api.cpython-311.pyc"]
    flags = int.from_bytes(pyc[4:8], "little")
    assert flags == 0b01  # hash-based, check_source off
    assert pyc[8:16] == importlib.util.source_hash(files[f"{SITE}/requests/api.py"])
    assert f"/{SITE}/requests/api.py".encode() in pyc


def test_scripts_find_python_on_path(cache_dir):
    env = lock(("charset-normalizer==3.4.0",))
    files = files_of(stage_env(env, cache_dir).packages[0])
    script = files["opt/bakery/env/bin/normalizer"].decode()
    assert script.startswith("#!/usr/bin/env python3.11\n")
    assert "from charset_normalizer.cli import cli_detect" in script


def test_installs_the_same_files_as_uv(cache_dir, tmp_path):
    """Site-packages as uv lays it out for the same wheels, apart from installer metadata."""
    env = lock(("requests==2.32.3", "charset-normalizer==3.4.0"))
    ours: dict[str, bytes] = {}
    for staged in stage_env(env, cache_dir).packages:
        ours.update(files_of(staged))
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("".join(f"{p.name} @ {p.url}\n" for p in env.packages))
    target = tmp_path / "target"
    subprocess.run(
        [uv_binary(), "pip", "install", "-q", "--no-deps", "--target", str(target)]
        + ["--python-version", "3.11", "-r", str(reqs)],
        check=True,
    )
    metadata = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json"}
    installed = [p.relative_to(target) for p in target.rglob("*") if p.is_file()]
    theirs = {
        f"{SITE}/{rel.as_posix()}": (target / rel).read_bytes()
        for rel in installed
        if "__pycache__" not in rel.parts and rel.parts[0] not in ("bin", ".lock")
    }
    ours_site = {
        name: data
        for name, data in ours.items()
        if name.startswith(SITE) and "__pycache__" not in name
    }

    def comparable(files):
        return {n: d for n, d in files.items() if n.rsplit("/", 1)[-1] not in metadata}

    assert comparable(ours_site) == comparable(theirs)
    record = ours[next(n for n in ours if n.endswith("requests-2.32.3.dist-info/RECORD"))]
    assert b"requests/api.py,sha256=" in record and b"INSTALLER,sha256=" in record


def test_staging_targets_another_python_than_the_host(cache_dir):
    if find_python("3.12") is None:
        pytest.fail("no Python 3.12 on this machine: pyenv install 3.12 (tests expect pyenv's)")
    env = lock(("markupsafe==3.0.2",), python="3.12")
    files = files_of(stage_env(env, cache_dir).packages[0])
    site = site_packages_dir("3.12")
    assert any(n.startswith(f"{site}/markupsafe/_speedups.cpython-312-") for n in files)
    assert f"{site}/markupsafe/__pycache__/__init__.cpython-312.pyc" in files


def test_layers_do_not_depend_on_the_cache_location(tmp_path):
    env = lock(("idna==3.10",))
    digests = []
    for where in ("a", "b"):
        staged = stage_env(env, tmp_path / where)
        jobs = plan_layers(staged.packages, env.python, compression=DEFAULT_COMPRESSION)
        layers, _ = build_layers(jobs, LayerCache(tmp_path / where))
        digests.append([layer.digest for layer in layers])
    assert digests[0] == digests[1]


def test_a_wheel_for_another_platform_is_refused(cache_dir):
    env = lock(("markupsafe==3.0.2",), python="3.12")
    wrong = type(env)(spec=env.spec, python="3.11", packages=env.packages)
    with pytest.raises(ImageError, match="(?i)markupsafe.*does not run on Python 3.11"):
        stage_env(wrong, cache_dir)
    assert not (cache_dir / "wheels").exists()  # refused before anything was fetched


def test_a_truncated_wheel_is_refused_and_not_kept(cache_dir, tmp_path):
    env = lock(("idna==3.10",))
    package = env.packages[0]
    broken = tmp_path / package.filename
    broken.write_bytes(b"PK\x03\x04 not a wheel")
    bad = type(package)(**{**package.__dict__, "url": broken.as_uri()})
    wrong = type(env)(spec=env.spec, python=env.python, packages=(bad,))
    with pytest.raises(Exception, match="sha256"):
        stage_env(wrong, cache_dir)
    assert not list((cache_dir / "wheels").glob("*/*.whl"))


def test_bytecode_zip_holds_what_the_compiler_accepts(cache_dir):
    env = lock(("idna==3.10",))
    staged = stage_env(env, cache_dir).packages[0]
    assert staged.bytecode is not None
    with zipfile.ZipFile(staged.bytecode) as archive:
        names = archive.namelist()
    assert names == sorted(names) and all(n.endswith(".cpython-311.pyc") for n in names)


def test_host_python_is_found():
    assert find_python(f"{sys.version_info[0]}.{sys.version_info[1]}") is not None


def test_a_failing_compiler_is_one_clear_error(cache_dir, tmp_path, monkeypatch):
    from bakery.image import stage as stage_module

    broken = tmp_path / "worker.py"
    broken.write_text("import sys\nsys.stderr.write('boom\\n')\nsys.exit(3)\n")
    monkeypatch.setattr(stage_module.compile_worker, "__file__", str(broken))
    env = lock(("idna==3.10",))
    with pytest.raises(ImageError, match=r"compiling bytecode .* failed \(exit status 3:\nboom"):
        stage_env(env, cache_dir)
    assert not list((cache_dir / "bytecode").glob("*.zip"))


def test_a_locked_file_that_is_no_zip_is_one_clear_error(cache_dir, tmp_path):
    import hashlib

    env = lock(("idna==3.10",))
    broken = tmp_path / env.packages[0].filename
    broken.write_bytes(b"not a zip at all")
    package = type(env.packages[0])(
        **{
            **env.packages[0].__dict__,
            "url": broken.as_uri(),
            "sha256": hashlib.sha256(broken.read_bytes()).hexdigest(),
        }
    )
    wrong = type(env)(spec=env.spec, python=env.python, packages=(package,))
    with pytest.raises(ImageError, match="not a readable wheel.*lock another version of idna"):
        stage_env(wrong, cache_dir)
