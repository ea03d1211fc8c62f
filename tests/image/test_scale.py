"""Scale, with generated packages and no network: a 150-package environment within the layer
budget (a changed pin moves one layer, also past the budget on a base of many layers), an
interrupted push that resumes, and a 200 MB wheel baked in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bakery.image.bake import BakeOptions, bake
from bakery.image.compression import Compression
from bakery.image.layers import Tree, write_layer
from bakery.image.oci import (
    OCI_CONFIG,
    OCI_MANIFEST,
    Descriptor,
    ImageManifest,
    canonical_json,
    sha256_digest,
)
from bakery.lock import Lockfile, write_lock
from bakery.registry import RegistryClient
from bakery.resolve.indexes import IndexConfig
from bakery.resolve.pypi import resolve_pypi
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements
from tests.fixtures import wheelhouse

from .conftest import debian_rootfs, podman_run
from .test_bake import layers_of

pytestmark = [pytest.mark.slow, pytest.mark.container]

PLATFORM = TargetPlatform("linux-64", "2.36")
COUNT = 150
CHANGED = wheelhouse.package_name(77)
# runs a command; prints its output, then on stderr the peak RSS (KiB) of its largest process
MEASURED = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(done.returncode)
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> str:
    """A file:// index of 150 generated packages, gen-app requiring them all, and a 2.0 of one."""
    root = tmp_path_factory.mktemp("wheelhouse")
    wheels = wheelhouse.generate(root / "wheels", COUNT)
    source = 'NAME = "changed"\n'
    module = f"{CHANGED.replace('-', '_')}/__init__.py"
    wheels.append(wheelhouse.make_wheel(root / "wheels", CHANGED, "2.0", {module: source}))
    return wheelhouse.simple_index(root, wheels)


def locked(index: str, pins: dict[str, str]):
    spec = EnvSpec(python="3.11", pypi=pypi_requirements(pins), platform=PLATFORM)
    return resolve_pypi(spec, "3.11", indexes=IndexConfig(index_url=index))


def test_150_packages_bake_within_the_budget_and_a_changed_pin_moves_one_layer(
    index, base_images, shared_cache
):
    before_env = locked(index, {wheelhouse.APP: "1.0", CHANGED: "1.0"})
    after_env = locked(index, {wheelhouse.APP: "1.0", CHANGED: "2.0"})
    assert len(before_env.packages) == COUNT + 1
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/scale/many"
    before = bake(before_env, base=base_images.oci, repository=repository, options=options)
    after = bake(after_env, base=base_images.oci, repository=repository, options=options)
    old = layers_of(base_images.host, before.reference)
    new = layers_of(base_images.host, after.reference)
    assert 10 < len(old) <= 100 and len(new) == len(old)
    changed = set(new) - set(old)
    assert len(changed) == 1 and f"{CHANGED}==2.0" in new[changed.pop()][0]
    assert (after.layers_built, after.layers_reused) == (1, len(new) - 2)


def push_base_of_many_layers(host: str, count: int, work: Path) -> str:
    """The Debian base plus `count - 1` one-file layers, pushed as `scale/base:many`."""
    layers = [write_layer([Tree(debian_rootfs(), ".")], work / "blobs", inside="")]
    for i in range(count - 1):
        folder = work / f"extra-{i}"
        (folder / "etc" / "extra").mkdir(parents=True)
        (folder / "etc" / "extra" / f"{i}.conf").write_text(f"{i}\n")
        layers.append(write_layer([Tree(folder, ".")], work / "blobs", inside=""))
    config = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        }
    )
    manifest = ImageManifest(
        config=Descriptor(OCI_CONFIG, sha256_digest(config), len(config)),
        layers=tuple(Descriptor(layer.media_type, layer.digest, layer.size) for layer in layers),
    )
    with RegistryClient(host) as client:
        for layer in layers:
            client.push_blob("scale/base", layer.digest, layer.path)
        client.push_blob("scale/base", sha256_digest(config), config)
        client.put_manifest("scale/base", "many", manifest.to_bytes(), OCI_MANIFEST)
    return f"{host}/scale/base:many"


def test_past_the_budget_on_a_base_of_70_layers_the_image_keeps_to_100_and_runs(
    index, base_images, shared_cache, tmp_path
):
    base = push_base_of_many_layers(base_images.host, 70, tmp_path)
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/scale/deep"
    before = bake(
        locked(index, {wheelhouse.APP: "1.0", CHANGED: "1.0"}),
        base=base,
        repository=repository,
        options=options,
    )
    after = bake(
        locked(index, {wheelhouse.APP: "1.0", CHANGED: "2.0"}),
        base=base,
        repository=repository,
        options=options,
    )
    old = layers_of(base_images.host, before.reference)
    new = layers_of(base_images.host, after.reference)
    assert len(old) <= 100 and len(set(new) - set(old)) == 1
    imports = "; ".join(f"import gen_pkg_{i:03d}" for i in (0, 33, 77, 149))
    out = podman_run(after.reference, "python3", "-c", f"{imports}; print(gen_pkg_077.NAME)")
    assert out.strip() == "changed"


def test_an_interrupted_push_resumes_without_sending_again_what_arrived(
    index, base_images, tmp_path
):
    env = locked(index, {wheelhouse.APP: "1.0", CHANGED: "1.0"})
    repository = f"{base_images.host}/scale/resume"
    options = BakeOptions(cache_dir=tmp_path / "cache", progress=False, uploads=1)
    with RegistryClient(base_images.host) as client:
        push_blob = client.push_blob
        sent: list[str] = []

        def fails_after_five(repository, digest, *args, **kwargs):
            if len(sent) == 5:
                raise ConnectionResetError("the connection dropped")
            added = push_blob(repository, digest, *args, **kwargs)
            if added:
                sent.append(digest)
            return added

        client.push_blob = fails_after_five  # type: ignore[method-assign]
        with pytest.raises(ConnectionResetError):
            bake(env, base=base_images.oci, repository=repository, options=options, client=client)
    with RegistryClient(base_images.host) as client:
        log: list[str] = []
        push_blob = client.push_blob

        def logged(repository, digest, *args, **kwargs):
            added = push_blob(repository, digest, *args, **kwargs)
            if added:
                log.append(digest)
            return added

        client.push_blob = logged  # type: ignore[method-assign]
        result = bake(
            env, base=base_images.oci, repository=repository, options=options, client=client
        )
    assert len(sent) == 5 and not set(sent) & set(log)
    pushed = layers_of(base_images.host, result.reference)
    assert set(sent) | set(log) >= set(pushed) - {base_images.layer_digest}


def test_a_200mb_wheel_bakes_with_bounded_memory(base_images, tmp_path):
    wheel = wheelhouse.big_wheel(tmp_path / "wheels", 200 << 20)
    url = wheelhouse.simple_index(tmp_path, [wheel])
    lockfile = Lockfile(flow="flow.py")
    lockfile.set_step("start", locked(url, {"gen-big": "1.0"}))
    write_lock(lockfile, tmp_path / "flow.bakery.lock")
    bake_command = [sys.executable, "-m", "bakery.cli.main", "bake", "--json"]
    bake_command += ["--lock", str(tmp_path / "flow.bakery.lock"), "--base", base_images.oci]
    bake_command += ["--registry", f"{base_images.host}/scale/big"]
    bake_command += ["--cache-dir", str(tmp_path / "cache")]
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, *bake_command], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    peak_mib = int(done.stderr.strip().splitlines()[-1]) / 1024
    (result,) = json.loads(done.stdout).values()
    layers = layers_of(base_images.host, result["reference"])
    big = max(size for _, size in layers.values())
    assert big > 200 << 20  # random bytes: the layer is as big as the file
    # nothing whole in memory: the interpreter, its imports and a few slices in flight
    print(f"peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < 250, f"peak RSS {peak_mib:.0f} MiB"


def test_zstd_layers_are_pulled_and_run_by_podman(index, base_images, shared_cache):
    options = BakeOptions(
        cache_dir=shared_cache, progress=False, compression=Compression.of("zstd")
    )
    env = locked(index, {wheelhouse.package_name(3): "1.0"})
    result = bake(
        env, base=base_images.oci, repository=f"{base_images.host}/scale/zstd", options=options
    )
    media_types = {
        layer.media_type for layer in manifest_of(base_images.host, result.reference).layers
    }
    assert "application/vnd.oci.image.layer.v1.tar+zstd" in media_types
    out = podman_run(
        result.reference, "python3", "-c", "import gen_pkg_003; print(gen_pkg_003.NAME)"
    )
    assert out.strip() == "gen-pkg-003"


def manifest_of(host: str, image: str) -> ImageManifest:
    repository, digest = image.split("/", 1)[1].split(":", 1)[0], image.rsplit("@", 1)[1]
    with RegistryClient(host) as client:
        return ImageManifest.from_dict(json.loads(client.get_manifest(repository, digest).body))
