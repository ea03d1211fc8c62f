"""Interop: images pushed by RegistryClient are read by skopeo, and images skopeo pushes are read by us."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from bakery.registry import RegistryClient
from tests.fixtures.registry import RunningRegistry
from tests.registry.conftest import digest_of, image_manifest

pytestmark = pytest.mark.container

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _skopeo(*args: str) -> str:
    if shutil.which("skopeo") is None:
        pytest.fail("skopeo is not on PATH: run the project's setup (apt-get install -y skopeo)")
    result = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _layer() -> tuple[bytes, bytes]:
    """A one-file tar layer: (uncompressed tar, gzip of it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = b"print('baked')\n"
        info = tarfile.TarInfo("app/main.py")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    raw = buffer.getvalue()
    return raw, gzip.compress(raw, mtime=0)


def _push_image(client: RegistryClient, repository: str, tag: str) -> str:
    raw, layer = _layer()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["python", "/app/main.py"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        }
    ).encode()
    client.push_blob(repository, digest_of(layer), layer)
    client.push_blob(repository, digest_of(config), config)
    return client.put_manifest(repository, tag, image_manifest(config, [layer]), OCI_MANIFEST)


def test_skopeo_reads_and_copies_an_image_we_pushed(
    client: RegistryClient, registry: RunningRegistry, repository: str, tmp_path: Path
) -> None:
    digest = _push_image(client, repository, "v1")
    source = f"docker://{registry.host}/{repository}:v1"
    inspected = json.loads(_skopeo("inspect", "--tls-verify=false", source))
    assert inspected["Digest"] == digest
    assert inspected["Architecture"] == "amd64"
    # A copy verifies every blob's digest on the way.
    _skopeo("copy", "--src-tls-verify=false", source, f"oci:{tmp_path / 'layout'}:v1")
    assert (tmp_path / "layout" / "blobs" / "sha256" / digest.split(":")[1]).exists()


def test_we_read_an_image_skopeo_pushed(
    client: RegistryClient, registry: RunningRegistry, repository: str, tmp_path: Path
) -> None:
    _push_image(client, f"{repository}/src", "v1")
    _skopeo(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--format=v2s2",
        f"docker://{registry.host}/{repository}/src:v1",
        f"docker://{registry.host}/{repository}/dst:copied",
    )
    fetched = client.get_manifest(f"{repository}/dst", "copied")
    assert fetched.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert client.head_manifest(f"{repository}/dst", "copied") == fetched.digest
    manifest = json.loads(fetched.body)
    layer = manifest["layers"][0]["digest"]
    pulled = client.pull_blob(f"{repository}/dst", layer, tmp_path / "layer.tar.gz")
    with tarfile.open(pulled) as tar:
        assert tar.getnames() == ["app/main.py"]
