"""install_conda and download_conda_packages: linking a lock into a prefix that works."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from bakery.envs.conda_install import download_conda_packages, install_conda
from bakery.errors import EnvironmentBuildError
from bakery.lock.model import LockedEnv, LockedPackage
from bakery.resolve.conda import resolve_conda
from tests.fixtures.condabuild import other_pythons


def _run(prefix: Path, *args: str) -> str:
    result = subprocess.run(
        [str(prefix / "bin" / args[0]), *args[1:]], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _replace(env: LockedEnv, name: str, **record_changes: object) -> LockedEnv:
    """A copy of `env` whose package `name` has its lock entry and record changed."""

    def change(package: LockedPackage) -> LockedPackage:
        if package.name != name:
            return package
        record = {**package.record, **record_changes}
        fields = {k: v for k, v in record_changes.items() if k in ("url", "sha256")}
        return dataclasses.replace(package, record=record, **fields)

    return dataclasses.replace(env, packages=tuple(change(p) for p in env.packages))


@pytest.fixture
def tinylib_env(make_spec, conda_channels) -> LockedEnv:
    return resolve_conda(make_spec("tinylib", "tinytool"), channels=[conda_channels.main])


def test_installed_python_prefix_runs_with_the_package(tinylib_env, tmp_path, package_cache):
    prefix = tmp_path / "env"

    install_conda(tinylib_env, prefix, cache_dir=package_cache)

    out = _run(prefix, "python", "-c", "import tinylib, sys; print(tinylib.VERSION, sys.prefix)")
    assert out == f"1.0 {prefix}"


def test_prefix_placeholder_is_replaced(tinylib_env, tmp_path, package_cache):
    prefix = tmp_path / "env"

    install_conda(tinylib_env, prefix, cache_dir=package_cache)

    assert _run(prefix, "tinytool") == f"tinytool 1.0 in {prefix}"


def test_noarch_python_entry_point_runs_in_the_prefix(tinylib_env, tmp_path, package_cache):
    prefix = tmp_path / "env"

    install_conda(tinylib_env, prefix, cache_dir=package_cache)

    assert _run(prefix, "tinylib") == f"tinylib 1.0 on {prefix}"


def test_python_pin_installs_that_interpreter(make_spec, conda_channels, tmp_path, package_cache):
    versions = sorted(other_pythons(), key=lambda v: tuple(map(int, v.split("."))))
    if not versions:
        pytest.skip("no second Python (pyenv) on this machine to build a python package from")
    minor = ".".join(versions[-1].split(".")[:2])
    env = resolve_conda(make_spec("tinylib", python=minor), channels=[conda_channels.main])
    prefix = tmp_path / "env"

    install_conda(env, prefix, cache_dir=package_cache)

    assert env.python == minor
    code = "import sys, tinylib; print('%d.%d' % sys.version_info[:2], tinylib.VERSION)"
    assert _run(prefix, "python", "-c", code) == f"{minor} 1.0"


def test_installs_from_http_channel(make_spec, conda_http_channels, tmp_path, package_cache):
    env = resolve_conda(
        make_spec("tinylib"), channels=[conda_http_channels.main], cache_dir=tmp_path / "repodata"
    )
    prefix = tmp_path / "env"

    install_conda(env, prefix, cache_dir=package_cache)

    assert _run(prefix, "python", "-c", "import tinylib; print(tinylib.VERSION)") == "1.0"


def test_installs_from_a_lock_read_back_from_json(tinylib_env, tmp_path, package_cache):
    env = LockedEnv.from_dict(tinylib_env.to_dict())
    prefix = tmp_path / "env"

    install_conda(env, prefix, cache_dir=package_cache)

    assert (prefix / "conda-meta").is_dir()
    assert _run(prefix, "python", "-c", "import tinylib; print(tinylib.VERSION)") == "1.0"


def test_installs_from_downloaded_files_without_network(
    tinylib_env, tmp_path, package_cache, closed_port_url
):
    files = download_conda_packages(tinylib_env, tmp_path / "snapshot")
    assert sorted(f.name for f in files) == sorted(p.filename for p in tinylib_env.packages)
    # every URL now points at a dead port: only the downloaded files can serve the install
    offline = tinylib_env
    for package in tinylib_env.packages:
        offline = _replace(offline, package.name, url=f"{closed_port_url}/{package.filename}")
    prefix = tmp_path / "env"

    install_conda(offline, prefix, cache_dir=package_cache, package_dir=tmp_path / "snapshot")

    assert _run(prefix, "tinytool") == f"tinytool 1.0 in {prefix}"


def test_download_from_http_checks_and_keeps_files(make_spec, conda_http_channels, tmp_path):
    env = resolve_conda(
        make_spec("tinylib"), channels=[conda_http_channels.main], cache_dir=tmp_path / "repodata"
    )

    first = download_conda_packages(env, tmp_path / "snapshot")
    mtimes = [f.stat().st_mtime_ns for f in first]
    second = download_conda_packages(env, tmp_path / "snapshot")

    assert first == second and [f.stat().st_mtime_ns for f in second] == mtimes


def test_download_rejects_a_hash_mismatch(tinylib_env, tmp_path):
    env = _replace(tinylib_env, "tinylib", sha256="0" * 64)

    with pytest.raises(EnvironmentBuildError, match="'tinylib'.*does not match the lock"):
        download_conda_packages(env, tmp_path / "snapshot")
    assert not any((tmp_path / "snapshot").glob("tinylib*"))


def test_corrupted_snapshot_file_is_rejected(tinylib_env, tmp_path, package_cache):
    snapshot = tmp_path / "snapshot"
    download_conda_packages(tinylib_env, snapshot)
    tinylib = next(p for p in tinylib_env.packages if p.name == "tinylib")
    (snapshot / tinylib.filename).write_bytes(b"not a package")

    with pytest.raises(EnvironmentBuildError, match="'tinylib'.*does not match the lock"):
        install_conda(tinylib_env, tmp_path / "env", cache_dir=package_cache, package_dir=snapshot)
    assert not (tmp_path / "env").exists()


def test_missing_snapshot_file_names_the_package(tinylib_env, tmp_path, package_cache):
    snapshot = tmp_path / "snapshot"
    for path in download_conda_packages(tinylib_env, snapshot):
        if path.name.startswith("tinytool-"):
            path.unlink()

    with pytest.raises(EnvironmentBuildError, match="'tinytool'.*missing"):
        install_conda(tinylib_env, tmp_path / "env", cache_dir=package_cache, package_dir=snapshot)


def test_failed_download_raises_naming_the_package_and_leaves_no_prefix(
    make_spec, conda_http_channels, tmp_path, package_cache
):
    env = resolve_conda(
        make_spec("tinylib"), channels=[conda_http_channels.main], cache_dir=tmp_path / "repodata"
    )
    broken = _replace(env, "tinylib", url=f"{conda_http_channels.main}/noarch/gone.tar.bz2")
    prefix = tmp_path / "env"

    with pytest.raises(EnvironmentBuildError, match="'tinylib'"):
        install_conda(broken, prefix, cache_dir=package_cache)
    assert not prefix.exists()


def test_tampered_file_channel_archive_is_rejected(tinylib_env, tmp_path, package_cache):
    env = _replace(tinylib_env, "tinytool", sha256="f" * 64)

    with pytest.raises(EnvironmentBuildError, match="'tinytool'"):
        install_conda(env, tmp_path / "env", cache_dir=package_cache)


def test_installing_again_into_the_same_prefix_is_harmless(tinylib_env, tmp_path, package_cache):
    prefix = tmp_path / "env"
    install_conda(tinylib_env, prefix, cache_dir=package_cache)

    install_conda(tinylib_env, prefix, cache_dir=package_cache)

    assert _run(prefix, "tinytool") == f"tinytool 1.0 in {prefix}"
