"""Figure 1: a 5-step flow with cached environments vs the same flow without environments.

Both flows branch and join (start -> two branches -> join -> end). The Bakery one has
`@pypi_base(six)` and `@pypi(tabulate)` on one branch and runs with `--environment=pypi run`
after a first run has locked and built its environments; the plain one is the same code with
the decorators (and the imports of those packages) removed, run with `python flow.py run`.
Goal: the Bakery run costs at most 1.1x the plain run.

    .venv/bin/python benchmarks/warm_run.py [--repeat 5] [--profile]
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    Goal,
    Row,
    clean_env,
    compare,
    log,
    note,
    parser,
    print_rows,
    require_bakery,
    scratch_dir,
    timed,
)

SIX = "1.17.0"
TABULATE = "0.9.0"

FLOW = """\
from metaflow import FlowSpec, step{imports}

{base}class WarmFlow(FlowSpec):
    @step
    def start(self):
{use_six}        self.rows = [["a", 1], ["b", 2]]
        self.next(self.table, self.total)
{tabulate_decorator}
    @step
    def table(self):
{use_tabulate}        self.text = str(self.rows)
        self.next(self.join)

    @step
    def total(self):
        self.sum = sum(n for _, n in self.rows)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.text = inputs.table.text
        self.sum = inputs.total.sum
        self.next(self.end)

    @step
    def end(self):
        print(self.text, self.sum)


if __name__ == "__main__":
    WarmFlow()
"""


def flow_source(with_environments: bool) -> str:
    if not with_environments:
        return FLOW.format(imports="", base="", use_six="", tabulate_decorator="", use_tabulate="")
    return FLOW.format(
        imports=", pypi, pypi_base",
        base=f'@pypi_base(packages={{"six": "{SIX}"}})\n',
        use_six="        import six\n\n        self.six = six.__version__\n",
        tabulate_decorator=f'\n    @pypi(packages={{"tabulate": "{TABULATE}"}})',
        use_tabulate="        from tabulate import tabulate\n\n        self.table_text = tabulate(self.rows)\n",
    )


def flow_env(root: Path) -> dict[str, str]:
    """A run isolated from the user's caches and Metaflow config (local datastore, metadata)."""
    cache = str(root / "bakery-cache")
    return clean_env(
        {
            "USER": "dev",  # Metaflow refuses to run as root without a user name
            "BAKERY_CACHE_DIR": cache,
            "METAFLOW_BAKERY_CACHE_DIR": cache,
            "UV_CACHE_DIR": str(root / "uv-cache"),
            "METAFLOW_HOME": str(root / "metaflow-home"),
            "METAFLOW_DEFAULT_DATASTORE": "local",
            # else Metaflow uses the first .metaflow folder above the flow (e.g. /tmp/.metaflow)
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root / "datastore"),
            "METAFLOW_DEFAULT_METADATA": "local",
        }
    )


def write_flow(folder: Path, with_environments: bool) -> Path:
    folder.mkdir(parents=True)
    flow = folder / "flow.py"
    flow.write_text(flow_source(with_environments))
    return flow


def run_flow(flow: Path, env: dict[str, str], *extra: str) -> float:
    environment = ["--environment=pypi"] if flow.parent.name == "bakery" else []
    return timed([sys.executable, *extra, flow.name, *environment, "run"], cwd=flow.parent, env=env)


def installed_bytecode() -> str:
    """Whether Metaflow's modules have bytecode where they are installed (pip leaves it; without
    it every process, plain or Bakery, compiles Metaflow from source and the figure means little)."""
    import metaflow

    folder = Path(metaflow.__file__).parent
    sources = len(list(folder.rglob("*.py")))
    compiled = len(list(folder.rglob("__pycache__/*.pyc")))
    return f"{compiled} .pyc for {sources} .py"


def measure(repeat: int, breakdown: bool = False, profile: bool = False) -> list[Row]:
    note(f"warm run: installed Metaflow's bytecode: {installed_bytecode()}")
    with scratch_dir("bench-warm-") as root:
        env = flow_env(root)
        plain = write_flow(root / "plain", with_environments=False)
        bakery = write_flow(root / "bakery", with_environments=True)

        first = run_flow(bakery, env)  # resolves, writes the lock, builds both environments
        note(f"warm run: the first Bakery run (lock + build 2 environments) took {first:.2f} s")
        run_flow(plain, env)  # same warm-up for the plain flow (bytecode, .metaflow)
        cached_lock = bakery.with_name("flow.bakery.lock").stat().st_mtime

        row = compare(
            "warm run: 5-step flow, envs cached",
            "plain `python flow.py run`",
            lambda: run_flow(plain, env),
            lambda: run_flow(bakery, env),
            repeat,
            Goal("≤ 1.1×", max_ratio=1.1),
        )
        if bakery.with_name("flow.bakery.lock").stat().st_mtime != cached_lock:
            log("WARNING: the lockfile was rewritten during warm runs")
        if breakdown:
            print_phases(plain, bakery, env)
        if profile:
            profile_warm_run(bakery, env, root)
        return [row]


PROFILER = """\
import cProfile, runpy, sys
out, flow = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
profile = cProfile.Profile()
profile.enable()
try:
    runpy.run_path(flow, run_name="__main__")  # keeps __main__ the flow (lockfile beside it)
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats(out)
"""


TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (.*)$")
TASK = re.compile(r"\[\d+/(\w+)/\d+ \(pid \d+\)\] Task (is starting|finished successfully)")


def phases(flow: Path, env: dict[str, str]) -> dict[str, float]:
    """One run split by Metaflow's own timestamped lines: launcher start-up (parse, lock,
    environments, code package) until "Workflow starting", each task from launch to finish,
    and the launcher's wind-down after the last task."""
    environment = ["--environment=pypi"] if flow.parent.name == "bakery" else []
    launched = time.time()
    proc = subprocess.run(
        [sys.executable, flow.name, *environment, "run"],
        cwd=flow.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    ended = time.time()
    stamps: list[tuple[float, str]] = []
    for line in (proc.stdout + proc.stderr).splitlines():
        match = TIMESTAMP.match(line)
        if match:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            stamps.append((when, match.group(2)))
    started = next(t for t, text in stamps if text.startswith("Workflow starting"))
    result = {"start-up (until 'Workflow starting')": started - launched}
    begun: dict[str, float] = {}
    last_finish = started
    for when, text in stamps:
        task = TASK.search(text)
        if task and task.group(2) == "is starting":
            begun[task.group(1)] = when
        elif task:
            result[f"task {task.group(1)}"] = when - begun[task.group(1)]
            last_finish = max(last_finish, when)
    result["tasks, first launch to last finish"] = last_finish - started
    result["wind-down (after last task)"] = ended - last_finish
    result["total"] = ended - launched
    return result


def print_phases(plain: Path, bakery: Path, env: dict[str, str], repeat: int = 3) -> None:
    """Median of each phase over a few more alternating runs, plain vs Bakery."""
    runs: dict[str, tuple[list[float], list[float]]] = {}
    for _ in range(repeat):
        for index, flow in enumerate((plain, bakery)):
            for name, seconds in phases(flow, env).items():
                runs.setdefault(name, ([], []))[index].append(seconds)
    lines = [
        f"warm run, where the time goes (median of {repeat} more runs each, seconds):",
        "",
        "| phase | plain | bakery | extra |",
        "|---|---|---|---|",
    ]
    for name, (plain_s, bakery_s) in runs.items():
        a, b = statistics.median(plain_s), statistics.median(bakery_s)
        lines.append(f"| {name} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
    note("\n".join(lines) + "\n")


def profile_warm_run(flow: Path, env: dict[str, str], root: Path) -> None:
    """Where the Bakery run's time goes in the launcher process (tasks are subprocesses)."""
    import pstats

    out = root / "warm.prof"
    seconds = run_flow(flow, env, "-c", PROFILER, str(out))
    log(f"profiled Bakery run: {seconds:.2f} s; launcher process, cumulative:")
    stats = pstats.Stats(str(out), stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(r"bakery|conda_decorator|runtime\.py", 20)
    stats.print_callees(r"conda_decorator.py:\d+\(runtime_init\)")  # the code package extraction


def main(argv: list[str] | None = None) -> list[Row]:
    require_bakery()
    options = parser(__doc__.splitlines()[0], default_repeat=5)
    options.add_argument(
        "--breakdown", action="store_true", help="split 3 more runs of each into phases"
    )
    options.add_argument("--profile", action="store_true", help="cProfile one more Bakery run")
    args = options.parse_args(argv)
    rows = measure(args.repeat, args.breakdown, args.profile)
    print_rows(rows)
    return rows


if __name__ == "__main__":
    main()
