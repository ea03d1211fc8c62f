"""What a bake installs is what was locked: every wheel taken from the store is checked against
the lock's sha256; a damaged one is fetched again, and a published file that differs from the
lock is one clear error. Wheels are crafted here and served from file:// or a loopback HTTP
server, so nothing reaches the network."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from bakery import fetch as fetch_module
from bakery.errors import FetchError
from bakery.fetch import ArtifactStore
from bakery.image.bake import BakeOptions, bake
from tests.fixtures.conda_channel import serve_directory

from .crafted import FILENAME, craft_wheel, lock_wheel, registry_state, sha256_of

SITE = "opt/bakery/env/lib/python3.11/site-packages"
LOCKED = b"def main():\n    print('locked')\n"
OTHER = b"def main():\n    print('other!')\n"  # same size: only the bytes differ


def wheel_with(dest: Path, init: bytes) -> Path:
    return craft_wheel(dest, {"demo/__init__.py": init})


def layer_file(cache_dir: Path, name: str) -> bytes:
    """The content of `name` in the layers this cache built."""
    for record in cache_dir.glob("layers/*.json"):
        blob = Path(json.loads(record.read_text())["path"])
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.read_bytes()))) as tar:
            if name in tar.getnames():
                return tar.extractfile(name).read()
    raise AssertionError(f"{name} is in no layer")


def replace_bytes(path: Path) -> None:
    path.write_bytes(wheel_with(path.parent.parent / "other", OTHER).read_bytes())


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.slow
@pytest.mark.parametrize("damage", [replace_bytes, truncate], ids=["replaced", "truncated"])
def test_a_damaged_wheel_in_the_store_is_fetched_again_and_the_bake_succeeds(
    tmp_path, cache_dir, base_images, damage
):
    env = lock_wheel(wheel_with(tmp_path / "published", LOCKED))
    store = ArtifactStore(cache_dir / "wheels")
    stored = store.fetch_all(env.packages)[env.packages[0].sha256]
    damage(stored)
    assert sha256_of(stored) != env.packages[0].sha256

    result = bake(
        env,
        base=base_images.oci,
        repository=f"{base_images.host}/check/{damage.__name__.replace('_', '-')}",
        options=BakeOptions(cache_dir=cache_dir, progress=False),
    )
    assert result.digest and not result.up_to_date
    assert sha256_of(stored) == env.packages[0].sha256
    assert layer_file(cache_dir, f"{SITE}/demo/__init__.py") == LOCKED


@pytest.mark.slow
def test_a_published_wheel_that_differs_from_the_lock_is_one_clear_error(
    tmp_path, cache_dir, base_images, registry
):
    locked = wheel_with(tmp_path / "locked", LOCKED)
    served = wheel_with(tmp_path / "index", OTHER)  # what the index publishes now
    with serve_directory(tmp_path / "index", tmp_path, FILENAME) as index:
        url = f"{index}/{FILENAME}"
        env = lock_wheel(served, url=url, sha256=sha256_of(locked))
        before = registry_state(registry)
        with pytest.raises(FetchError) as failed:
            bake(
                env,
                base=base_images.oci,
                repository=f"{base_images.host}/check/published",
                options=BakeOptions(cache_dir=cache_dir, progress=False),
            )
    message = str(failed.value)
    assert message.startswith(f"demo 1.0: {FILENAME} downloaded from {url} has sha256")
    assert "the published file differs from the one that was locked" in message
    assert registry_state(registry) == before
    assert not (cache_dir / "wheels" / env.packages[0].sha256 / FILENAME).exists()


def test_a_checked_wheel_is_not_hashed_again_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_module, "_STAMP_MIN_AGE_S", 0.0)
    hashed = []
    real_hash = fetch_module.file_sha256
    monkeypatch.setattr(
        fetch_module, "file_sha256", lambda path: hashed.append(path) or real_hash(path)
    )
    env = lock_wheel(wheel_with(tmp_path / "published", LOCKED))
    store = ArtifactStore(tmp_path / "store")
    stored = store.fetch_all(env.packages)[env.packages[0].sha256]
    assert len(hashed) == 1  # checked as it was downloaded
    store.fetch_all(env.packages)
    assert len(hashed) == 2  # checked once in the store, and stamped
    store.fetch_all(env.packages)
    assert len(hashed) == 2  # unchanged since: not hashed again

    time.sleep(0.05)  # past the clock tick of the stamped ctime
    replace_bytes(stored)
    store.fetch_all(env.packages)
    assert sha256_of(stored) == env.packages[0].sha256, "the replaced wheel was fetched again"


def test_a_wheel_changed_just_before_its_check_is_hashed_again_next_time(tmp_path, monkeypatch):
    env = lock_wheel(wheel_with(tmp_path / "published", LOCKED))
    store = ArtifactStore(tmp_path / "store")
    store.fetch_all(env.packages)
    store.fetch_all(env.packages)  # the file is seconds old at most: its stamp only marks use
    (stamp,) = (tmp_path / "store").rglob("*.checked")
    assert stamp.read_text() == "null"
    hashed = []
    real_hash = fetch_module.file_sha256
    monkeypatch.setattr(
        fetch_module, "file_sha256", lambda path: hashed.append(path) or real_hash(path)
    )
    assert store.unusable(env.packages) == []
    assert len(hashed) == 1, "hashed again"
