"""Helpers for bake_image.py: a loopback registry, a Debian+Python+pip base image, podman.

The registry and the Debian root filesystem come from the test fixtures (tests/fixtures/registry.py,
tests/image/conftest.py), so the benchmark measures on exactly what the tests bake on. The pip variant
of the base adds Debian's own pip packages, so that a Dockerfile can `RUN pip install`.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the test fixtures, reused as they are

from tests.fixtures.registry import RunningRegistry, _start  # noqa: E402
from tests.image.conftest import (  # noqa: E402
    TEST_CACHE,
    _push_image,
    debian_rootfs,
    with_bytecode,
)

from bakery.image.layers import Tree, write_layer  # noqa: E402
from bakery.image.oci import OCI_CONFIG, OCI_MANIFEST  # noqa: E402
from bakery.registry import RegistryClient  # noqa: E402

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PIP_PACKAGES = (
    "python3-pip python3-setuptools python3-wheel python3-distutils python3-lib2to3 "
    "python3-pkg-resources"
).split()
PODMAN_LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
# downloads kept between runs of the scale benchmarks (torch: 2.8 GB): Bakery's wheel store and
# pip's cache for the Dockerfiles
BENCH_CACHE = Path(os.environ.get("BAKERY_BENCH_CACHE", Path.home() / ".cache" / "bakery-bench"))


def start_registry(stack: ExitStack, root: Path) -> RunningRegistry:
    """A CNCF registry on a free 127.0.0.1 port, storing under `root`; stopped with `stack`."""
    root.mkdir(parents=True, exist_ok=True)
    return _start(stack, root, None, None, False, None)


def pip_rootfs(*, bytecode: bool = True) -> Path:
    """The tests' Debian+python3.11 root filesystem plus Debian's pip (cached beside it), with
    bytecode as installed packages have it (`bytecode=False`: as `dpkg-deb -x` leaves them)."""
    rootfs = TEST_CACHE / "debian-python3.11-pip-rootfs"
    if (rootfs / ".complete").exists():
        return with_bytecode(rootfs) if bytecode else rootfs
    debs = TEST_CACHE / "debs-pip"  # not debs/: debian_rootfs() extracts everything in there
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "-q", *PIP_PACKAGES], cwd=debs, check=True)
    shutil.rmtree(rootfs, ignore_errors=True)
    shutil.copytree(debian_rootfs(bytecode=False), rootfs, symlinks=True)
    (rootfs / ".complete").unlink()
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(rootfs)], check=True)
    (rootfs / ".complete").touch()
    return with_bytecode(rootfs) if bytecode else rootfs


def push_base(host: str, rootfs: Path, repository: str, tag: str, scratch: Path) -> str:
    """Push `rootfs` as a one-layer OCI image; return `host/repository:tag`."""
    layer = write_layer([Tree(rootfs, ".")], scratch, inside="")  # a whole root filesystem
    with RegistryClient(host) as client:
        _push_image(client, repository, tag, layer, OCI_LAYER, OCI_CONFIG, OCI_MANIFEST)
    return f"{host}/{repository}:{tag}"


@dataclass(frozen=True)
class ImageSize:
    """An image as pushed: compressed bytes (layers + config), uncompressed layer bytes."""

    compressed: int
    uncompressed: int
    added_compressed: int  # the layers on top of the base
    added_uncompressed: int
    layers: int


def pushed_size(
    registry: RunningRegistry, repository: str, tag: str, base_layers: int
) -> ImageSize:
    """Sizes of a pushed image, read from its manifest and its blobs in the registry's storage."""
    with RegistryClient(registry.host) as client:
        manifest = json.loads(client.get_manifest(repository, tag).body)
    layers = manifest["layers"]
    unpacked = [_gunzipped_size(registry, layer["digest"]) for layer in layers]
    added = layers[base_layers:]
    return ImageSize(
        compressed=sum(layer["size"] for layer in layers) + manifest["config"]["size"],
        uncompressed=sum(unpacked),
        added_compressed=sum(layer["size"] for layer in added),
        added_uncompressed=sum(unpacked[base_layers:]),
        layers=len(layers),
    )


def _gunzipped_size(registry: RunningRegistry, digest: str) -> int:
    hexdigest = digest.split(":", 1)[1]
    blobs = registry.root / "storage/docker/registry/v2/blobs/sha256"
    total = 0
    with gzip.open(blobs / hexdigest[:2] / hexdigest / "data", "rb") as f:
        while chunk := f.read(1 << 20):
            total += len(chunk)
    return total


class Podman:
    """podman with its own storage under `root`, so runs neither see nor leave other images."""

    def __init__(self, root: Path, log: Path) -> None:
        if shutil.which("podman") is None:
            sys.exit("podman is not installed: apt-get install -y podman runc")
        self.flags = ["--root", str(root / "storage"), "--runroot", str(root / "run")]
        self.log = log

    def __call__(self, *args: str) -> float:
        """Run `podman ARGS`; return the seconds it took, or exit with its log on failure."""
        started = time.perf_counter()
        with self.log.open("a") as log:
            log.write(f"\n$ podman {' '.join(args)}\n")
            log.flush()
            done = subprocess.run(
                ["podman", *self.flags, *args], stdout=log, stderr=subprocess.STDOUT
            )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            tail = "\n".join(self.log.read_text().splitlines()[-30:])
            sys.exit(f"podman {args[0]} failed ({done.returncode}):\n{tail}")
        return seconds

    def output(self, *args: str) -> str:
        done = subprocess.run(
            ["podman", *self.flags, *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def build(
        self, context: Path, tag: str, *, cache: bool, volumes: tuple[str, ...] = ()
    ) -> float:
        """`podman build` of `context` (PyPI reached through the host's CA bundle); `volumes`
        are more `--volume` mounts for its RUN steps (e.g. a pip cache kept on the host)."""
        args = ["build", "--network=host", "--tls-verify=false", *PODMAN_LIMITS, "-q"]
        args += ["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
        args += [flag for volume in volumes for flag in ("--volume", volume)]
        args += ["-t", tag, str(context)]
        return self(*(args if cache else [*args[:1], "--no-cache", *args[1:]]))

    def push(self, tag: str, destination: str) -> float:
        return self("push", "--tls-verify=false", "-q", tag, f"docker://{destination}")

    def reset(self) -> None:
        """Remove every image and container of this private storage."""
        subprocess.run(
            ["podman", *self.flags, "system", "reset", "--force"],
            capture_output=True,
            env={**os.environ},
        )


class PhaseTimer:
    """Wall seconds spent in named functions of Bakery's modules while it is active.

    Wraps `module.function` attributes for the duration of a `with` block, e.g. to split a cold
    bake into install, bytecode, layers and push. Names that no longer exist are skipped, so a
    refactor of the product loses a line of the breakdown, not the benchmark.
    """

    def __init__(self, targets: dict[str, tuple[str, str]]) -> None:
        self.targets = targets  # phase -> (module name, function name)
        self.seconds: dict[str, float] = {}
        self._saved: list[tuple[object, str, object]] = []

    def __enter__(self) -> PhaseTimer:
        for phase, (module_name, attr) in self.targets.items():
            module = sys.modules.get(module_name)
            original = getattr(module, attr, None)
            if original is None:
                continue
            self._saved.append((module, attr, original))
            setattr(module, attr, self._timed(phase, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for module, attr, original in reversed(self._saved):
            setattr(module, attr, original)
        self._saved.clear()

    def _timed(self, phase: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.seconds[phase] = self.seconds.get(phase, 0.0) + elapsed

        return timed
