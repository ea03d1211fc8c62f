"""The moonshot: edit one `@pypi` pin, measure until the step's code runs in its new image in a
fresh container. Bakery vs the same edit through a Dockerfile.

Self-contained: a CNCF registry on 127.0.0.1, the tests' offline Debian + Python 3.11 base
(plus Debian's pip for the Dockerfile) with its standard library compiled as Debian's packages
compile it when installed (`--bare-base`: as `dpkg-deb -x` leaves it, without), podman with private storages: a *builder* (the
Dockerfile's) and a *node* (where the containers run; it holds the base and the images from
before the edit, as a node that ran the flow before would). Per case, a flow whose `start`
step has `@pypi(packages={..., "tabulate": PIN})`, baked and run once; then, alternately, each
side moves to the next tabulate release (0.8.10, 0.8.9, ...: every edit is new to both):

- Bakery: `bakery bake flow.py --registry ...` (the lock updated for the changed step, the
  changed package fetched, compiled and layered, pushed), then `podman run` of the new image
  on the node (pull of what is new, container start, the step's imports);
- Dockerfile: `FROM base` + `COPY requirements.txt` + one `RUN pip install -r`, with pip's
  cache (kept under ~/.cache/bakery-bench) mounted into the build, as `--mount=type=cache`
  would keep it: nothing pip fetched before is downloaded again; `podman build` + `podman
  push`, then the same `podman run` on the node.

Measured: wall seconds from the start of the bake (or build) to the line the container prints
after the step's imports. Goals: requests + pandas + tabulate ≤ 2 s; torch 2.4.1 (CUDA wheels,
~2.8 GB; downloaded once into a cache kept under ~/.cache/bakery-bench) ≤ 10 s with only the
tabulate layer moving.

    .venv/bin/python benchmarks/edit_to_running.py [--cases pandas,torch] [--repeat 4]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.image.conftest import debian_rootfs

from benchmarks._common import Goal, Row, clean_env, log, note, print_rows, scratch_dir
from benchmarks._image_helpers import (
    BENCH_CACHE,
    PODMAN_LIMITS,
    Podman,
    pip_rootfs,
    push_base,
    start_registry,
)

CASES = {
    "pandas": ({"requests": "2.32.3", "pandas": "2.2.3"}, "import pandas, requests, tabulate"),
    "torch": ({"torch": "2.4.1"}, "import torch, tabulate"),
}
GOALS = {"pandas": 2.0, "torch": 10.0}
FIRST = "0.9.0"
# tabulate releases with wheels that import on Python 3.11 (0.8.7 and older do not: `from
# collections import Iterable`), each new to both sides
EDITS = ("0.8.10", "0.8.9", "0.8.8")

FLOW = """\
from metaflow import FlowSpec, step, pypi


class EditFlow(FlowSpec):
    @pypi(packages={packages})
    @step
    def start(self):
        {imports}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EditFlow()
"""
DOCKERFILE = """\
FROM {base}
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m pip install --break-system-packages --root-user-action=ignore \
-r /tmp/requirements.txt
"""
# pip's cache, kept on the host and mounted into every build (as `--mount=type=cache` would
# keep it in the builder): a rebuild downloads nothing pip fetched before
PIP_CACHE = BENCH_CACHE / "pip-cache"
STEP = "import time; {imports}; print('STEP-RUNNING %.3f' % time.time())"


class Case:
    """One case's two sides, their files, storages and registry repositories."""

    def __init__(self, name: str, work: Path, host: str, bases: tuple[str, str]) -> None:
        self.name, self.work, self.host = name, work, host
        self.pins, self.imports = CASES[name]
        self.bakery_base, self.pip_base = bases
        self.flow = work / "bakery" / "flow.py"
        self.context = work / "dockerfile"
        self.flow.parent.mkdir(parents=True)
        self.context.mkdir(parents=True)
        self.node = Podman(work / "node", work / "node.log")
        self.builder = Podman(work / "builder", work / "builder.log")
        cache = str(work / "bakery-cache")
        self.env = clean_env(
            {
                "USER": "dev",
                "BAKERY_CACHE_DIR": cache,
                "METAFLOW_BAKERY_CACHE_DIR": cache,
                "METAFLOW_HOME": str(work / "metaflow-home"),
                "METAFLOW_DEFAULT_DATASTORE": "local",
                "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work / "datastore"),
                "METAFLOW_DEFAULT_METADATA": "local",
            }
        )
        # the torch wheels, fetched once for every run of this benchmark (2.8 GB)
        wheels = BENCH_CACHE / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        (work / "bakery-cache" / "image").mkdir(parents=True)
        (work / "bakery-cache" / "image" / "wheels").symlink_to(wheels)
        self.last_bake: dict = {}
        self.dockerfile_images: tuple[str, str] | None = None  # (tabulate, pushed image)

    def write(self, tabulate: str) -> None:
        packages = {**self.pins, "tabulate": tabulate}
        self.flow.write_text(FLOW.format(packages=json.dumps(packages), imports=self.imports))
        (self.context / "requirements.txt").write_text(
            "".join(f"{name}=={version}\n" for name, version in packages.items())
        )
        (self.context / "Dockerfile").write_text(DOCKERFILE.format(base=self.pip_base))

    def bake(self) -> str:
        """`bakery bake flow.py`; the start step's image reference."""
        command = [sys.executable, "-m", "bakery.cli.main", "bake", self.flow.name, "--json"]
        command += ["--registry", f"{self.host}/edit/{self.name}", "--base", self.bakery_base]
        done = subprocess.run(
            command, cwd=self.flow.parent, env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"bakery bake failed:\n{done.stderr[-3000:]}")
        results = json.loads(done.stdout)
        (start,) = [r for r in results.values() if "start" in r["steps"]]
        self.last_bake = start
        return start["reference"]

    def build(self, tabulate: str) -> str:
        tag = f"localhost/edit-{self.name}:{tabulate}"
        PIP_CACHE.mkdir(parents=True, exist_ok=True)
        self.builder.build(
            self.context, tag, cache=True, volumes=(f"{PIP_CACHE}:/root/.cache/pip",)
        )
        image = f"{self.host}/edit/{self.name}-dockerfile:{tabulate}"
        self.builder.push(tag, image)
        return image

    def run_step(self, image: str) -> float:
        """Start a container of `image` on the node; the time its step's imports were done."""
        code = STEP.format(imports=self.imports)
        out = self.node.output(
            "run", "--rm", "--tls-verify=false", *PODMAN_LIMITS, image, "python3", "-c", code
        )
        return float(re.search(r"STEP-RUNNING (\d+\.\d+)", out).group(1))

    def bakery_edit(self, tabulate: str) -> tuple[float, float]:
        self.write(tabulate)
        started = time.time()
        image = self.bake()
        baked = time.time()
        return self.run_step(image) - started, baked - started

    def dockerfile_edit(self, tabulate: str) -> tuple[float, float]:
        self.write(tabulate)
        started = time.time()
        image = self.build(tabulate)
        built = time.time()
        try:
            return self.run_step(image) - started, built - started
        finally:  # a few GB each for torch: keep only the newest (the bases stay)
            previous, self.dockerfile_images = self.dockerfile_images, (tabulate, image)
            if previous:
                self.builder.output("rmi", "-f", f"localhost/edit-{self.name}:{previous[0]}")
                self.node.output("rmi", "-f", previous[1])

    def prepare(self) -> None:
        """Bake, build, push and run the first version once: the state before the edit."""
        self.write(FIRST)
        started = time.perf_counter()
        self.run_step(self.bake())
        log(f"{self.name}: first bake + run {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        image = self.build(FIRST)
        self.run_step(image)
        self.dockerfile_images = (FIRST, image)
        log(
            f"{self.name}: first Dockerfile build + push + run {time.perf_counter() - started:.1f} s"
        )


def measure(
    cases: list[str], repeat: int, anchor_repeat: dict[str, int], bare_base: bool = False
) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        work = stack.enter_context(scratch_dir("bench-edit-"))
        registry = start_registry(stack, work / "registry")
        rootfs = (debian_rootfs(bytecode=not bare_base), pip_rootfs(bytecode=not bare_base))
        bases = (
            push_base(registry.host, rootfs[0], "base/debian", "3.11", work / "b1"),
            push_base(registry.host, rootfs[1], "base/debian-pip", "3.11", work / "b2"),
        )
        for name in cases:
            case = Case(name, work / name, registry.host, bases)
            stack.callback(case.node.reset)
            stack.callback(case.builder.reset)
            case.prepare()
            bakery_runs, bakery_bakes, anchor_runs, anchor_builds = [], [], [], []
            for i, version in enumerate(EDITS[:repeat]):
                sides = ["bakery", "anchor"] if i % 2 == 0 else ["anchor", "bakery"]
                for side in sides:
                    if side == "bakery":
                        total, part = case.bakery_edit(version)
                        bakery_runs.append(total)
                        bakery_bakes.append(part)
                        moved = case.last_bake
                        log(
                            f"{name} -> tabulate {version}: bakery {total:.2f} s (bake {part:.2f} s, "
                            f"{moved['layers_built']} layer built, "
                            f"{moved['bytes_uploaded'] / 1e6:.2f} MB pushed)"
                        )
                    elif i < anchor_repeat.get(name, repeat):
                        total, part = case.dockerfile_edit(version)
                        anchor_runs.append(total)
                        anchor_builds.append(part)
                        log(
                            f"{name} -> tabulate {version}: Dockerfile {total:.2f} s (build + push {part:.2f} s)"
                        )
            rows.append(_row(name, bakery_runs, anchor_runs))
            note(
                f"edit to running, {name}: bake (lock update + bake + push) "
                f"{_median(bakery_bakes):.2f} s of Bakery's {_median(bakery_runs):.2f} s; "
                f"Dockerfile build + push {_median(anchor_builds):.2f} s of {_median(anchor_runs):.2f} s; "
                f"each Bakery edit built {case.last_bake['layers_built']} layer and pushed "
                f"{case.last_bake['bytes_uploaded'] / 1e6:.2f} MB"
            )
            case.node.reset()
            case.builder.reset()
    return rows


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")


def _row(name: str, bakery: list[float], anchor: list[float]) -> Row:
    packages = "requests + pandas + tabulate" if name == "pandas" else "torch 2.4.1 + tabulate"
    return Row(
        f"edit the tabulate pin → step running in the new image ({packages})",
        "Dockerfile: podman build (pip cache mounted) + push, then run on the node",
        _median(anchor) if anchor else None,
        _median(bakery),
        Goal(f"≤ {GOALS[name]:.0f} s", max_seconds=GOALS[name]),
        tuple(anchor),
        tuple(bakery),
    )


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="pandas,torch", help="pandas, torch or both")
    parser.add_argument("--repeat", type=int, default=3, help=f"edits per case (≤ {len(EDITS)})")
    parser.add_argument(
        "--torch-anchor-repeat",
        type=int,
        default=1,
        help="Dockerfile edits of the torch case (minutes and ~6 GB each; default 1)",
    )
    parser.add_argument(
        "--bare-base",
        action="store_true",
        help="bases without bytecode for their standard library (as unpacked by dpkg-deb): "
        "every container then compiles the stdlib modules it imports on each start",
    )
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    rows = measure(
        cases,
        min(args.repeat, len(EDITS)),
        {"torch": args.torch_anchor_repeat},
        bare_base=args.bare_base,
    )
    print_rows(rows)
    return rows


if __name__ == "__main__":
    main()
