"""`bakery env show FLOW` and `bakery env gc`: inspect and clean the environment cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..envs.cache import EnvCache
from ..envs.gc import collect_garbage
from .flowcall import call_flow


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("env", help="Inspect and clean cached step environments.")
    verbs = parser.add_subparsers(dest="env_verb", metavar="COMMAND")
    show = verbs.add_parser("show", help="Per step: spec, locked packages, cache path and size.")
    show.add_argument("flow", help="the flow file, e.g. flow.py")
    show.add_argument("--json", action="store_true", help="print the report as JSON")
    show.set_defaults(func=run_show)
    gc = verbs.add_parser("gc", help="Remove cached environments no lockfile refers to.")
    gc.add_argument("locks", nargs="*", type=Path, help="extra lockfiles whose envs to keep")
    gc.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    gc.add_argument("--cache-dir", type=Path, help="cache root (default: BAKERY_CACHE_DIR)")
    gc.set_defaults(func=run_gc)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def run_show(args: argparse.Namespace) -> int:
    report = call_flow(args.flow, ["show"])
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    console = Console()
    console.print(
        f"lockfile: {report['lockfile']}" + ("" if report["lock_exists"] else " (none yet)")
    )
    for step, entry in report["steps"].items():
        spec = entry["spec"]
        wanted = ", ".join(f"{r['name']}{r['specifier']}" for r in spec["pypi"] + spec["conda"])
        console.rule(f"[bold]{step}[/]  python {spec['python']}  {spec['platform']}")
        console.print(f"requested: {wanted or '(nothing)'}")
        if not entry["locked"]:
            console.print("[yellow]not locked[/]: run `bakery lock` (or the flow) to resolve it")
            continue
        table = Table(show_header=True, box=None, pad_edge=False)
        for column in ("package", "version", "kind"):
            table.add_column(column)
        for package in entry["packages"]:
            table.add_row(package["name"], package["version"], package["kind"])
        console.print(table)
        state = "[green]cached[/]" if entry.get("cached") else "[yellow]not built yet[/]"
        console.print(
            f"env {entry['env_id'][:12]}  {state}  {entry.get('cache_path', '')}  "
            f"{_size(entry.get('size'))}"
        )
    if report.get("disabled_steps"):
        console.print(f"steps without an environment: {', '.join(report['disabled_steps'])}")
    return 0


def run_gc(args: argparse.Namespace) -> int:
    cache = EnvCache(args.cache_dir)
    report = collect_garbage(cache, args.locks, dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    Console().print(
        f"removed {len(report.removed)} environment(s), kept {report.kept}; "
        f"{verb} {_size(report.bytes_freed)}"
    )
    return 0
