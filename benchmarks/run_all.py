"""Run every figure and print the tables: environments (benchmarks/results.md), conda, images
(benchmarks/results_image.md), the time to the first task in containers
(benchmarks/results_first_task.md) and scale (benchmarks/results_scale.md).

.venv/bin/python -m benchmarks            # or: .venv/bin/python benchmarks/run_all.py
.venv/bin/python -m benchmarks --repeat 5 --pip-repeat 3 --skip image
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bake_image, cold_env, conda_env, first_task, scale_all, warm_run
from benchmarks._common import (
    NOTES,
    log,
    machine_summary,
    markdown_table,
    require_bakery,
    runs_detail,
)

RESULTS = Path(__file__).resolve().parent / "results.md"


def main(argv: list[str] | None = None) -> int:
    require_bakery()
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument(
        "--repeat", type=int, default=5, help="A/B repetitions per figure (default 5)"
    )
    options.add_argument(
        "--warm-repeat", type=int, default=6, help="A/B repetitions of the warm run (default 6)"
    )
    options.add_argument(
        "--pip-repeat", type=int, default=2, help="repetitions of the slow pip anchor (default 2)"
    )
    options.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    options.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["env", "conda", "image", "container", "scale"],
        help="leave out a group of figures (repeatable)",
    )
    args = options.parse_args(argv)
    status = 0 if "env" in args.skip else environment_figures(args)
    if "conda" not in args.skip:
        log("conda figures")
        status |= conda_env.main(["--repeat", str(max(3, args.repeat // 2))])
    if "image" not in args.skip:
        log("image figures")
        status |= bake_image.main(["--repetitions", "3"])
    if "container" not in args.skip:
        log("container figures")
        status |= first_task.main(["--repetitions", "5"])
    if "scale" not in args.skip:
        log("scale figures (torch: downloads ~3 GB once, then ~30-60 min)")
        status |= scale_all.main(["--no-write"] if args.no_write else [])
    return status


def environment_figures(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    log("figure 1: warm run")
    rows = warm_run.measure(args.warm_repeat, breakdown=True)
    log("figure 2: environment creation")
    rows += cold_env.measure(args.repeat, args.pip_repeat)
    elapsed = time.perf_counter() - started

    table = markdown_table(rows)
    print(table)
    if not args.no_write:
        RESULTS.write_text(report(table, runs_detail(rows), args, elapsed))
        log(f"written to {RESULTS}")
    return 0 if all(row.result != "MISS" for row in rows) else 1


def report(table: str, detail: str, args: argparse.Namespace, elapsed: float) -> str:
    notes = "\n".join(f"- {n}" if not n.startswith("warm run, where") else n for n in NOTES)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""# Bakery benchmarks: results

{when}; {machine_summary()}; `.venv/bin/python -m benchmarks --repeat {args.repeat} \
--warm-repeat {args.warm_repeat} --pip-repeat {args.pip_repeat}` ({elapsed:.0f} s in all). Medians of alternating runs
(anchor and Bakery interleaved A B B A …); ratio = Bakery / anchor. How each figure is measured,
and the index settings used: [README.md](README.md).

{table}

Every run (seconds):

{detail}

Context printed by the figures:

{notes}
"""


if __name__ == "__main__":
    sys.exit(main())
