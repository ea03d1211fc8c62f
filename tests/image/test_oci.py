"""Config and manifest documents: canonical bytes, merged env, Docker bases, platform choice."""

from __future__ import annotations

import json

import pytest

from bakery.errors import PlatformNotFoundError
from bakery.image.base import select_platform
from bakery.image.oci import (
    DEFAULT_PATH,
    OCI_LAYER_GZIP,
    Descriptor,
    HistoryEntry,
    ImageManifest,
    canonical_json,
    derive_config,
)
from bakery.spec import TargetPlatform

DOCKER_BASE = {
    "architecture": "amd64",
    "os": "linux",
    "container_config": {"Hostname": "abc"},
    "config": {"Env": ["PATH=/usr/local/bin:/usr/bin", "LANG=C.UTF-8"], "Cmd": ["python3"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
    "history": [{"created_by": "base"}],
}


def test_canonical_json_is_independent_of_key_order():
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical_json(
        {"a": [1, {"c": 3, "d": 2}], "b": 1}
    )


def test_derived_config_prepends_path_and_keeps_the_base():
    config = derive_config(
        DOCKER_BASE,
        diff_ids=["sha256:" + "2" * 64],
        env={"PATH": "/opt/bin:${PATH}", "PYTHONPATH": "/opt/site:${PYTHONPATH}"},
        labels={"dev.bakery.env-id": "abc"},
        history=[HistoryEntry("bakery: install x==1")],
    )
    assert config["config"]["Env"] == [
        "PATH=/opt/bin:/usr/local/bin:/usr/bin",
        "LANG=C.UTF-8",
        "PYTHONPATH=/opt/site",
    ]
    assert config["config"]["Cmd"] == ["python3"]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64, "sha256:" + "2" * 64]
    assert [h["created_by"] for h in config["history"]] == ["base", "bakery: install x==1"]
    assert "container_config" not in config and config["created"] == "1970-01-01T00:00:00Z"
    assert DOCKER_BASE["config"]["Env"][0] == "PATH=/usr/local/bin:/usr/bin"  # base untouched


def test_base_without_path_gets_the_runtimes_default_path():
    # `podman import` / `docker import` of a rootfs, or FROM scratch: no config at all
    imported = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}
    config = derive_config(
        imported,
        diff_ids=[],
        env={"PATH": "/opt/bakery/env/bin:${PATH}", "PYTHONPATH": "/opt/site:${PYTHONPATH}"},
        labels={},
        history=[],
    )
    assert config["config"]["Env"] == [
        f"PATH=/opt/bakery/env/bin:{DEFAULT_PATH}",
        "PYTHONPATH=/opt/site",
    ]
    assert DEFAULT_PATH == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def test_docker_layer_types_become_oci():
    layer = Descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", "sha256:" + "a" * 64, 3)
    assert layer.as_oci_layer().media_type == OCI_LAYER_GZIP


def test_manifest_digest_is_stable_and_roundtrips():
    config = Descriptor("application/vnd.oci.image.config.v1+json", "sha256:" + "c" * 64, 10)
    layer = Descriptor(OCI_LAYER_GZIP, "sha256:" + "d" * 64, 20, annotations={"k": "v"})
    manifest = ImageManifest(config, (layer,))
    assert manifest.digest == ImageManifest.from_dict(json.loads(manifest.to_bytes())).digest


def _index(*platforms: tuple[str, str]) -> dict:
    return {
        "manifests": [
            {
                "mediaType": "m",
                "digest": f"sha256:{i}" * 1,
                "size": 1,
                "platform": {"os": o, "architecture": a},
            }
            for i, (o, a) in enumerate(platforms)
        ]
    }


def test_select_platform_picks_the_target_entry():
    index = _index(("linux", "arm64"), ("linux", "amd64"))
    assert select_platform(index, TargetPlatform("linux-64", "2.28"), "base").digest == "sha256:1"
    assert (
        select_platform(index, TargetPlatform("linux-aarch64", "2.28"), "base").digest == "sha256:0"
    )


def test_missing_platform_lists_the_available_ones():
    index = _index(("linux", "arm64"), ("linux", "s390x"), ("unknown", "unknown"))
    with pytest.raises(
        PlatformNotFoundError, match="no image for linux/amd64.*it has: linux/arm64, linux/s390x\\."
    ):
        select_platform(index, TargetPlatform("linux-64", "2.28"), "example/base:1")
