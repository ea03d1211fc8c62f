"""What runs is what was locked: environments built from uv's cache are checked against RECORD,
sealed read-only, rebuilt when edited, and a wheel that lies about its files is refused.

uv hard-links an environment's files from its cache: a file changed in one environment changes
uv's cache entry and every environment sharing it. Each test has its own uv cache.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from bakery.envs.cache import EnvCache
from bakery.envs.integrity import changed_since_sealed, verify_environment
from bakery.envs.realize import realize
from bakery.errors import EnvironmentIntegrityError
from bakery.lock.model import LockedEnv, LockedPackage
from bakery.resolve import resolve
from bakery.spec import EnvSpec, host_python_version, pypi_requirements
from bakery.uvbin import uv_binary

pytestmark = pytest.mark.network


@pytest.fixture(autouse=True)
def own_uv_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "uv-cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(cache))
    monkeypatch.setenv("BAKERY_COMPILE_BYTECODE", "never")
    return cache


def _env(**packages: str) -> LockedEnv:
    return resolve(EnvSpec(python=host_python_version(), pypi=pypi_requirements(packages)))


@pytest.fixture(scope="module")
def six_env() -> LockedEnv:
    return _env(six="1.16.0")


@pytest.fixture(scope="module")
def six_tabulate_env() -> LockedEnv:
    return _env(six="1.16.0", tabulate="0.9.0")


def _six(root: Path) -> Path:
    return next(root.glob("lib/python*/site-packages")) / "six.py"


def _poison(path: Path) -> None:
    """What a task (or a user) editing an installed file does; root ignores the read-only bit."""
    os.chmod(path, 0o644)
    with path.open("a") as handle:
        handle.write("\nPOISONED = True\n")


def test_a_new_environment_is_sealed_read_only_and_verifies(tmp_path, six_env, own_uv_cache):
    cached = realize(six_env, EnvCache(tmp_path / "cache"))
    six = _six(cached.path)
    assert six.stat().st_mode & 0o222 == 0, "files of a finished environment are read-only"
    assert six.stat().st_nlink > 1, "still hard-linked with uv's cache (no copy made)"
    report = verify_environment(cached.path)
    assert report.ok and report.packages == {"six 1.16.0": "ok"}, report.findings
    assert changed_since_sealed(cached.path) is None
    # uv's cache entry shares the inode, so it is read-only too; uv can still drop it
    clean = subprocess.run([uv_binary(), "cache", "clean", "six"], capture_output=True)
    assert clean.returncode == 0 and not list(own_uv_cache.glob("archive-v0/*/six.py"))


def test_a_poisoned_uv_cache_entry_is_fetched_again(
    tmp_path, six_env, six_tabulate_env, own_uv_cache
):
    cache = EnvCache(tmp_path / "cache")
    first = realize(six_env, cache)
    _poison(_six(first.path))  # through the hard link: uv's cache entry is poisoned too
    cached_six = list(own_uv_cache.glob("archive-v0/*/six.py"))
    assert cached_six and all("POISONED" in p.read_text() for p in cached_six)

    other = realize(six_tabulate_env, cache)  # a new environment, linked from uv's cache

    assert "POISONED" not in _six(other.path).read_text()
    assert verify_environment(other.path).ok
    cached_six = list(own_uv_cache.glob("archive-v0/*/six.py"))
    assert cached_six and not any("POISONED" in p.read_text() for p in cached_six), (
        "uv's poisoned cache entry was dropped and fetched again"
    )


def test_a_rebuild_after_deleting_bin_python_does_not_keep_an_edited_file(tmp_path, six_env):
    cache = EnvCache(tmp_path / "cache")
    first = realize(six_env, cache)
    _poison(_six(first.path))
    (first.path / "bin" / "python").unlink()

    again = realize(six_env, cache)

    assert again.created and again.path == first.path
    assert "POISONED" not in _six(again.path).read_text()
    assert verify_environment(again.path).ok


def test_an_environment_edited_after_its_build_is_rebuilt_before_use(tmp_path, six_env):
    cache = EnvCache(tmp_path / "cache")
    first = realize(six_env, cache)
    _poison(_six(first.path))

    assert changed_since_sealed(first.path) == f"{_six(first.path).relative_to(first.path)} changed"
    assert cache.lookup(first.key, six_env) is None
    again = realize(six_env, cache)
    assert again.created and "POISONED" not in _six(again.path).read_text()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _lying_wheel(folder: Path) -> Path:
    """A wheel whose RECORD gives its module another digest than the module has."""
    meta = b"Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n"
    wheel = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = (
        f"liar.py,{_record_hash(b'VALUE = 2')},9\n"
        f"liar-1.0.dist-info/METADATA,{_record_hash(meta)},{len(meta)}\n"
        f"liar-1.0.dist-info/WHEEL,{_record_hash(wheel)},{len(wheel)}\n"
        "liar-1.0.dist-info/RECORD,,\n"
    )
    path = folder / "liar-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("liar.py", b"VALUE = 1\n")
        archive.writestr("liar-1.0.dist-info/METADATA", meta)
        archive.writestr("liar-1.0.dist-info/WHEEL", wheel)
        archive.writestr("liar-1.0.dist-info/RECORD", record)
    return path


def test_a_wheel_whose_files_differ_from_its_record_is_refused(tmp_path):
    packages = tmp_path / "packages"
    packages.mkdir()
    wheel = _lying_wheel(packages)
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    liar = LockedPackage("pypi", "liar", "1.0", wheel.as_uri(), sha256, wheel.name)
    minor = ".".join(host_python_version().split(".")[:2])
    env = LockedEnv(EnvSpec(python=host_python_version()), minor, (liar,))
    cache = EnvCache(tmp_path / "cache")

    with pytest.raises(EnvironmentIntegrityError) as error:
        realize(env, cache, package_dir=packages)

    message = str(error.value)
    assert re.search(r"liar 1\.0: lib/python3\.\d+/site-packages/liar\.py modified", message)
    assert "even as fetched again" in message
    assert not list(cache.envs_dir.iterdir()), "nothing half-built is left in the cache"


def _hashed_files(monkeypatch) -> list[str]:
    import bakery.envs.integrity as integrity

    hashed: list[str] = []
    real = integrity.digest_matches
    monkeypatch.setattr(integrity, "digest_matches", lambda p, d: hashed.append(p) or real(p, d))
    return hashed


def test_files_a_build_already_hashed_are_not_hashed_again(tmp_path, six_env, monkeypatch):
    hashed = _hashed_files(monkeypatch)
    realize(six_env, EnvCache(tmp_path / "warm-up"))  # uv's cache now holds six
    cache = EnvCache(tmp_path / "cache")
    hashed.clear()
    first = realize(six_env, cache)
    assert any(p.endswith("six.py") for p in hashed), "linked from uv's cache: hashed"
    shutil.rmtree(first.path)  # as a rebuild after deleting the environment would
    hashed.clear()

    again = realize(six_env, cache)

    assert hashed and not any(p.endswith("six.py") for p in hashed), (
        "six.py, linked from uv's cache unchanged since a build hashed it, was hashed again"
    )
    names = {Path(p).name for p in hashed}
    assert names <= {"INSTALLER", "REQUESTED"}, "only files this build wrote itself"
    assert verify_environment(again.path).ok


def test_a_wheel_fetched_and_checked_by_this_build_is_not_hashed_again(
    tmp_path, six_env, monkeypatch
):
    """uv downloaded six now (an empty cache) and checked it against the lock's sha256: its
    files are the wheel's. The build remembers them, so the next build does not hash them
    either, and `bakery env verify` still hashes everything."""
    hashed = _hashed_files(monkeypatch)
    cache = EnvCache(tmp_path / "cache")

    first = realize(six_env, cache)

    assert not any(p.endswith("six.py") for p in hashed)
    assert _six(first.path).stat().st_nlink > 1, "linked with uv's cache, as any build"
    shutil.rmtree(first.path)
    hashed.clear()
    again = realize(six_env, cache)
    assert not any(p.endswith("six.py") for p in hashed)
    assert verify_environment(again.path).ok and any(p.endswith("six.py") for p in hashed)


def test_only_the_index_distributions_uv_fetched_count_as_fetched_now():
    from bakery.envs.pypi_install import uncached_in

    log = (
        "DEBUG Registry requirement already cached: numpy==2.4.6\n"
        "DEBUG Identified uncached distribution: PyYAML==6.0.3\n"
        "DEBUG Identified uncached distribution: scikit_learn==1.9.1\n"
        "DEBUG Identified uncached distribution: liar @ file:///tmp/liar-1.0-py3-none-any.whl\n"
        "error: Identified uncached distribution: six==1.16.0\n"
    )
    assert uncached_in(log) == {"pyyaml", "scikit-learn"}
    assert uncached_in("") == set()


def test_bytecode_compiled_after_the_build_is_recorded_and_compared(tmp_path, six_env, monkeypatch):
    monkeypatch.setenv("BAKERY_COMPILE_BYTECODE", "sync")
    cached = realize(six_env, EnvCache(tmp_path / "cache"))
    (pyc,) = _six(cached.path).parent.glob("__pycache__/six.*.pyc")
    assert pyc.stat().st_mode & 0o222 == 0
    assert verify_environment(cached.path).ok

    # Python runs a .pyc whose header matches its source without reading the source
    body = bytearray(pyc.read_bytes())
    body[-1] ^= 0xFF
    os.chmod(pyc, 0o644)
    pyc.write_bytes(bytes(body))

    rel = pyc.relative_to(cached.path).as_posix()
    findings = verify_environment(cached.path).findings
    assert [(f.path, f.state) for f in findings] == [(rel, "modified")]
    assert changed_since_sealed(cached.path) == f"{rel} changed"


def test_background_compilation_records_its_bytecode(tmp_path, six_env, monkeypatch):
    monkeypatch.setenv("BAKERY_COMPILE_BYTECODE", "background")
    cached = realize(six_env, EnvCache(tmp_path / "cache"))
    deadline = time.monotonic() + 120
    while not (cached.path / ".bakery-bytecode.json").exists():
        assert time.monotonic() < deadline, "the background compile recorded nothing"
        time.sleep(0.2)
    report = verify_environment(cached.path)
    assert report.ok and report.checked > 8  # six's files and its bytecode
