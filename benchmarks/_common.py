"""Shared helpers: alternating timing, result rows, the markdown table, subprocess running.

Absolute times on a small shared machine are noisy, so every figure runs the anchor and Bakery
alternately (A B A B ...) in one process and compares medians. Only public tools are used:
`time.perf_counter` around the measured work, `subprocess` for the commands.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# A measurement returns the seconds it measured (so per-run setup and cleanup stay untimed).
Measurement = Callable[[], float]


@dataclass(frozen=True)
class Goal:
    """What Bakery must achieve against the anchor: a ratio bound or an absolute bound."""

    text: str
    max_ratio: float | None = None  # bakery / anchor must be <= this
    max_seconds: float | None = None  # bakery median must be <= this

    def check(self, anchor_s: float | None, bakery_s: float) -> bool | None:
        if self.max_seconds is not None:
            return bakery_s <= self.max_seconds
        if self.max_ratio is not None and anchor_s:
            return bakery_s / anchor_s <= self.max_ratio
        return None


INFO = Goal("(info)")


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    figure: str
    anchor: str
    anchor_s: float | None
    bakery_s: float
    goal: Goal
    anchor_runs: tuple[float, ...] = ()
    bakery_runs: tuple[float, ...] = ()
    unit: str = "s"  # or a count's unit ("MiB", "layers"): printed as is, no ms

    @property
    def ratio(self) -> float | None:
        return self.bakery_s / self.anchor_s if self.anchor_s else None

    @property
    def result(self) -> str:
        passed = self.goal.check(self.anchor_s, self.bakery_s)
        return {True: "PASS", False: "MISS", None: "—"}[passed]

    def cells(self) -> list[str]:
        ratio = self.ratio
        if ratio is None:
            ratio_text = "—"
        elif ratio < 1:
            ratio_text = f"{ratio:.2f}× ({1 / ratio:.1f}× faster)"
        else:
            ratio_text = f"{ratio:.2f}×"
        return [
            self.figure,
            self.anchor,
            _value(self.anchor_s, self.unit),
            _value(self.bakery_s, self.unit),
            ratio_text,
            self.goal.text,
            self.result,
        ]


HEADER = ["figure", "anchor", "anchor s", "bakery s", "ratio (bakery/anchor)", "goal", "result"]


def _value(value: float | None, unit: str) -> str:
    if unit == "s" or value is None:
        return _seconds(value)
    return f"{value:.0f} {unit}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 0.1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f}"


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def runs_detail(rows: Sequence[Row]) -> str:
    """Every individual time, so the reader can judge the noise behind each median."""
    out = []
    for row in rows:
        if row.anchor_runs or row.bakery_runs:
            anchor = " ".join(f"{t:.3f}" for t in row.anchor_runs) or "—"
            bakery = " ".join(f"{t:.3f}" for t in row.bakery_runs)
            out.append(f"- {row.figure}: anchor [{anchor}] s; bakery [{bakery}] s")
    return "\n".join(out)


def alternate(
    anchor: Measurement, bakery: Measurement, repeat: int, label: str = ""
) -> tuple[list[float], list[float]]:
    """Run anchor and Bakery alternately (A B B A A B ...) `repeat` times each; returns both
    lists of seconds."""
    anchor_times, bakery_times = [], []
    for i in range(repeat):
        # A B, then B A: neither side always runs first (warm-up, a neighbour's load)
        order = ((anchor, anchor_times), (bakery, bakery_times))
        for measure, times in order if i % 2 == 0 else reversed(order):
            os.sync()  # the previous run's deleted files are not written back during this one
            times.append(measure())
        log(
            f"{label} {i + 1}/{repeat}: anchor {anchor_times[-1]:.3f} s, bakery {bakery_times[-1]:.3f} s"
        )
    return anchor_times, bakery_times


def compare(
    figure: str, anchor_name: str, anchor: Measurement, bakery: Measurement, repeat: int, goal: Goal
) -> Row:
    anchor_times, bakery_times = alternate(anchor, bakery, repeat, figure)
    return Row(
        figure,
        anchor_name,
        statistics.median(anchor_times),
        statistics.median(bakery_times),
        goal,
        tuple(anchor_times),
        tuple(bakery_times),
    )


def timed(command: Sequence[str | os.PathLike], **kwargs) -> float:
    """Seconds `command` took; raises with its output's tail when it fails."""
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({proc.returncode}):\n{tail}")
    return elapsed


def run_flow(flow: Path, env: Mapping[str, str], *args: str) -> tuple[int, str, float]:
    """`python FLOW --no-pylint ARGS` in the flow's folder: (exit status, stdout + stderr, wall
    seconds)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, flow.name, "--no-pylint", *args],
        cwd=flow.parent,
        capture_output=True,
        text=True,
        env=dict(env),
    )
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def publish_report(report: str, output: Path, out: Path | None, name: str) -> None:
    """Print a markdown report, write it to `output`, and keep a copy as `out/name` (`--out`)."""
    print(report)
    output.write_text(report)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(report)


def scratch_metaflow_env(work: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for flows run in `work`: their own Metaflow home, local
    metadata and datastore under it, and a user name (Metaflow refuses none)."""
    (work / "home").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "USER": os.environ.get("USER") or "dev",
        "METAFLOW_HOME": str(work / "home"),
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work / "datastore"),
        **(extra or {}),
    }


def task_artifacts(
    flow_dir: Path, pathspec: str, names: Sequence[str], env: Mapping[str, str]
) -> dict:
    """The named artifacts of task `pathspec` (`Flow/run/step`: its first task), read with
    Metaflow's Client API in a fresh interpreter run in `flow_dir` with `env` (the run's own
    datastore and metadata settings); exits with the interpreter's error if it cannot."""
    import json

    code = (
        "import json\n"
        "from metaflow import Step, namespace\n"
        "namespace(None)\n"
        f"task = Step({pathspec!r}).task\n"
        f"print('ARTIFACTS ' + json.dumps({{n: task[n].data for n in {list(names)!r}}}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=flow_dir, capture_output=True, text=True, env=env
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("ARTIFACTS ")), None)
    if line is None:
        sys.exit(f"could not read the artifacts of {pathspec}:\n" + done.stderr[-3000:])
    return json.loads(line[len("ARTIFACTS ") :])


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without an active virtualenv (commands pick their interpreter explicitly)."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(extra or {})
    return env


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder, removed afterwards (BENCH_TMPDIR chooses where; default system tmp)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("BENCH_TMPDIR")))
    try:
        yield path
    finally:
        remove(path)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


NOTES: list[str] = []  # context worth keeping beside the table (run_all writes it to results.md)


def note(message: str) -> None:
    """Log a line and keep it for the results file."""
    log(message)
    NOTES.append(message)


def machine_summary() -> str:
    from bakery.uvbin import uv_binary

    uv_version = subprocess.run(
        [uv_binary(), "--version"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, {uv_version}"
    )


def parser(description: str, default_repeat: int) -> argparse.ArgumentParser:
    args = argparse.ArgumentParser(description=description)
    args.add_argument(
        "--repeat",
        type=int,
        default=default_repeat,
        help=f"alternating repetitions of anchor and Bakery (default {default_repeat})",
    )
    return args


def print_rows(rows: Sequence[Row]) -> None:
    print(markdown_table(rows))
    print()
    print(runs_detail(rows))


def require_bakery() -> None:
    try:
        import metaflow  # noqa: F401

        import bakery  # noqa: F401
    except ImportError:
        sys.exit(
            "run the benchmarks with the project's interpreter, where Bakery and Metaflow are "
            "installed: .venv/bin/python -m benchmarks"
        )
