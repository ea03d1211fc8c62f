"""The scale group: a cold 21-package scientific environment and run (cold_run.py), editing a
pin until the step runs in its new image (edit_to_running.py), and the PyTorch environment
baked, pulled and started (scale.py); one table in benchmarks/results_scale.md.

    .venv/bin/python benchmarks/scale_all.py [--variant cuda|cpu] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cold_run, edit_to_running, scale
from benchmarks._common import NOTES, log, machine_summary, markdown_table, runs_detail

RESULTS = Path(__file__).resolve().parent / "results_scale.md"


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--variant", choices=sorted(scale.VARIANTS), default="cuda")
    options.add_argument("--repeat", type=int, default=4, help="A/B repetitions (default 4)")
    options.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = options.parse_args(argv)
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    rows = cold_run.measure(args.repeat)
    loads.append(os.getloadavg()[0])
    rows += edit_to_running.measure(["pandas", "torch"], args.repeat, {"torch": 1})
    loads.append(os.getloadavg()[0])
    rows += scale.measure(args.variant, max(2, args.repeat // 2))
    loads.append(os.getloadavg()[0])
    table = markdown_table(rows)
    print(table)
    if not args.no_write:
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        notes = "\n".join(f"- {n}" for n in NOTES)
        load_text = ", ".join(f"{load:.1f}" for load in loads)
        RESULTS.write_text(
            f"# Scale benchmarks: results\n\n{when}; {machine_summary()}; "
            f"`.venv/bin/python benchmarks/scale_all.py --variant {args.variant} --repeat "
            f"{args.repeat}` ({time.perf_counter() - started:.0f} s in all; 1-minute load "
            f"average at the start and after each part: {load_text}). Medians of alternating "
            "runs; ratio = Bakery / anchor. How each figure is measured: "
            "[README.md](README.md#scale).\n\n"
            f"{table}\n\nEvery run (seconds):\n\n{runs_detail(rows)}\n\n"
            f"Context printed by the figures:\n\n{notes}\n"
        )
        log(f"written to {RESULTS}")
    return 0 if all(row.result != "MISS" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
