"""Baking real environments onto the offline Debian base, pushing to a loopback registry, running them."""

from __future__ import annotations

import json
import subprocess

import pytest

from bakery.image.bake import BakeOptions, bake
from bakery.image.oci import ANNOTATION_LAYER_PACKAGES
from bakery.registry import RegistryClient

from .conftest import podman_run
from .locks import lock

pytestmark = [pytest.mark.slow, pytest.mark.container]

REQUESTS = ("requests==2.32.3", "markupsafe==3.0.2")


class RequestLog:
    """Records every HTTP request a client sends (method, path)."""

    def __init__(self, client: RegistryClient) -> None:
        self.calls: list[tuple[str, str]] = []
        original = client._transport.request

        def request(method, path, *args, **kwargs):
            self.calls.append((method, path))
            return original(method, path, *args, **kwargs)

        client._transport.request = request  # type: ignore[method-assign]


def layer_digests(host: str, image: str) -> dict[str, str]:
    """Layer digest -> the packages annotation, for an image `host/repo:tag@digest`."""
    return {digest: packages for digest, (packages, _size) in layers_of(host, image).items()}


def layers_of(host: str, image: str) -> dict[str, tuple[str, int]]:
    """Layer digest -> (packages annotation, size), for an image `host/repo:tag@digest`."""
    repository, digest = image.split("/", 1)[1].split(":", 1)[0], image.rsplit("@", 1)[1]
    with RegistryClient(host) as client:
        manifest = json.loads(client.get_manifest(repository, digest).body)
    return {
        layer["digest"]: (
            (layer.get("annotations") or {}).get(ANNOTATION_LAYER_PACKAGES, "base"),
            layer["size"],
        )
        for layer in manifest["layers"]
    }


def test_baked_image_runs_the_locked_versions(base_images, shared_cache):
    env = lock(REQUESTS)
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    result = bake(
        env, base=base_images.oci, repository=f"{base_images.host}/t/run", options=options
    )
    assert not result.up_to_date and result.bytes_uploaded > 0
    out = podman_run(
        result.reference,
        "python3",
        "-c",
        "import requests, markupsafe, markupsafe._speedups; "
        "import site; print(requests.__version__, markupsafe.__version__, "
        "site.ENABLE_USER_SITE, site.getusersitepackages())",
    )
    # the user site is our site-packages, so .pth files in it are honoured too
    site_packages = "/opt/bakery/env/lib/python3.11/site-packages"
    assert out.split() == ["2.32.3", "3.0.2", "True", site_packages]


def test_bytecode_in_the_image_is_used_as_is(base_images, shared_cache):
    env = lock(REQUESTS)
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    result = bake(
        env, base=base_images.oci, repository=f"{base_images.host}/t/run", options=options
    )
    out = podman_run(
        result.reference,
        "python3",
        "-c",
        "import sys, requests; mods = [m for m in sys.modules.values() "
        "if (getattr(m, '__file__', None) or '').startswith('/opt/bakery') "
        "and m.__file__.endswith('.py')]; "
        "print(len(mods), sum(type(m.__spec__.loader).__name__ == 'SourceFileLoader' "
        "and m.__spec__.cached is not None for m in mods))",
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
    verbose = podman_run(
        result.reference, "sh", "-c", "python3 -v -c 'import requests' 2>&1 | grep /opt/bakery"
    )
    loaded, with_pyc = (int(x) for x in out.split())
    assert loaded > 20 and with_pyc == loaded
    assert "code object from '/opt/bakery" in verbose
    assert "bytecode is stale" not in verbose and "could not" not in verbose


def test_rebake_of_an_unchanged_env_is_two_heads_the_image_and_its_referrers(
    base_images, shared_cache
):
    env = lock(REQUESTS)
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/t/rebake"
    first = bake(env, base=base_images.oci, repository=repository, options=options)
    with RegistryClient(base_images.host) as client:
        log = RequestLog(client)
        again = bake(
            env, base=base_images.oci, repository=repository, options=options, client=client
        )
    assert again.up_to_date and again.bytes_uploaded == 0 and again.digest == first.digest
    assert [method for method, _ in log.calls] == ["HEAD", "HEAD"]
    assert all("/manifests/" in path for _, path in log.calls)
    assert again.seconds < 0.5


def test_a_lost_image_is_pushed_again(base_images, shared_cache, registry):
    env = lock(("idna==3.10",))
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/t/lost"
    first = bake(env, base=base_images.oci, repository=repository, options=options)
    with RegistryClient(base_images.host) as client:
        client._transport.request(
            "DELETE", f"/v2/t/lost/manifests/{first.digest}", what="x", ok=(202,)
        )
    again = bake(env, base=base_images.oci, repository=repository, options=options)
    assert not again.up_to_date and again.digest == first.digest


def test_one_package_change_uploads_only_its_layer(base_images, shared_cache):
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/t/change"
    before = bake(lock(REQUESTS), base=base_images.oci, repository=repository, options=options)
    after = bake(
        lock(("requests==2.32.3", "markupsafe==3.0.1")),
        base=base_images.oci,
        repository=repository,
        options=options,
    )
    old = layers_of(base_images.host, before.reference)
    new = layers_of(base_images.host, after.reference)
    changed = set(new) - set(old)
    assert len(changed) == 1 and "markupsafe==3.0.1" in new[next(iter(changed))][0]
    assert len(set(old) & set(new)) == len(new) - 1
    # the changed layer and the config, nothing of the base or the other layers
    assert after.bytes_uploaded < new[next(iter(changed))][1] + 20_000
    assert (after.layers_built, after.layers_reused) == (1, len(new) - 2)


def test_two_envs_share_the_numpy_layer_and_pandas_runs(base_images, shared_cache):
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/t/numpy"
    alone = bake(
        lock(("numpy==2.2.6",)), base=base_images.oci, repository=repository, options=options
    )
    with_pandas = bake(
        lock(("numpy==2.2.6", "pandas==2.2.3")),
        base=base_images.oci,
        repository=repository,
        options=options,
    )
    layers = [layers_of(base_images.host, image.reference) for image in (alone, with_pandas)]
    numpy_layers = [
        {d for d, (pkgs, _) in found.items() if pkgs == "numpy==2.2.6"} for found in layers
    ]
    assert numpy_layers[0] == numpy_layers[1] and len(numpy_layers[0]) == 1
    new_layers = set(layers[1]) - set(layers[0])
    assert with_pandas.bytes_uploaded < sum(layers[1][d][1] for d in new_layers) + 100_000
    out = podman_run(
        with_pandas.reference,
        "python3",
        "-c",
        "import pandas, numpy; print(pandas.__version__, numpy.__version__, "
        "pandas.DataFrame({'a': [1, 2]}).a.sum())",
    )
    assert out.split() == ["2.2.3", "2.2.6", "3"]


def test_index_and_docker_bases_are_accepted(base_images, shared_cache):
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    env = lock(("idna==3.10",))
    for base in (base_images.index, base_images.docker):
        result = bake(env, base=base, repository=f"{base_images.host}/t/bases", options=options)
        out = podman_run(result.reference, "python3", "-c", "import idna; print(idna.__version__)")
        assert out.strip() == "3.10"


def test_base_in_another_registry_is_copied(base_images, shared_cache, registry_factory):
    other = registry_factory()
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    env = lock(("idna==3.10",))
    result = bake(env, base=base_images.oci, repository=f"{other.host}/t/copied", options=options)
    with RegistryClient(other.host) as client:
        assert client.blob_exists("t/copied", base_images.layer_digest)
    subprocess.run(["podman", "rmi", "-f", result.reference], capture_output=True)
    out = podman_run(result.reference, "python3", "-c", "import idna; print(idna.__version__)")
    assert out.strip() == "3.10"
