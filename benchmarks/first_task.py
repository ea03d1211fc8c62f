"""Time to the first task: baked images vs a prebuilt 3rd-party image, both `--with container`.

Self-contained: a CNCF registry and a SeaweedFS S3 datastore on 127.0.0.1, the tests' offline
Debian + Python 3.11 base pushed there. Two versions of one small flow (`start` -> `end`):

- Bakery: `@pypi(packages={"tabulate": ...})` on `start`, run as
  `python flow.py --environment=fast-bakery run --with container`, after a first run that baked
  (and pulled) its images: what a user pays on every later run (lock check, one manifest check
  per environment, then the container);
- anchor: the same flow without `@pypi`, run as `python flow.py run --with container:image=IMG`,
  IMG a prebuilt image that already holds tabulate and Metaflow's datastore client (made here,
  once, and pulled by a first run), i.e. the fastest a user with a hand-made image gets.

Measured: wall seconds from launching `python flow.py ...` to the first line of user code of
`start` (which prints time.time()), alternating the two, medians. Goal: Bakery ≤ 1.2× the anchor.

    .venv/bin/python benchmarks/first_task.py [--repetitions 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.s3 import running_s3
from tests.image.conftest import debian_rootfs
from tests.image.locks import lock

from bakery.image.bake import BakeOptions, bake
from benchmarks._common import run_flow
from benchmarks._image_helpers import PODMAN_LIMITS, push_base, start_registry

GOAL = 1.2
TABULATE = "0.9.0"
RESULTS = Path(__file__).resolve().parent / "results_first_task.md"

FLOW = """
import time
from metaflow import FlowSpec, step{imports}

class FirstTaskFlow(FlowSpec):
{decorator}    @step
    def start(self):
        print("FIRST-TASK %.3f" % time.time())
        import tabulate
        self.table = tabulate.tabulate([["a", 1]])
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FirstTaskFlow()
"""


def write_flows(root: Path) -> tuple[Path, Path]:
    bakery = root / "bakery" / "flow.py"
    anchor = root / "anchor" / "flow.py"
    for path in (bakery, anchor):
        path.parent.mkdir(parents=True)
    bakery.write_text(
        FLOW.format(
            imports=", pypi",
            decorator=f'    @pypi(packages={{"tabulate": "{TABULATE}"}})\n',
        )
    )
    anchor.write_text(FLOW.format(imports="", decorator=""))
    return bakery, anchor


def first_task_seconds(flow: Path, args: list[str], env: dict[str, str]) -> float:
    """Seconds from launching the flow to the first line of `start`'s user code."""
    started = time.time()  # the task prints a wall-clock time
    returncode, output, _ = run_flow(flow, env, *args)
    found = re.search(r"FIRST-TASK (\d+\.\d+)", output)
    if returncode != 0 or not found:
        sys.exit(f"{flow} failed:\n{output[-4000:]}")
    return float(found.group(1)) - started


def run(repetitions: int, work: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"bakery": [], "anchor": []}
    with ExitStack() as stack:
        registry = start_registry(stack, work / "registry")
        host = registry.host
        base = push_base(host, debian_rootfs(), "base/debian", "3.11", work / "base-layer")
        s3 = stack.enter_context(running_s3(_mkdir(work / "s3")))
        print(f"registry {host}, S3 {s3['METAFLOW_S3_ENDPOINT_URL']}", file=sys.stderr)
        third_party = bake(
            lock((f"tabulate=={TABULATE}", "boto3", "requests")),
            base=base,
            repository=f"{host}/vendor/python-tabulate",
            options=BakeOptions(
                cache_dir=work / "vendor-cache",
                progress=False,
                env={"METAFLOW_SKIP_INSTALL_DEPENDENCIES": "1"},
            ),
        ).reference
        env = {
            **os.environ,
            **s3,
            "USER": "dev",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work / "local"),
            "METAFLOW_BAKERY_CACHE_DIR": str(work / "bakery-cache"),
            "METAFLOW_BAKERY_REGISTRY": f"{host}/bakery/envs",
            "METAFLOW_BAKERY_BASE_IMAGE": base,
            "BAKERY_CONTAINER_ARGS": " ".join(PODMAN_LIMITS),
        }
        env.pop("VIRTUAL_ENV", None)
        bakery_flow, anchor_flow = write_flows(work)
        bakery_args = ["--environment=fast-bakery", "run", "--with", "container"]
        anchor_args = ["run", "--with", f"container:image={third_party}"]
        print("first runs (lock, bake, pull)...", file=sys.stderr)
        first_task_seconds(bakery_flow, bakery_args, env)
        first_task_seconds(anchor_flow, anchor_args, env)
        for rep in range(repetitions):
            print(f"repetition {rep + 1}/{repetitions}...", file=sys.stderr)
            pairs = [("anchor", anchor_flow, anchor_args), ("bakery", bakery_flow, bakery_args)]
            for name, flow, args in pairs if rep % 2 == 0 else reversed(pairs):
                times[name].append(first_task_seconds(flow, args, env))
    return times


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def table(times: dict[str, list[float]], repetitions: int) -> str:
    anchor, baked = statistics.median(times["anchor"]), statistics.median(times["bakery"])
    ratio = baked / anchor
    verdict = "✅ met" if ratio <= GOAL else "❌ missed"

    def spread(values: list[float]) -> str:
        return f"{min(values):.2f}–{max(values):.2f}"

    return (
        "# Time to the first task, in containers\n\n"
        f"Medians of {repetitions} alternating repetitions; {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}.\n\n"
        "| figure | anchor | anchor s | bakery s | ratio | goal | result |\n"
        "|---|---|---|---|---|---|---|\n"
        "| `run` to the first task's code, images already there | `run --with "
        "container:image=IMG` (a prebuilt image with the step's packages) | "
        f"{anchor:.2f} ({spread(times['anchor'])}) | {baked:.2f} ({spread(times['bakery'])}) | "
        f"{ratio:.2f}× | ≤ {GOAL}× | {verdict} |\n\n"
        "Bakery's run is `--environment=fast-bakery run --with container` on images it baked in a "
        "first run: it checks the lock and each image's manifest, then starts the same kind of "
        "container.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", "-n", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bakery-bench-first-task-") as tmp:
        times = run(args.repetitions, Path(tmp))
    report = table(times, args.repetitions)
    report += f"\nWhole run: {time.perf_counter() - started:.0f} s.\n"
    print(report)
    args.output.write_text(report)
    ratio = statistics.median(times["bakery"]) / statistics.median(times["anchor"])
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
