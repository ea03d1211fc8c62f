"""Bad inputs give one clear error each, and nothing partial is pushed or cached."""

from __future__ import annotations

import errno

import httpx
import pytest

from bakery.errors import (
    ImageError,
    ImageReferenceError,
    PlatformNotFoundError,
    RegistryAuthError,
    RegistryNotFoundError,
    RegistryUnreachableError,
)
from bakery.image import layers as layers_module
from bakery.image.bake import BakeOptions, bake
from bakery.image.base import BaseImage, check_python
from bakery.image.oci import Descriptor, ImageManifest
from bakery.lock.model import LockedEnv
from bakery.registry import Credentials
from bakery.registry.reference import ImageReference
from bakery.spec import TargetPlatform

from .locks import lock

pytestmark = pytest.mark.slow

ENV = ("idna==3.10",)


def options(cache_dir, **kwargs) -> BakeOptions:
    return BakeOptions(cache_dir=cache_dir, progress=False, **kwargs)


def repository_is_empty(host: str, repository: str) -> bool:
    return httpx.get(f"http://{host}/v2/{repository}/tags/list").status_code == 404


def test_malformed_repository_reference(base_images, cache_dir):
    with pytest.raises(ImageReferenceError, match="invalid"):
        bake(
            lock(ENV),
            base=base_images.oci,
            repository="127.0.0.1:1/UPPER case",
            options=options(cache_dir),
        )


def test_malformed_base_reference(image_registry, cache_dir):
    with pytest.raises(ImageReferenceError):
        bake(
            lock(ENV),
            base="http://x/y",
            repository=f"{image_registry}/e/x",
            options=options(cache_dir),
        )


def test_base_not_found(base_images, cache_dir):
    with pytest.raises(RegistryNotFoundError, match="base image .*nope.*check its name"):
        bake(
            lock(ENV),
            base=f"{base_images.host}/base/nope:1",
            repository=f"{base_images.host}/e/notfound",
            options=options(cache_dir),
        )
    assert repository_is_empty(base_images.host, "e/notfound")


def test_platform_missing_from_the_base_index(base_images, cache_dir):
    env = lock(ENV)
    arm = LockedEnv(
        spec=type(env.spec)(
            python="3.11", pypi=env.spec.pypi, platform=TargetPlatform("linux-aarch64", "2.28")
        ),
        python="3.11",
        packages=env.packages,
    )
    with pytest.raises(
        PlatformNotFoundError, match="linux/arm64.*it has: linux/amd64, linux/s390x"
    ):
        bake(
            arm,
            base=base_images.index,
            repository=f"{base_images.host}/e/arm",
            options=options(cache_dir),
        )
    assert repository_is_empty(base_images.host, "e/arm")


def test_unreachable_registry(base_images, cache_dir):
    with pytest.raises(RegistryUnreachableError):
        bake(
            lock(ENV),
            base=base_images.oci,
            repository="127.0.0.1:9/e/x",
            options=options(cache_dir),
        )


def test_refused_credentials(auth_registry, cache_dir):
    wrong = Credentials(auth_registry.username, "wrong password")
    with pytest.raises(RegistryAuthError):
        bake(
            lock(ENV),
            base=f"{auth_registry.host}/base/debian:oci",
            repository=f"{auth_registry.host}/e/auth",
            options=options(cache_dir, credentials=wrong),
        )


def test_full_disk_while_building_a_layer_pushes_nothing(base_images, cache_dir, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(layers_module, "write_layer", no_space)
    with pytest.raises(ImageError, match="No space left on device.*BAKERY_CACHE_DIR"):
        bake(
            lock(ENV),
            base=base_images.oci,
            repository=f"{base_images.host}/e/full",
            options=options(cache_dir),
        )
    assert repository_is_empty(base_images.host, "e/full")
    assert not list(cache_dir.glob("layers/*.json")) and not list(cache_dir.glob("pushed/*"))


def test_base_with_another_python_is_refused():
    manifest = ImageManifest(Descriptor("c", "sha256:" + "0" * 64, 1), ())
    declared = BaseImage(
        ImageReference.parse("python:3.12-slim"),
        "sha256:" + "1" * 64,
        manifest,
        {"config": {"Env": ["PYTHON_VERSION=3.12.9"]}},
    )
    with pytest.raises(ImageError, match="provides Python 3.12 .* locked for Python 3.11"):
        check_python(declared, "3.11")
