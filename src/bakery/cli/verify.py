"""`bakery verify Flow/run`: what each task ran with, against the lock in the run's code package;
`bakery verify --image REF`: every file of a baked image against its lock (`verify_image.py`).

The run is read on the Metaflow side (`metaflow_extensions.bakery.plugins.verify`, in a
subprocess: the core never imports Metaflow); the comparison is here. A task matches when the
environment id it recorded is the one the lock names for its step, and, when it ran in an
image, the image's tag names that environment (Bakery tags images by environment id).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..errors import BakeryError
from ..image_tags import baked_for, looks_baked
from .console import make_console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="Check what each task of a finished run ran with, or every file of a baked image, "
        "against the lockfile.",
    )
    parser.add_argument("run", nargs="?", help="the run's pathspec, e.g. MyFlow/1795630478918496")
    parser.add_argument(
        "--image",
        metavar="REF",
        help="instead of a run: check every file of this baked image against the lock",
    )
    parser.add_argument(
        "--lock",
        type=Path,
        help="compare with this lockfile instead of the one in the run's code package (runs on "
        "a local datastore without containers keep no code package); with --image, the lockfile the image was baked "
        "from (default: the *.bakery.lock here that holds its environment)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="with --image: image cache (default: $BAKERY_CACHE_DIR/image)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class TaskCheck:
    task: str
    step: str
    env_id: str | None
    image: str | None
    expected: tuple[str, ...]  # the env ids the lock names for the step (one per platform)
    verdict: str  # "match", "mismatch", "no environment" (a step Bakery did not manage)

    @property
    def ok(self) -> bool:
        return self.verdict != "mismatch"


def check_tasks(report: dict) -> list[TaskCheck]:
    """Compare every task of a run report (see the module doc) with the report's lock."""
    lock = report.get("lock") or {}
    steps = lock.get("steps", {})
    checks = []
    for task in report["tasks"]:
        expected = tuple(sorted(set(steps.get(task["step"], {}).values())))
        env_id, image = task.get("env_id"), task.get("image")
        if not expected and not env_id:
            verdict = "no environment"
        elif env_id in expected and _image_names(image, env_id):
            verdict = "match"
        else:
            verdict = "mismatch"
        checks.append(TaskCheck(task["task"], task["step"], env_id, image, expected, verdict))
    return checks


def _image_names(image: str | None, env_id: str) -> bool:
    """Whether an image reference (if any) is baked for `env_id`; an image that was not baked
    by Bakery names no environment: no claim."""
    return not image or not looks_baked(image) or baked_for(image, env_id)


def read_run(pathspec: str) -> dict:
    command = [sys.executable, "-m", "metaflow_extensions.bakery.plugins.verify", pathspec]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BakeryError(
            f"{message}; check the pathspec (Flow/run) and that METAFLOW_* settings point at "
            "the datastore and metadata service the run used"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> int:
    if (args.run is None) == (args.image is None):
        raise BakeryError(
            "name a run (`bakery verify Flow/run`) or an image (`bakery verify --image REF`)"
        )
    if args.image:
        from .verify_image import run_image  # the image side needs no Metaflow run

        return run_image(args)
    report = read_run(args.run)
    if args.lock:
        try:
            report["lock"], report["lockfile"] = json.loads(args.lock.read_text()), str(args.lock)
        except (OSError, ValueError) as e:
            raise BakeryError(f"cannot read the lockfile {args.lock}: {e}") from None
    elif not report.get("code_package"):
        raise BakeryError(
            f"{report['run']} has no code package (local runs without containers keep none): name "
            "the lockfile it ran with, e.g. `bakery verify RUN --lock flow.bakery.lock`"
        )
    elif report.get("lock") is None:
        raise BakeryError(
            f"the code package of {report['run']} holds no Bakery lockfile: it was not run "
            "with --environment=pypi, conda or fast-bakery"
        )
    checks = check_tasks(report)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2, default=list))
    else:
        render(report, checks, make_console())
    return 0 if all(c.ok for c in checks) else 1


def render(report: dict, checks: list[TaskCheck], console: Console) -> None:
    console.print(f"[bold]{report['run']}[/] against {report['lockfile']}", highlight=False)
    table = Table(box=None, pad_edge=False)
    for column in ("task", "environment", "image", "lock says", ""):
        table.add_column(column)
    marks = {"match": "[green]ok[/]", "mismatch": "[red]MISMATCH[/]", "no environment": "-"}
    for c in checks:
        table.add_row(
            c.task.split("/", 2)[-1],
            (c.env_id or "-")[:12],
            c.image or "-",
            ", ".join(e[:12] for e in c.expected) or "-",
            marks[c.verdict],
        )
    console.print(table)
    bad = [c for c in checks if not c.ok]
    if bad:
        console.print(f"[red]{len(bad)} task(s) did not run with the locked environment[/]")
