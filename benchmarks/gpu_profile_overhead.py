"""Does @gpu_profile slow the step? The same CPU-bound step with and without it.

The step squares a NumPy matrix a fixed number of times (all cores busy, as a training step
keeps them) and prints how long that took, measured inside the step. Three flows, alternated:

- anchor: the step with its own live card (`@card(type="blank", refresh_interval=1)`), as in
  the seed example, and no profiler;
- gpu_profile: the same plus `@gpu_profile()` (sampling every 1 s, card every 5 s), reading
  GPUs through a fake NVML (tests/profilers/fake_pynvml.py beside the flow; this machine has no
  GPU), so the sampler thread and the card refreshes run as on a GPU machine;
- gpu_profile, no GPU: the real no-NVML path of this machine (the card says what is missing).

Reported: the CPU the sampling thread itself used (readings and live card updates, counted by
the thread; goal: under 1 % of the step's time), the step's own time against the anchor, and the
whole `python flow.py run`, which also pays the profile card's final render (one more
`card create` process, as any extra @card costs). Without a GPU the decorator does nothing while
the step runs, so that row is an A/A control: its ratio is this machine's noise. Local runs under `--environment=pypi` (NumPy;
the environment is built by a warm-up run), medians.

    .venv/bin/python benchmarks/gpu_profile_overhead.py [--repeat 5] [--squarings 400]
"""

from __future__ import annotations

import re
import shutil
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    Goal,
    Row,
    clean_env,
    log,
    markdown_table,
    parser,
    require_bakery,
    run_flow,
    runs_detail,
    scratch_dir,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results_gpu_profile.md"
FAKE_PYNVML = REPO / "tests" / "profilers" / "fake_pynvml.py"
GOAL = Goal("≤ 1.05× (noise)", max_ratio=1.05)

FLOW = """
import time
from metaflow import FlowSpec, card, current, pypi_base, step
from metaflow.cards import Markdown
from metaflow.profilers import gpu_profile

@pypi_base(packages={{"numpy": "2.2.6"}})
class OverheadFlow(FlowSpec):
{decorator}    @card(type="blank", refresh_interval=1, id="status")
    @step
    def start(self):
        import numpy
        matrix = numpy.random.default_rng(0).random((400, 400))
        counter = Markdown("starting")
        current.card["status"].append(counter)
        started = time.perf_counter()
        for i in range({squarings}):
            matrix = numpy.matmul(matrix, matrix)
            matrix /= numpy.abs(matrix).max()
            if i % 20 == 0:
                counter.update("%d squarings" % i)
                current.card["status"].refresh()
        print("STEP-SECONDS %.4f" % (time.perf_counter() - started))
        self.next(self.end)

    @step
    def end(self):
        data = getattr(self, "gpu_profile_data", None) or {{}}
        print("PROFILER-CPU %.4f" % data.get("sampler_cpu_seconds", 0.0))

if __name__ == "__main__":
    OverheadFlow()
"""

VARIANTS = {
    "anchor": "",
    "gpu_profile": "    @gpu_profile()\n",
    "gpu_profile, no GPU": "    @gpu_profile()\n",
}


def write_flows(root: Path, squarings: int) -> dict[str, Path]:
    flows = {}
    for index, (name, decorator) in enumerate(VARIANTS.items()):
        folder = root / f"flow{index}"
        folder.mkdir()
        flow = folder / "overhead.py"
        flow.write_text(FLOW.format(decorator=decorator, squarings=squarings))
        if name == "gpu_profile":
            shutil.copy(FAKE_PYNVML, folder / "pynvml.py")  # a GPU that answers
        flows[name] = flow
    return flows


def measure(flow: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(seconds inside the step, seconds of the whole run, CPU seconds of the sampler)."""
    returncode, output, whole = run_flow(flow, env, "--environment=pypi", "run")
    found = re.search(r"STEP-SECONDS (\d+\.\d+)", output)
    cpu = re.search(r"PROFILER-CPU (\d+\.\d+)", output)
    if returncode != 0 or not found or not cpu:
        sys.exit(f"{flow} failed:\n{output[-4000:]}")
    return float(found.group(1)), whole, float(cpu.group(1))


def run(repeat: int, squarings: int, work: Path) -> dict[str, dict[str, list[float]]]:
    flows = write_flows(work, squarings)
    env = clean_env(
        {
            "USER": "dev",
            "METAFLOW_HOME": str(work / "home"),
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work / "datastore"),
            "METAFLOW_BAKERY_CACHE_DIR": str(work / "bakery-cache"),
            "FAKE_NVML_GPUS": "1",
        }
    )
    (work / "home").mkdir()
    times = {name: {"step": [], "run": [], "cpu": []} for name in flows}
    log("warm-up run of each flow...")
    for flow in flows.values():
        measure(flow, env)
    names = list(flows)
    for rep in range(repeat):
        order = names if rep % 2 == 0 else list(reversed(names))
        for name in order:
            step, whole, cpu = measure(flows[name], env)
            times[name]["step"].append(step)
            times[name]["run"].append(whole)
            times[name]["cpu"].append(cpu)
        log(f"{rep + 1}/{repeat}: " + ", ".join(f"{n} {times[n]['step'][-1]:.2f} s" for n in names))
    return times


def rows(times: dict[str, dict[str, list[float]]]) -> list[Row]:
    anchor, sampled, control = times["anchor"], times["gpu_profile"], times["gpu_profile, no GPU"]
    step = statistics.median(sampled["step"])
    return [
        Row(
            "CPU of the sampling thread (1 fake GPU every 1 s, card every 5 s), share of the step",
            "— (goal: under 1 % of the step)",
            None,
            statistics.median(sampled["cpu"]),
            Goal("≤ 1 % of the step", max_seconds=0.01 * step),
            (),
            tuple(sampled["cpu"]),
        ),
        Row(
            "the step's own time, `@gpu_profile` sampling",
            "the same step without @gpu_profile",
            statistics.median(anchor["step"]),
            step,
            Goal("(info)"),
            tuple(anchor["step"]),
            tuple(sampled["step"]),
        ),
        Row(
            "the step's own time, `@gpu_profile` with no GPU (idle: the A/A control)",
            "the same step without @gpu_profile",
            statistics.median(anchor["step"]),
            statistics.median(control["step"]),
            Goal("(info)"),
            tuple(anchor["step"]),
            tuple(control["step"]),
        ),
        Row(
            "the whole run, `@gpu_profile` sampling (one more card to render at the end)",
            "the same flow without @gpu_profile",
            statistics.median(anchor["run"]),
            statistics.median(sampled["run"]),
            Goal("(info)"),
            tuple(anchor["run"]),
            tuple(sampled["run"]),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    require_bakery()
    args = parser(__doc__.split("\n\n")[0], default_repeat=5)
    args.add_argument("--squarings", type=int, default=400, help="matrix squarings in the step")
    args.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    args.add_argument("--no-write", action="store_true", help="print only")
    options = args.parse_args(argv)
    started = time.perf_counter()
    with scratch_dir("bakery-bench-gpu-profile-") as work:
        times = run(options.repeat, options.squarings, work)
    found = rows(times)
    import os
    import platform

    report = (
        "# @gpu_profile: step time with and without it\n\n"
        f"Medians of {options.repeat} alternating runs; {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}; the step squares a 400×400 "
        f"NumPy matrix {options.squarings} times (both cores busy); load average at the end "
        f"{os.getloadavg()[0]:.1f}. `benchmarks/gpu_profile_overhead.py`.\n\n"
        + markdown_table(found)
        + "\n\nEvery run:\n\n"
        + runs_detail(found)
        + f"\n\nWhole benchmark: {time.perf_counter() - started:.0f} s.\n"
    )
    print(report)
    if not options.no_write:
        options.output.write_text(report)
    return 0 if all(r.result != "MISS" for r in found) else 1


if __name__ == "__main__":
    sys.exit(main())
