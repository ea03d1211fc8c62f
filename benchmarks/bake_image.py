"""Image bake benchmark: Bakery vs a Dockerfile (`podman build` + `podman push`), side by side.

Self-contained: starts a CNCF registry on 127.0.0.1, pushes an offline Debian+python3.11+pip base
(built from Debian packages, as the image tests do), locks `requests==2.32.3` + `pandas==2.2.3` for
Python 3.11 and measures, alternating the two sides in each repetition:

- cold image: Bakery bake+push with fresh caches (wheels, bytecode, layers, repository) vs
  `podman build --no-cache` of `FROM base` + `RUN pip install` and `podman push` (fresh repository);
- unchanged re-bake: the same again with warm caches vs a layer-cached rebuild + re-push;
- floor: `tar | gzip -6` / `gzip -1` of the very files Bakery's layers hold, vs its layer build;
- image size: both images as pushed (compressed, uncompressed), whole and above the base.

Prints a markdown table and writes it to benchmarks/results_image.md. Needs podman, runc,
docker-registry and network access to PyPI (see /work/shared/ENVIRONMENT.md).

    .venv/bin/python benchmarks/bake_image.py [--repetitions 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bakery.fetch import ArtifactStore
from bakery.image.bake import BakeOptions, BakeResult, bake
from bakery.image.compression import Compression
from bakery.image.layers import DEFAULT_COMPRESSION, LayerCache, build_layers
from bakery.image.plan import plan_layers
from bakery.image.stage import stage_env
from bakery.lock import Lockfile, write_lock
from bakery.lock.model import LockedEnv
from bakery.resolve.pypi import resolve_pypi
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements
from benchmarks._image_helpers import (
    CA_BUNDLE,
    ImageSize,
    PhaseTimer,
    Podman,
    pip_rootfs,
    push_base,
    pushed_size,
    start_registry,
)

PACKAGES = {"requests": "2.32.3", "pandas": "2.2.3"}
PYTHON = "3.11"
RESULTS = Path(__file__).resolve().parent / "results_image.md"
COLD_GOAL = 5.0  # Bakery at least this many times faster than the Dockerfile, cold
REBAKE_GOAL_S = 0.5
# where a cold bake spends its time (module, function). Bytecode compiles in the background
# from the end of `stage` on, so `layers` includes waiting for it; `breakdown()` times each part
# alone.
PHASES = {
    "base": ("bakery.image.bake", "resolve_base"),
    "fetch wheels": ("bakery.fetch", "fetch_pypi"),
    "stage": ("bakery.image.bake", "stage_env"),
    "bytecode + layers": ("bakery.image.bake", "build_layers"),
    "push": ("bakery.image.bake", "_push_image"),
}


@dataclass
class Samples:
    """Seconds per repetition for each measured thing, and the sizes seen."""

    times: dict[str, list[float]] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.times.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def spread(self, name: str) -> str:
        values = self.times[name]
        return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def lock_env(uv_cache: Path) -> tuple[LockedEnv, float]:
    """Resolve the packages for Python 3.11 on linux-64 (the base's), with a fresh uv cache."""
    spec = EnvSpec(
        python=PYTHON,
        pypi=pypi_requirements(PACKAGES),
        platform=TargetPlatform("linux-64", "2.36"),
    )
    os.environ["UV_CACHE_DIR"] = str(uv_cache)
    started = time.perf_counter()
    env = resolve_pypi(spec, PYTHON)
    return env, time.perf_counter() - started


def write_dockerfile(context: Path, base: str) -> None:
    pins = " ".join(f"{name}=={version}" for name, version in PACKAGES.items())
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(
        f"FROM {base}\n"
        # Debian marks its Python externally managed (PEP 668); a Dockerfile user says so
        f"RUN python3 -m pip install --no-cache-dir --break-system-packages "
        f"--root-user-action=ignore {pins}\n"
    )


def bake_cold(
    env: LockedEnv, base: str, host: str, work: Path, rep: int
) -> tuple[BakeResult, dict[str, float]]:
    """Everything fresh: bake cache, uv cache, repository."""
    options = BakeOptions(cache_dir=work / f"bake-cache-{rep}", progress=False)
    with PhaseTimer(PHASES) as phases:
        result = bake(env, base=base, repository=f"{host}/bakery/cold{rep}", options=options)
    return result, phases.seconds


def bake_wheels_cached(env: LockedEnv, base: str, host: str, work: Path, rep: int) -> BakeResult:
    """A new image whose wheels were fetched before (by an earlier bake or a snapshot): a new
    bake cache sharing only the cold bake's wheel store; bytecode and layers are made anew."""
    cache_dir = work / f"bake-cache-warm-{rep}"
    cache_dir.mkdir()
    (cache_dir / "wheels").symlink_to(work / f"bake-cache-{rep}" / "wheels")
    options = BakeOptions(cache_dir=cache_dir, progress=False)
    return bake(env, base=base, repository=f"{host}/bakery/warm{rep}", options=options)


def breakdown(env: LockedEnv, work: Path, rep: int) -> dict[str, float]:
    """Each part of a cold bake alone, one after the other, into a fresh cache: fetch, compile
    (with the wheels fetched), layers (with the bytecode compiled)."""
    cache_dir = work / f"breakdown-{rep}"
    started = time.perf_counter()
    ArtifactStore(cache_dir / "wheels").fetch_all(env.packages)
    fetched = time.perf_counter()
    staged = stage_env(env, cache_dir)
    compiled = time.perf_counter()
    jobs = plan_layers(staged.packages, env.python, compression=DEFAULT_COMPRESSION)
    build_layers(jobs, LayerCache(cache_dir), compression=DEFAULT_COMPRESSION)
    done = time.perf_counter()
    return {"fetch": fetched - started, "bytecode": compiled - fetched, "layers": done - compiled}


def unpack_layers(cache_dir: Path, dest: Path) -> list[Path]:
    """The files of the bake's layers, on disk (what the floor compresses)."""
    dest.mkdir()
    for record in sorted((cache_dir / "layers").glob("*.json")):
        blob = LayerCache(cache_dir).get(record.stem)
        assert blob is not None, record
        subprocess.run(["tar", "-xzf", str(blob.path), "-C", str(dest)], check=True)
    return [dest]


def cli_rebake_seconds(env: LockedEnv, base: str, repository: str, cache_dir: Path) -> float:
    """`bakery bake --lock` of an already pushed environment, as a user runs it (a new process)."""
    lockfile = Lockfile(flow="bench.py")
    lockfile.set_step("start", env)
    path = cache_dir.parent / "bench.bakery.lock"
    write_lock(lockfile, path)
    command = [sys.executable, "-m", "bakery.cli.main", "bake", "--lock", str(path)]
    command += ["--registry", repository, "--base", base, "--cache-dir", str(cache_dir), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or '"up_to_date": true' not in done.stdout:
        sys.exit(f"bakery bake --lock did not find the image up to date:\n{done.stderr}")
    return seconds


def floor_seconds(staged_dirs: list[Path], out: Path, level: int) -> tuple[float, int]:
    """`tar | gzip -LEVEL` of the image's files: the least any tar.gz layer of them costs."""
    started = time.perf_counter()
    tar = ["tar", "-cf", "-", *sum((["-C", str(d), "."] for d in staged_dirs), [])]
    with out.open("wb") as sink:
        tar_proc = subprocess.Popen(tar, stdout=subprocess.PIPE)
        subprocess.run(["gzip", f"-{level}"], stdin=tar_proc.stdout, stdout=sink, check=True)
        tar_proc.stdout.close()
        if tar_proc.wait() != 0:
            sys.exit("tar failed")
    return time.perf_counter() - started, out.stat().st_size


def layer_build_seconds(env: LockedEnv, cache_dir: Path, scratch: Path) -> float:
    """Bakery's layer build alone, from fetched wheels and compiled bytecode, into an empty
    layer cache."""
    staged = stage_env(env, cache_dir)
    jobs = plan_layers(staged.packages, env.python, compression=DEFAULT_COMPRESSION)
    started = time.perf_counter()
    build_layers(jobs, LayerCache(scratch), compression=DEFAULT_COMPRESSION)
    return time.perf_counter() - started


def run(repetitions: int, work: Path) -> tuple[Samples, dict[str, ImageSize], dict[str, object]]:
    samples = Samples()
    with ExitStack() as stack:
        registry = start_registry(stack, work / "registry")
        host = registry.host
        print(f"registry on {host}; building the base image...", file=sys.stderr)
        base = push_base(host, pip_rootfs(), "base/debian-pip", "3.11", work / "base-layer")
        podman = Podman(work / "podman", work / "podman.log")
        stack.callback(podman.reset)
        podman("pull", "--tls-verify=false", "-q", base)  # the anchor's base is local, as usual
        context = work / "context"
        write_dockerfile(context, base)

        for rep in range(repetitions):
            print(f"repetition {rep + 1}/{repetitions}...", file=sys.stderr)
            env, lock_s = lock_env(work / f"uv-lock-cache-{rep}")
            samples.add("bakery lock", lock_s)
            cold, phases = bake_cold(env, base, host, work, rep)
            assert not cold.up_to_date and cold.bytes_uploaded > 0
            samples.add("bakery cold", cold.seconds)
            for phase, seconds in phases.items():
                samples.add(f"phase {phase}", seconds)
            samples.values["bakery uploaded MB"] = cold.bytes_uploaded / 1e6
            samples.add(
                "bakery wheels cached", bake_wheels_cached(env, base, host, work, rep).seconds
            )

            tag = f"localhost/bench/dockerfile:{rep}"
            samples.add("podman build cold", podman.build(context, tag, cache=False))
            samples.add("podman push cold", podman.push(tag, f"{host}/dockerfile/cold{rep}:latest"))

            again = bake(
                env,
                base=base,
                repository=f"{host}/bakery/cold{rep}",
                options=BakeOptions(cache_dir=work / f"bake-cache-{rep}", progress=False),
            )
            assert again.up_to_date and again.digest == cold.digest
            samples.add("bakery rebake", again.seconds)
            samples.values["bakery rebake uploaded"] = again.bytes_uploaded
            samples.add(
                "bakery rebake cli",
                cli_rebake_seconds(
                    env, base, f"{host}/bakery/cold{rep}", work / f"bake-cache-{rep}"
                ),
            )
            samples.add("podman build cached", podman.build(context, tag, cache=True))
            samples.add(
                "podman push again", podman.push(tag, f"{host}/dockerfile/cold{rep}:latest")
            )

            for part, seconds in breakdown(env, work, rep).items():
                samples.add(f"alone {part}", seconds)
            staged = unpack_layers(work / f"bake-cache-{rep}", work / f"files-{rep}")
            for level in (6, 1):
                seconds, size = floor_seconds(staged, work / f"floor{level}.tar.gz", level)
                samples.add(f"floor gzip -{level}", seconds)
                samples.values[f"floor gzip -{level} MB"] = size / 1e6
            samples.add(
                "bakery layer build",
                layer_build_seconds(env, work / f"bake-cache-{rep}", work / f"layers-{rep}"),
            )

        # the same staged files at gzip -6 (layers and push only): the size/time trade-off
        level6 = bake(
            env,
            base=base,
            repository=f"{host}/bakery/level6",
            options=BakeOptions(
                cache_dir=work / f"bake-cache-{rep}",
                compression=Compression("gzip", 6),
                progress=False,
            ),
        )
        samples.add("bakery level 6 re-layer", level6.seconds)
        last = repetitions - 1
        sizes = {
            "bakery": pushed_size(registry, f"bakery/cold{last}", cold.image.rsplit(":", 1)[1], 1),
            "bakery level 6": pushed_size(
                registry, "bakery/level6", level6.image.rsplit(":", 1)[1], 1
            ),
            "dockerfile": pushed_size(registry, f"dockerfile/cold{last}", "latest", 1),
        }
        info = {
            "podman local size": int(
                podman.output("image", "inspect", "--format", "{{.Size}}", tag)
            ),
            "bakery layers": cold.layers_built,
            "bakery reference": cold.reference,
        }
    return samples, sizes, info


def mb(size: int | float) -> str:
    return f"{size / 1e6:.1f} MB"


def table(samples: Samples, sizes: dict[str, ImageSize], info: dict, repetitions: int) -> str:
    m = samples.median
    docker_cold = [
        a + b
        for a, b in zip(
            samples.times["podman build cold"], samples.times["podman push cold"], strict=True
        )
    ]
    docker_warm = [
        a + b
        for a, b in zip(
            samples.times["podman build cached"], samples.times["podman push again"], strict=True
        )
    ]
    lock_and_bake = [
        a + b
        for a, b in zip(samples.times["bakery lock"], samples.times["bakery cold"], strict=True)
    ]
    cold_ratio = statistics.median(docker_cold) / m("bakery cold")
    lock_ratio = statistics.median(docker_cold) / statistics.median(lock_and_bake)
    rebake = m("bakery rebake")
    rebake_ok = rebake <= REBAKE_GOAL_S and samples.values["bakery rebake uploaded"] == 0
    b, b6, d = sizes["bakery"], sizes["bakery level 6"], sizes["dockerfile"]

    def verdict(ok: bool) -> str:
        return "✅ met" if ok else "❌ missed"

    rows = [
        (
            "cold image, build + push",
            "`podman build --no-cache` + `podman push`",
            f"{statistics.median(docker_cold):.2f} s (build {m('podman build cold'):.2f} "
            f"+ push {m('podman push cold'):.2f})",
            f"{m('bakery cold'):.2f} s ({samples.spread('bakery cold')}), "
            f"{samples.values['bakery uploaded MB']:.1f} MB pushed",
            f"{cold_ratio:.1f}× faster",
            f"≥ {COLD_GOAL:.0f}×",
            verdict(cold_ratio >= COLD_GOAL),
        ),
        (
            "new image, wheels already fetched (by an earlier bake or a snapshot)",
            "`podman build --no-cache` + `podman push`",
            f"{statistics.median(docker_cold):.2f} s",
            f"{m('bakery wheels cached'):.2f} s ({samples.spread('bakery wheels cached')})",
            f"{statistics.median(docker_cold) / m('bakery wheels cached'):.1f}× faster",
            "info",
            "",
        ),
        (
            "cold image, lock + build + push",
            "same (pip resolves inside the build)",
            f"{statistics.median(docker_cold):.2f} s",
            f"{statistics.median(lock_and_bake):.2f} s (lock {m('bakery lock'):.2f})",
            f"{lock_ratio:.1f}× faster",
            "info",
            "",
        ),
        (
            "unchanged re-bake",
            "`podman build` (layer cache) + `podman push`",
            f"{statistics.median(docker_warm):.2f} s (build {m('podman build cached'):.2f} "
            f"+ push {m('podman push again'):.2f})",
            f"{rebake:.3f} s in process, {m('bakery rebake cli'):.2f} s as `bakery bake --lock`; "
            f"{samples.values['bakery rebake uploaded']} B pushed",
            f"{statistics.median(docker_warm) / rebake:.0f}× faster",
            f"≤ {REBAKE_GOAL_S} s, 0 B",
            verdict(rebake_ok),
        ),
        (
            "floor: compress the image's files",
            r"`tar \| gzip -6` / `tar \| gzip -1`",
            f"{m('floor gzip -6'):.2f} s → {samples.values['floor gzip -6 MB']:.1f} MB / "
            f"{m('floor gzip -1'):.2f} s → {samples.values['floor gzip -1 MB']:.1f} MB",
            f"layer build {m('bakery layer build'):.2f} s ({DEFAULT_COMPRESSION.codec}, "
            f"{info['bakery layers']} layers, {os.cpu_count()} threads)",
            f"{m('bakery layer build') / m('floor gzip -1'):.2f}× gzip -1's time",
            "info",
            "",
        ),
        (
            "image size, compressed (pushed)",
            "Dockerfile image's manifest",
            f"{mb(d.compressed)} (above base {mb(d.added_compressed)})",
            f"{mb(b.compressed)} (above base {mb(b.added_compressed)})",
            f"{b.compressed / d.compressed:.2f}×",
            "≤ 1×",
            verdict(b.compressed <= d.compressed),
        ),
        (
            "image size, compressed, `--level 6`",
            "Dockerfile image's manifest",
            f"{mb(d.compressed)}",
            f"{mb(b6.compressed)} (above base {mb(b6.added_compressed)}); layers + push "
            f"{m('bakery level 6 re-layer'):.2f} s from fetched wheels and bytecode",
            f"{b6.compressed / d.compressed:.2f}×",
            "info",
            "",
        ),
        (
            "image size, uncompressed",
            "Dockerfile layers gunzipped",
            f"{mb(d.uncompressed)} (above base {mb(d.added_uncompressed)}; "
            f"podman: {mb(info['podman local size'])})",
            f"{mb(b.uncompressed)} (above base {mb(b.added_uncompressed)})",
            f"{b.uncompressed / d.uncompressed:.2f}×",
            "≤ 1×",
            verdict(b.uncompressed <= d.uncompressed),
        ),
    ]
    header = (
        "| figure | anchor | anchor | bakery | ratio | goal | result |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    body = "".join("| " + " | ".join(row) + " |\n" for row in rows)
    pins = ", ".join(f"{n}=={v}" for n, v in PACKAGES.items())
    return (
        f"# Image bake: Bakery vs Dockerfile\n\n"
        f"{pins} on a Debian bookworm + python3.11 + pip base; medians of {repetitions} "
        f"repetitions, alternating; {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}.\n\n{header}{body}\n"
        f"Bakery cold bake times: {samples.spread('bakery cold')} s; Dockerfile cold build + push: "
        f"{min(docker_cold):.2f}–{max(docker_cold):.2f} s. The Dockerfile runs "
        f"`pip install --no-cache-dir`; Bakery bakes from a lock (resolution shown separately).\n"
        f"\nWhere a cold Bakery bake spends its time (medians, s): {phase_line(samples)}. "
        f"Each part alone, one after the other: {alone_line(samples)}.\n"
    )


def phase_line(samples: Samples) -> str:
    phases = [name for name in samples.times if name.startswith("phase ")]
    parts = [f"{name[6:]} {samples.median(name):.2f}" for name in phases]
    return ", ".join(parts) + f"; total {samples.median('bakery cold'):.2f}"


def alone_line(samples: Samples) -> str:
    parts = [name for name in samples.times if name.startswith("alone ")]
    return ", ".join(f"{name[6:]} {samples.median(name):.2f}" for name in parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", "-n", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    args = parser.parse_args(argv)
    if not Path(CA_BUNDLE).is_file():
        sys.exit(f"{CA_BUNDLE} is missing: the Dockerfile build needs it to reach PyPI")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bakery-bench-image-") as tmp:
        samples, sizes, info = run(args.repetitions, Path(tmp))
    report = table(samples, sizes, info, args.repetitions)
    report += f"\nWhole run: {time.perf_counter() - started:.0f} s.\n"
    print(report)
    args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
