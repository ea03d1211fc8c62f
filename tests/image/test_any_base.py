"""Baking on bases made the way users make them: `podman import` of a rootfs tarball (no config,
no PATH), a base with only `python3`, bases without bash or without Python.

The rootfs tarballs are built once per session from the cached Debian packages of
`conftest.debian_rootfs()` (and busybox-static), imported with podman and pushed to the loopback
registry with `podman push`, as a user would. Variants without bash or Python are the imported
base plus one layer of whiteouts, as a `RUN rm` in a Dockerfile would add.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from bakery.errors import BaseImageError
from bakery.image.bake import BakeOptions, bake
from bakery.image.oci import OCI_LAYER_GZIP, Descriptor, ImageManifest, canonical_json
from bakery.image.oci import sha256_digest as digest_of
from bakery.registry import RegistryClient
from bakery.resolve import resolve
from bakery.spec import EnvSpec, TargetPlatform, conda_requirements
from tests.fixtures.condabuild import build_channel, python_package

from .conftest import debian_rootfs, podman_run
from .locks import lock
from .test_bake import RequestLog
from .test_bake_errors import repository_is_empty

pytestmark = [pytest.mark.slow, pytest.mark.container]

ENV = ("idna==3.10",)


@dataclass(frozen=True)
class ImportedBases:
    debian: str  # python3.11 + python3 (no `python`), bash, merged /bin -> usr/bin; no config
    no_bash: str  # the same, bash whited out in a second layer
    no_python: str  # the same, python3.11 whited out
    busybox: str  # busybox-static alone: neither bash nor Python
    no_stdlib_bytecode: str  # debian with the stdlib's top __pycache__ whited out


def _podman(*args: str) -> str:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run `apt-get install -y podman runc`")
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"podman {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def _debian_python3_only(root: Path) -> Path:
    """The test Debian rootfs with merged /usr (`/bin -> usr/bin`) and no `python` command."""
    shutil.copytree(debian_rootfs(), root, symlinks=True)
    (root / ".complete").unlink()
    (root / "usr/bin/python").unlink()
    for entry in sorted((root / "bin").iterdir()):
        moved = root / "usr/bin" / entry.name
        if moved.exists() or moved.is_symlink():
            entry.unlink()
        else:
            entry.rename(moved)
    (root / "bin").rmdir()
    (root / "bin").symlink_to("usr/bin")
    return root


def _busybox_only(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    shutil.copy2(shutil.which("busybox") or "/bin/busybox", root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    return root


def _import_and_push(rootfs: Path, tarball: Path, local: str, remote: str) -> None:
    """`tar` the rootfs, `podman import` it (an image with no config at all), `podman push` it."""
    subprocess.run(
        ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], check=True
    )
    _podman("import", str(tarball), local)
    _podman("push", "--tls-verify=false", local, remote)


def _with_whiteouts(
    client: RegistryClient, repository: str, tag: str, new_tag: str, *names: str
) -> str:
    """Push `repository:new_tag`: the image at `tag` plus a layer deleting `names` (whiteouts)."""
    manifest = json.loads(client.get_manifest(repository, tag).body)
    config = json.loads(client.get_blob_bytes(repository, manifest["config"]["digest"]))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in names:
            folder, _, base = name.rpartition("/")
            tar.addfile(tarfile.TarInfo(f"{folder}/.wh.{base}"))
    layer = _gzip(raw.getvalue())
    client.push_blob(repository, digest_of(layer), layer)
    config["rootfs"]["diff_ids"].append(digest_of(raw.getvalue()))
    config_bytes = canonical_json(config)
    client.push_blob(repository, digest_of(config_bytes), config_bytes)
    new = ImageManifest(
        config=Descriptor(
            manifest["config"]["mediaType"], digest_of(config_bytes), len(config_bytes)
        ),
        layers=(
            *(Descriptor.from_dict(d) for d in manifest["layers"]),
            Descriptor(OCI_LAYER_GZIP, digest_of(layer), len(layer)),
        ),
    )
    client.put_manifest(repository, new_tag, new.to_bytes(), new.to_dict()["mediaType"])
    return f"{client.registry}/{repository}:{new_tag}"


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


@pytest.fixture(scope="session")
def imported_bases(image_registry, tmp_path_factory) -> ImportedBases:
    work = tmp_path_factory.mktemp("imported-bases")
    local = f"localhost/bakery-test-imported-{uuid.uuid4().hex[:8]}"
    repository = "base/imported"
    try:
        _import_and_push(
            _debian_python3_only(work / "debian"),
            work / "debian.tar",
            f"{local}:debian",
            f"{image_registry}/{repository}:debian",
        )
        _import_and_push(
            _busybox_only(work / "busybox"),
            work / "busybox.tar",
            f"{local}:busybox",
            f"{image_registry}/{repository}:busybox",
        )
    finally:
        subprocess.run(
            ["podman", "rmi", "-f", f"{local}:debian", f"{local}:busybox"], capture_output=True
        )
    with RegistryClient(image_registry) as client:
        no_bash = _with_whiteouts(client, repository, "debian", "no-bash", "usr/bin/bash")
        no_python = _with_whiteouts(client, repository, "debian", "no-python", "usr/bin/python3.11")
        no_stdlib_bytecode = _with_whiteouts(
            client, repository, "debian", "no-stdlib-bytecode", "usr/lib/python3.11/__pycache__"
        )
    return ImportedBases(
        debian=f"{image_registry}/{repository}:debian",
        no_bash=no_bash,
        no_python=no_python,
        busybox=f"{image_registry}/{repository}:busybox",
        no_stdlib_bytecode=no_stdlib_bytecode,
    )


def options(cache_dir: Path, **kwargs) -> BakeOptions:
    return BakeOptions(cache_dir=cache_dir, progress=False, **kwargs)


def test_imported_base_without_config_runs_python_python3_and_bash(
    imported_bases, shared_cache, image_registry
):
    config = _podman_config(imported_bases.debian, image_registry)
    assert "Env" not in (config.get("config") or {})  # what `podman import` gives: no PATH
    result = bake(
        lock(ENV),
        base=imported_bases.debian,
        repository=f"{image_registry}/t/imported",
        options=options(shared_cache),
    )
    out = podman_run(
        result.reference,
        "bash",  # found on the image's PATH, as the task command is
        "-c",
        "command -v python python3 bash && python -c 'import idna, sys; print(idna.__version__, "
        "sys.version_info[:2])' && python3 -c 'import idna; print(idna.__version__)' && echo $PATH",
    )
    subprocess.run(["podman", "rmi", "-f", result.reference], capture_output=True)
    lines = out.split("\n")
    assert lines[:3] == [
        "/opt/bakery/env/bin/python",
        "/opt/bakery/env/bin/python3",
        "/usr/bin/bash",
    ]
    assert lines[3:6] == [
        "3.10 (3, 11)",
        "3.10",
        "/opt/bakery/env/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]


def _podman_config(reference: str, host: str) -> dict:
    repository, tag = reference.split("/", 1)[1].rsplit(":", 1)
    with RegistryClient(host) as client:
        manifest = json.loads(client.get_manifest(repository, tag).body)
        return json.loads(client.get_blob_bytes(repository, manifest["config"]["digest"]))


def test_a_base_without_stdlib_bytecode_is_baked_with_a_note(
    imported_bases, shared_cache, image_registry
):
    """Such a base works, but every task compiles the stdlib it imports when it starts: the
    bake says so, once, with what to do; a base with the bytecode gets no such note."""
    repository = f"{image_registry}/t/stdlib-note"
    kept = bake(lock(ENV), base=imported_bases.debian, repository=repository,
                options=options(shared_cache))  # fmt: skip
    assert not [note for note in kept.notes if "standard library" in note]
    bare = bake(
        lock(ENV),
        base=imported_bases.no_stdlib_bytecode,
        repository=repository,
        options=options(shared_cache),
    )
    (note,) = [note for note in bare.notes if "standard library" in note]
    assert note.startswith(
        "the base's Python 3.11 has no bytecode for its standard library (nothing in "
        "/usr/lib/python3.11/__pycache__)"
    )
    assert "`python3.11 -m compileall -q /usr/lib/python3.11`" in note


def test_the_check_is_cached_per_base_digest(imported_bases, tmp_path, image_registry):
    cache = tmp_path / "cache"
    repository = f"{image_registry}/t/check-cache"
    bake(lock(ENV), base=imported_bases.debian, repository=repository, options=options(cache))
    with RegistryClient(image_registry) as client:
        log = RequestLog(client)
        again = bake(
            lock(ENV),
            base=imported_bases.debian,
            repository=repository,
            options=options(cache, refresh_base=True),
            client=client,
        )
    assert not again.up_to_date  # refresh_base: the base was resolved and checked again
    assert not [path for method, path in log.calls if method == "GET" and "/blobs/" in path]


def test_base_without_bash_is_refused_and_nothing_is_pushed(
    imported_bases, cache_dir, image_registry
):
    with pytest.raises(BaseImageError) as raised:
        bake(
            lock(ENV),
            base=imported_bases.no_bash,
            repository=f"{image_registry}/t/refused-bash",
            options=options(cache_dir),
        )
    message = str(raised.value)
    assert message.startswith(f"base image {imported_bases.no_bash}@sha256:")
    assert (
        " lacks bash (Metaflow's task command runs in it) on its PATH (/usr/local/sbin:" in message
    )
    assert "Python" not in message.split(" on its PATH")[0]
    assert repository_is_empty(image_registry, "t/refused-bash")


def test_base_without_python_or_bash_is_refused_naming_both(
    imported_bases, cache_dir, image_registry
):
    with pytest.raises(BaseImageError, match=r"lacks Python 3\.11 \(no `python3\.11`\) and bash"):
        bake(
            lock(ENV),
            base=imported_bases.busybox,
            repository=f"{image_registry}/t/refused",
            options=options(cache_dir),
        )


def test_base_with_another_python_is_refused_naming_what_it_has(
    imported_bases, cache_dir, image_registry
):
    with pytest.raises(
        BaseImageError, match=r"lacks Python 3\.12 \(no `python3\.12`, it has only python3\.11\)"
    ):
        bake(
            lock(ENV, python="3.12"),
            base=imported_bases.debian,
            repository=f"{image_registry}/t/refused",
            options=options(cache_dir),
        )


def test_conda_env_brings_its_python_but_still_needs_bash(
    imported_bases, cache_dir, image_registry, tmp_path
):
    python = python_package("linux-64", Path("/usr/bin/python3.11"), "3.11.2")
    channel = build_channel(tmp_path / "channel", [python]).as_uri()
    spec = EnvSpec(
        python="3.11",
        conda=conda_requirements({"python": "3.11.2"}),
        channels=(channel,),
        platform=TargetPlatform("linux-64", "2.36"),
    )
    env = resolve(spec)
    repository = f"{image_registry}/t/conda-any"
    baked = bake(
        env, base=imported_bases.no_python, repository=repository, options=options(cache_dir)
    )
    assert baked.digest.startswith("sha256:")
    with pytest.raises(BaseImageError) as raised:
        bake(env, base=imported_bases.no_bash, repository=repository, options=options(cache_dir))
    assert " lacks bash (Metaflow's task command runs in it) on its PATH" in str(raised.value)
    assert "conda environment brings its own Python" in str(raised.value)
