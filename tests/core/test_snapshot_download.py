"""Snapshot downloads: by the lock's URL, else the same file (by sha256) from the configured
indexes, as when a lock was made on a machine with another mirror."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from bakery.errors import FetchError
from bakery.lock.model import LockedEnv, LockedPackage
from bakery.resolve.indexes import IndexConfig
from bakery.snapshot import download_packages
from bakery.spec import EnvSpec
from tests.fixtures.private_index import PACKAGE, VERSION


def _env_with(package: LockedPackage) -> LockedEnv:
    return LockedEnv(spec=EnvSpec(python="3.11"), python="3.11", packages=(package,))


def _locked_private_package(private_index, url: str) -> LockedPackage:
    filename = f"{PACKAGE.replace('-', '_')}-{VERSION}-py3-none-any.whl"
    import httpx

    base = private_index.bare_url.rsplit("/simple", 1)[0]
    auth = ("alice", private_index.password)
    data = httpx.get(f"{base}/{filename}", auth=auth).content
    return LockedPackage(
        "pypi", PACKAGE, VERSION, url, hashlib.sha256(data).hexdigest(), filename, len(data)
    )


def test_a_lock_url_from_another_machine_falls_back_to_the_indexes(private_index, tmp_path):
    package = _locked_private_package(private_index, "file:///nonexistent/mirror/x.whl")
    indexes = IndexConfig(index_url=private_index.url)
    files = download_packages(_env_with(package), [package], tmp_path, indexes=indexes)
    assert files[package.sha256].name == package.filename


def test_no_copy_anywhere_is_one_clear_error(private_index, tmp_path):
    package = _locked_private_package(private_index, "file:///nonexistent/mirror/x.whl")
    package = dataclasses.replace(package, filename="other-1.0-py3-none-any.whl")
    indexes = IndexConfig(index_url=private_index.url)
    with pytest.raises(FetchError, match="do not have it either") as info:
        download_packages(_env_with(package), [package], tmp_path, indexes=indexes)
    assert private_index.password not in str(info.value)
