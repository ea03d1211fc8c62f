"""Fixtures for image tests: an offline Debian+Python base image, podman.

The base image's root filesystem is assembled from Debian packages (`apt-get download` +
`dpkg-deb -x`) and cached under `~/.cache/bakery-test/`, so only the first run downloads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bakery.image.layers import Tree, write_layer
from bakery.image.oci import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    Descriptor,
    ImageManifest,
    canonical_json,
    sha256_digest,
)
from bakery.registry import RegistryClient

TEST_CACHE = Path(os.environ.get("BAKERY_TEST_CACHE", Path.home() / ".cache" / "bakery-test"))
DEBIAN_PACKAGES = (
    "python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libgcc-s1 gcc-12-base "
    "libstdc++6 libbz2-1.0 libcrypt1 libdb5.3 libexpat1 libffi8 libgdbm6 libgdbm-compat4 "
    "liblzma5 libncursesw6 libnsl2 libtirpc3 libtirpc-common libgssapi-krb5-2 libkrb5-3 "
    "libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libreadline8 readline-common "
    "libsqlite3-0 libssl3 libtinfo6 libuuid1 zlib1g media-types busybox-static "
    "bash coreutils libselinux1 libacl1 libattr1 libgmp10 libpcre2-8-0"
).split()


@pytest.fixture(scope="session")
def image_registry(registry) -> str:
    """The session's plain loopback registry (tests/fixtures/registry.py), as `host:port`."""
    return registry.host


def debian_rootfs(*, bytecode: bool = True) -> Path:
    """A minimal Debian bookworm root filesystem with python3.11 (also as `python`), bash,
    coreutils and busybox's other applets (the task command Metaflow gives a pod runs in bash and
    uses mkdir, tar, printenv, ...); its standard library compiled as Debian's install scripts
    compile it (`bytecode=False`: as `dpkg-deb -x` leaves it, without)."""
    rootfs = TEST_CACHE / "debian-python3.11-rootfs-v5"
    if (rootfs / ".complete").exists():
        return with_bytecode(rootfs) if bytecode else rootfs
    debs = TEST_CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "-q", *DEBIAN_PACKAGES], cwd=debs, check=True)
    shutil.rmtree(rootfs, ignore_errors=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(rootfs)], check=True)
    (rootfs / "usr/bin/python3").symlink_to("python3.11")
    (rootfs / "usr/bin/python").symlink_to("python3.11")
    (rootfs / "bin/sh").symlink_to("busybox")
    applets = subprocess.run(
        [str(rootfs / "bin/busybox"), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if not any((rootfs / folder / applet).exists() for folder in ("bin", "usr/bin")):
            (rootfs / "bin" / applet).symlink_to("busybox")
    for directory in ("tmp", "root", "proc", "sys", "dev", "etc"):
        (rootfs / directory).mkdir(exist_ok=True)
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / ".complete").touch()
    return with_bytecode(rootfs) if bytecode else rootfs


def with_bytecode(rootfs: Path) -> Path:
    """`rootfs` with bytecode for its Python's standard library and Debian's own Python packages,
    as every real base has it: Debian's python3.11 and python3-pip compile theirs when installed
    (py3compile), python:3.11-slim ships it. `dpkg-deb -x` runs no install scripts, so without
    this each container compiles the stdlib modules it imports on every start (~0.35 s for
    pandas' imports here, more for a Metaflow task). Unchecked-hash bytecode, as Bakery writes
    its own: the test layers zero every mtime."""
    compiled = rootfs.with_name(rootfs.name + "-compiled")
    if (compiled / ".complete").exists():
        return compiled
    shutil.rmtree(compiled, ignore_errors=True)
    shutil.copytree(rootfs, compiled, symlinks=True)
    (compiled / ".complete").unlink()
    folders = [
        folder
        for folder in ("usr/lib/python3.11", "usr/lib/python3/dist-packages")
        if (compiled / folder).is_dir()
    ]
    # the host's 3.11 writes the same bytecode format (magic 3495) as the base's 3.11
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "-x",
            r"/test/|/tests/",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(compiled),
            "-p",
            "/",
            *(str(compiled / folder) for folder in folders),
        ],
        check=False,  # a few test-data files in the stdlib do not compile, as with py3compile
        stdout=subprocess.DEVNULL,
    )
    (compiled / ".complete").touch()
    return compiled


@dataclass(frozen=True)
class BaseImages:
    """References to the test base image pushed in several shapes."""

    host: str
    oci: str  # an OCI manifest
    index: str  # an OCI index with linux/amd64 (the real one) and linux/s390x (a stand-in)
    docker: str  # Docker v2 media types
    layer_digest: str


def _push_image(client, repo, tag, layer, layer_type, config_type, manifest_type) -> str:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        "history": [{"created_by": "debian packages", "created": "1970-01-01T00:00:00Z"}],
    }
    config_bytes = canonical_json(config)
    client.push_blob(repo, layer.digest, layer.path)
    client.push_blob(repo, sha256_digest(config_bytes), config_bytes)
    manifest = ImageManifest(
        config=Descriptor(config_type, sha256_digest(config_bytes), len(config_bytes)),
        layers=(Descriptor(layer_type, layer.digest, layer.size),),
    ).to_dict()
    manifest["mediaType"] = manifest_type
    body = canonical_json(manifest)
    return client.put_manifest(repo, tag, body, manifest_type)


@pytest.fixture(scope="session")
def base_images(image_registry, tmp_path_factory) -> BaseImages:
    """The Debian+Python base, pushed as `base/debian:oci`, `:index` and `:docker`."""
    layer = write_layer(
        [Tree(debian_rootfs(), ".")], tmp_path_factory.mktemp("base-layer"), inside=""
    )
    oci_layer = "application/vnd.oci.image.layer.v1.tar+gzip"
    docker_layer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    with RegistryClient(image_registry) as client:
        digest = _push_image(
            client,
            "base/debian",
            "oci",
            layer,
            oci_layer,
            OCI_CONFIG,
            "application/vnd.oci.image.manifest.v1+json",
        )
        _push_image(
            client, "base/debian", "docker", layer, docker_layer, DOCKER_CONFIG, DOCKER_MANIFEST
        )
        body = client.get_manifest("base/debian", digest).body
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {**_descriptor(body, digest), "platform": {"os": "linux", "architecture": "s390x"}},
                {**_descriptor(body, digest), "platform": {"os": "linux", "architecture": "amd64"}},
            ],
        }
        client.put_manifest("base/debian", "index", canonical_json(index), OCI_INDEX)
    host = image_registry
    return BaseImages(
        host=host,
        oci=f"{host}/base/debian:oci",
        index=f"{host}/base/debian:index",
        docker=f"{host}/base/debian:docker",
        layer_digest=layer.digest,
    )


def _descriptor(body: bytes, digest: str) -> dict:
    return {"mediaType": json.loads(body)["mediaType"], "digest": digest, "size": len(body)}


PODMAN_FLAGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def podman_run(image: str, *command: str, env: dict[str, str] | None = None) -> str:
    """Run `command` in `image` with podman (pulling over plain HTTP); return its stdout."""
    if shutil.which("podman") is None:
        pytest.fail(
            "podman is not installed: run `apt-get install -y podman runc` (see "
            "/work/shared/ENVIRONMENT.md) before the container tests"
        )
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    done = subprocess.run(
        ["podman", "run", "--rm", "--tls-verify=false", *PODMAN_FLAGS, *flags, image, *command],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"podman run failed:\n{done.stderr}"
    return done.stdout


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One bake cache for the session: staged packages and layers are reused across tests."""
    return tmp_path_factory.mktemp("shared-cache")
