"""Scale: the PyTorch environment baked, pulled and started, against a Dockerfile image.

Self-contained: a CNCF registry on 127.0.0.1, the tests' offline Debian + Python 3.11 base
(plus Debian's pip for the Dockerfile), podman with private storages (a builder, and a node
where containers run). The environment: `torch==2.4.1` for Python 3.11 with its CUDA wheels
(`--variant cuda`, 2.8 GB of wheels) or the CPU build 2.13.0 on this disk (`--variant cpu`,
/opt/wheels, served through a file:// index). Wheels are downloaded once into
~/.cache/bakery-bench (Bakery's wheel store, pip's cache for the Dockerfile): the figures
compare baking and starting, not the network.

- bake: `bakery bake --lock` with nothing cached but the wheels (gzip, and zstd), its peak
  memory (RSS of the whole process tree, polled), layers and size; vs `podman build` of
  `FROM base` + `RUN pip install torch==...` (pip cache mounted) + `podman push`.
- start: `podman run IMAGE python3 -c ...` on the node, cold (node storage emptied: image and
  base pulled) and warm (image there), until the step's first line and until `import torch`
  is done: Bakery's per-package layers (gzip; zstd) vs the Dockerfile's one pip layer.
- bytecode: in each image, how many of torch's modules have a `.pyc` that Python accepts.
- 150 packages: a generated 151-package environment (tests/fixtures/wheelhouse.py) baked:
  its layer count, within the budget of 100 with the base.

    .venv/bin/python benchmarks/scale.py [--variant cuda|cpu] [--repetitions 2]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures import wheelhouse
from tests.image.conftest import debian_rootfs

from bakery.lock import Lockfile, write_lock
from bakery.lock.model import LockedEnv
from bakery.resolve.indexes import IndexConfig
from bakery.resolve.pypi import resolve_pypi
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements
from benchmarks._common import INFO, Goal, Row, log, note, print_rows, remove, scratch_dir
from benchmarks._image_helpers import (
    BENCH_CACHE,
    PODMAN_LIMITS,
    Podman,
    pip_rootfs,
    push_base,
    start_registry,
)

VARIANTS = {"cuda": "2.4.1", "cpu": "2.13.0"}
CPU_WHEELS = Path("/opt/wheels")
PLATFORM = TargetPlatform("linux-64", "2.36")
MEMORY_GOAL_MIB = 1024
STEP = (
    "import time; print('FIRST-LINE %.3f' % time.time(), flush=True); import torch; "
    "print('IMPORTED %.3f' % time.time(), torch.__version__)"
)
# every module of torch: is its .pyc one Python accepts? (as importlib checks it at import)
BYTECODE_CHECK = r"""
import importlib.util, os, sys, torch
root = os.path.dirname(torch.__file__)
total = valid = 0
for folder, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".py"):
            continue
        source = os.path.join(folder, name)
        total += 1
        try:
            with open(importlib.util.cache_from_source(source), "rb") as f:
                header = f.read(16)
        except OSError:
            continue
        flags = int.from_bytes(header[4:8], "little")
        if header[:4] != importlib.util.MAGIC_NUMBER:
            continue
        if flags & 1:  # hash-based: unchecked, or checked against the source
            if not flags & 2:
                valid += 1
            else:
                data = open(source, "rb").read()
                valid += header[8:16] == importlib.util.source_hash(data)
        else:
            st = os.stat(source)
            valid += (int.from_bytes(header[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
                      and int.from_bytes(header[12:16], "little") == st.st_size & 0xFFFFFFFF)
print("BYTECODE", valid, total)
"""
PEAK = r"""
import os, subprocess, sys, time
def tree(root):
    kids, rss = {}, {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                kids.setdefault(int(fields[1]), []).append(int(pid))
                rss[int(pid)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except OSError:
                pass
    total, biggest, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        biggest = max(biggest, rss.get(pid, 0))
        todo += kids.get(pid, [])
    return total, biggest
proc = subprocess.Popen(sys.argv[1:])
peak = largest = 0
while proc.poll() is None:
    total, biggest = tree(proc.pid)
    peak, largest = max(peak, total), max(largest, biggest)
    time.sleep(0.05)
print("PEAK", peak, largest, file=sys.stderr)
sys.exit(proc.returncode)
"""


def lock_torch(variant: str, work: Path) -> tuple[LockedEnv, IndexConfig]:
    """torch for Python 3.11 / linux-64, with the machine's index settings (+ /opt/wheels)."""
    indexes = IndexConfig.from_environment()
    if variant == "cpu":
        wheels = sorted(CPU_WHEELS.glob(f"torch-{VARIANTS['cpu']}*cp311*.whl"))
        if not wheels:
            sys.exit(f"--variant cpu needs the torch {VARIANTS['cpu']} CPU wheel in {CPU_WHEELS}")
        local = wheelhouse.simple_index(work / "cpu-index", wheels)
        indexes = IndexConfig(indexes.index_url, (*indexes.extra_index_urls, local))
    spec = EnvSpec(
        python="3.11", pypi=pypi_requirements({"torch": VARIANTS[variant]}), platform=PLATFORM
    )
    return resolve_pypi(spec, "3.11", indexes=indexes), indexes


class Bench:
    """Registry, bases, podman storages, the lock and the images of one run."""

    def __init__(self, stack: ExitStack, work: Path, variant: str) -> None:
        self.work, self.variant = work, variant
        self.registry = start_registry(stack, work / "registry")
        self.host = self.registry.host
        self.base = push_base(self.host, debian_rootfs(), "base/debian", "3.11", work / "b1")
        self.pip_base = push_base(self.host, pip_rootfs(), "base/debian-pip", "3.11", work / "b2")
        self.node = Podman(work / "node", work / "node.log")
        self.builder = Podman(work / "builder", work / "builder.log")
        stack.callback(self.node.reset)
        stack.callback(self.builder.reset)
        self.env, self.indexes = lock_torch(variant, work)
        lockfile = Lockfile(flow="flow.py")
        lockfile.set_step("start", self.env)
        self.lock = work / "flow.bakery.lock"
        write_lock(lockfile, self.lock)
        self.pins = {p.name: p.version for p in self.env.packages}

    def bake(self, compression: str, name: str) -> dict:
        """A cold bake (fresh cache, the shared wheel store), its result and peak memory."""
        cache = self.work / f"bake-cache-{name}"
        (cache / "wheels").parent.mkdir(parents=True, exist_ok=True)
        wheels = BENCH_CACHE / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        (cache / "wheels").symlink_to(wheels)
        command = [
            sys.executable,
            "-m",
            "bakery.cli.main",
            "bake",
            "--json",
            "--lock",
            str(self.lock),
        ]
        command += ["--registry", f"{self.host}/scale/{name}", "--base", self.base]
        command += ["--cache-dir", str(cache), "--compression", compression]
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", PEAK, *command], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"bakery bake failed:\n{done.stderr[-3000:]}")
        peak, largest = (int(x) for x in re.search(r"PEAK (\d+) (\d+)", done.stderr).groups())
        (result,) = json.loads(done.stdout).values()
        return {**result, "wall": seconds, "peak": peak, "largest": largest}

    def fetch_wheels(self) -> None:
        """Fill the shared wheel store once (the first run of this benchmark downloads)."""
        from bakery.fetch import ArtifactStore

        started = time.perf_counter()
        ArtifactStore(BENCH_CACHE / "wheels").fetch_all(self.env.packages, indexes=self.indexes)
        log(f"wheel store checked (filled once): {time.perf_counter() - started:.1f} s")

    def wheels_size(self) -> int:
        from bakery.fetch import ArtifactStore

        store = ArtifactStore(BENCH_CACHE / "wheels")
        return sum(store.path(p).stat().st_size for p in self.env.packages)

    def dockerfile(self) -> tuple[str, float]:
        """`podman build` + `podman push` of FROM base + pip install; (image, seconds)."""
        context = self.work / "dockerfile"
        context.mkdir(exist_ok=True)
        torch = f"torch=={VARIANTS[self.variant]}"
        find_links = f" --find-links {CPU_WHEELS}" if self.variant == "cpu" else ""
        (context / "Dockerfile").write_text(
            f"FROM {self.pip_base}\n"
            f"RUN python3 -m pip install --break-system-packages --root-user-action=ignore"
            f"{find_links} {torch}\n"
        )
        pip_cache = BENCH_CACHE / "pip-cache"
        pip_cache.mkdir(parents=True, exist_ok=True)
        volumes = [f"{pip_cache}:/root/.cache/pip"]
        volumes += [f"{CPU_WHEELS}:{CPU_WHEELS}:ro"] if self.variant == "cpu" else []
        warm = pip_cache / f".filled-{self.variant}"
        if not warm.exists():  # pip's cache gets the wheels once, as Bakery's store did
            self.builder.build(
                context, "localhost/scale-torch:pip", cache=False, volumes=tuple(volumes)
            )
            warm.touch()
        started = time.perf_counter()
        self.builder.build(
            context, "localhost/scale-torch:pip", cache=False, volumes=tuple(volumes)
        )
        image = f"{self.host}/scale/dockerfile:torch"
        self.builder.push("localhost/scale-torch:pip", image)
        return image, time.perf_counter() - started

    def start(self, image: str, cold: bool) -> tuple[float, float]:
        """(seconds to the step's first line, to `import torch` done) of a new container."""
        if cold:
            self.node.reset()
        started = time.time()
        out = self.node.output(
            "run", "--rm", "--tls-verify=false", *PODMAN_LIMITS, image, "python3", "-c", STEP
        )
        first = float(re.search(r"FIRST-LINE (\d+\.\d+)", out).group(1))
        imported = float(re.search(r"IMPORTED (\d+\.\d+)", out).group(1))
        return first - started, imported - started

    def bytecode(self, image: str) -> tuple[int, int]:
        out = self.node.output(
            "run", "--rm", "--tls-verify=false", *PODMAN_LIMITS, image, "python3", "-c",
            BYTECODE_CHECK,
        )  # fmt: skip
        valid, total = re.search(r"BYTECODE (\d+) (\d+)", out).groups()
        return int(valid), int(total)

    def layer_count(self, image: str) -> int:
        """Layers in the manifest of `image` (`host/repo:tag`, optionally `@digest`)."""
        from bakery.registry import RegistryClient

        name, _, digest = image.partition("@")
        repository, _, tag = name.split("/", 1)[1].rpartition(":")
        with RegistryClient(self.host) as client:
            manifest = client.get_manifest(repository, digest or tag)
        return len(json.loads(manifest.body)["layers"])


def generated_env_layers(bench: Bench) -> tuple[int, int, float]:
    """A generated 151-package environment baked: (packages, layers, seconds)."""
    root = bench.work / "generated"
    url = wheelhouse.simple_index(root, wheelhouse.generate(root / "wheels", 150))
    spec = EnvSpec(
        python="3.11", pypi=pypi_requirements({wheelhouse.APP: "1.0"}), platform=PLATFORM
    )
    env = resolve_pypi(spec, "3.11", indexes=IndexConfig(index_url=url))
    from bakery.image.bake import BakeOptions, bake

    started = time.perf_counter()
    result = bake(
        env,
        base=bench.base,
        repository=f"{bench.host}/scale/generated",
        options=BakeOptions(cache_dir=root / "cache", progress=False),
    )
    return len(env.packages), bench.layer_count(result.reference), time.perf_counter() - started


def measure(variant: str, repetitions: int) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        work = stack.enter_context(scratch_dir("bench-scale-"))
        bench = Bench(stack, work, variant)
        label = f"torch {VARIANTS[variant]} ({variant}, {len(bench.env.packages)} packages)"
        bench.fetch_wheels()
        size = bench.wheels_size() / 1e6
        note(f"scale: {label}, {size:.0f} MB of wheels")

        baked = {fmt: bench.bake(fmt, fmt) for fmt in ("gzip", "zstd")}
        for fmt in baked:  # the registry has the blobs now: free the disk (GBs each)
            remove(work / f"bake-cache-{fmt}")
        docker_image, docker_seconds = bench.dockerfile()
        gzip_bake = baked["gzip"]
        rows.append(
            Row(
                f"cold bake + push, {label}, wheels already fetched",
                "podman build (FROM base, RUN pip install, pip cache mounted) + push",
                docker_seconds,
                gzip_bake["wall"],
                INFO,
                (docker_seconds,),
                (gzip_bake["wall"],),
            )
        )
        for fmt, result in baked.items():
            peak_mib = result["peak"] / 2**20
            rows.append(
                Row(
                    f"peak memory of `bakery bake` ({fmt}), MiB, whole process tree",
                    "—",
                    None,
                    peak_mib,
                    Goal(f"≤ {MEMORY_GOAL_MIB} MiB", max_seconds=MEMORY_GOAL_MIB),
                    unit="MiB",
                )
            )
            note(
                f"scale: bake {fmt}: {result['wall']:.1f} s, {result['layers_built']} layers built, "
                f"image {result['image_size'] / 1e9:.2f} GB compressed, peak RSS {peak_mib:.0f} MiB "
                f"(largest process {result['largest'] / 2**20:.0f} MiB)"
            )
        images = {
            "gzip": gzip_bake["reference"],
            "zstd": baked["zstd"]["reference"],
            "dockerfile": docker_image,
        }
        layers = {name: bench.layer_count(image) for name, image in images.items()}
        rows.append(
            Row(
                f"layers of the {label} image (base included)",
                "the Dockerfile image",
                layers["dockerfile"],
                layers["gzip"],
                Goal("≤ 100", max_seconds=100),
                unit="layers",
            )
        )
        rows += start_rows(bench, images, repetitions)
        for name, image in images.items():
            valid, total = bench.bytecode(image)
            note(f"scale: bytecode in the {name} image: {valid} of {total} torch modules valid")
        packages, generated_layers, seconds = generated_env_layers(bench)
        rows.append(
            Row(
                f"layers of a generated {packages}-package env (base included)",
                "— (budget 100)",
                None,
                generated_layers,
                Goal("≤ 100", max_seconds=100),
                unit="layers",
            )
        )
        note(f"scale: the generated {packages}-package env baked in {seconds:.1f} s")
    return rows


def start_rows(bench: Bench, images: dict[str, str], repetitions: int) -> list[Row]:
    """Cold and warm starts, alternating the three images; a row per (temperature, format)."""
    rows = []
    for cold in (True, False):
        first: dict[str, list[float]] = {name: [] for name in images}
        imported: dict[str, list[float]] = {name: [] for name in images}
        if not cold:  # warm: every image on the node
            for image in images.values():
                bench.start(image, cold=False)
        for rep in range(repetitions):
            order = list(images) if rep % 2 == 0 else list(reversed(images))
            for name in order:
                one, two = bench.start(images[name], cold)
                first[name].append(one)
                imported[name].append(two)
            log(
                f"start {'cold' if cold else 'warm'} {rep + 1}/{repetitions}: "
                + ", ".join(f"{n} {first[n][-1]:.1f}/{imported[n][-1]:.1f} s" for n in images)
            )
        temperature = "cold (nothing pulled)" if cold else "warm (image on the node)"
        for fmt in ("gzip", "zstd"):
            for what, times in (("first line", first), ("`import torch` done", imported)):
                rows.append(
                    Row(
                        f"`podman run` → {what}, {temperature}, Bakery {fmt}",
                        "the Dockerfile image (one pip layer)",
                        statistics.median(times["dockerfile"]),
                        statistics.median(times[fmt]),
                        Goal("< 1× (beat it)", max_ratio=1.0),
                        tuple(times["dockerfile"]),
                        tuple(times[fmt]),
                    )
                )
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="cuda")
    parser.add_argument("--repetitions", "-n", type=int, default=2)
    args = parser.parse_args(argv)
    rows = measure(args.variant, args.repetitions)
    print_rows(rows)
    return rows


if __name__ == "__main__":
    main()
