"""`bakery env show FLOW`, `bakery env gc` and `bakery env verify`: inspect, check and clean the
environment cache; `bakery env publish|ls|show NAME|alias` (named environments, `named.py`) and
`bakery env get` (a past run's environment, `env_get.py`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from ..envs.cache import EnvCache
from ..envs.gc import collect_garbage
from ..units import human_size
from . import env_verify
from .arguments import add_environment_option
from .console import make_console
from .flowcall import call_flow


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "env", help="Inspect, verify, clean, publish and recreate step environments."
    )
    verbs = parser.add_subparsers(dest="env_verb", metavar="COMMAND")
    show = verbs.add_parser(
        "show",
        help="Per step of a flow: spec, locked packages, cache path and size; or a named "
        "environment (NAME[:TAG]).",
    )
    show.add_argument("flow", help="the flow file, e.g. flow.py, or NAME[:TAG]")
    show.add_argument("--datastore", help="for a named environment: Metaflow datastore type")
    add_environment_option(
        show,
        "for a flow: the Metaflow environment it runs under",
    )
    show.add_argument("--json", action="store_true", help="print the report as JSON")
    show.set_defaults(func=run_show)
    gc = verbs.add_parser("gc", help="Remove cached environments no lockfile refers to.")
    gc.add_argument("locks", nargs="*", type=Path, help="extra lockfiles whose envs to keep")
    gc.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    gc.add_argument("--cache-dir", type=Path, help="cache root (default: BAKERY_CACHE_DIR)")
    gc.set_defaults(func=run_gc)
    from . import env_get, named

    named.add_parsers(verbs)
    env_get.add_parser(verbs)
    env_verify.add_verb(verbs)


def run_show(args: argparse.Namespace) -> int:
    if not args.flow.endswith(".py"):  # a named environment
        from .named import run_show as show_named

        args.ref = args.flow
        return show_named(args)
    report = call_flow(args.flow, ["show"], environment=args.environment)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    console = make_console()
    console.print(
        f"lockfile: {report['lockfile']}" + ("" if report["lock_exists"] else " (none yet)"),
        highlight=False,
    )
    for steps, entry in _by_environment(report["steps"]):
        spec = entry["spec"]
        wanted = _requested(spec)
        title = f"env {entry['env_id'][:12]}" if entry["locked"] else "not locked"
        console.print()
        console.print(
            f"[bold]{title}[/]  python {spec['python']}  {spec['platform']}  "
            f"steps: {', '.join(steps)}",
            highlight=False,
        )
        console.print(f"requested: {wanted or '(nothing)'}", highlight=False)
        if not entry["locked"]:
            console.print("[yellow]not locked[/]: run `bakery lock` (or the flow) to resolve it")
            continue
        table = Table(show_header=True, box=None, pad_edge=False)
        for column in ("package", "version", "kind"):
            table.add_column(column)
        for package in entry["packages"]:
            table.add_row(package["name"], package["version"], package["kind"])
        console.print(table)
        if entry.get("cached"):
            where = f"[green]cached[/] at {entry['cache_path']} ({human_size(entry.get('size'))})"
        else:
            where = "[yellow]not built yet[/] on this machine"
        console.print(where, highlight=False)
    if report.get("disabled_steps"):
        console.print(f"steps without an environment: {', '.join(report['disabled_steps'])}")
    return 0


def _requested(spec: dict) -> str:
    """What a step asks for, in one line: its named environment or lockfile, the files it was
    read from, then packages."""
    parts = []
    if spec.get("named"):
        named = spec["named"]
        parts.append(f"named environment {named['name']}:{named['tag']}")
    if spec.get("pinned"):
        pinned = spec["pinned"]
        groups = f" (groups: {', '.join(pinned['groups'])})" if pinned.get("groups") else ""
        parts.append(f"{pinned['path']}{groups} as it is")
    packages = ", ".join(f"{r['name']}{r['specifier']}" for r in spec["pypi"] + spec["conda"])
    if packages:
        parts.append(("plus " if parts else "") + packages)
    if spec.get("files") and not spec.get("pinned"):
        parts.append("from " + ", ".join(f["path"] for f in spec["files"]))
    return "; ".join(parts)


def _by_environment(steps: dict) -> list[tuple[list[str], dict]]:
    """Steps grouped by the environment they share, in the order of their first step; steps
    not locked yet each stand alone."""
    groups: dict[str, tuple[list[str], dict]] = {}
    for step, entry in steps.items():
        key = entry["env_id"] if entry["locked"] else f"unlocked:{step}"
        groups.setdefault(key, ([], entry))[0].append(step)
    return list(groups.values())


def run_gc(args: argparse.Namespace) -> int:
    cache = EnvCache(args.cache_dir)
    report = collect_garbage(cache, args.locks, dry_run=args.dry_run)
    console = make_console()
    remove, free = ("would remove", "would free") if args.dry_run else ("removed", "freed")
    for entry in report.entries:
        what = f"env {entry.env_id[:12]}" if entry.env_id else "unfinished build"
        console.print(f"{remove} {what}  {entry.path}  {human_size(entry.size)}", highlight=False)
    console.print(
        f"{remove} {len(report.entries)} environment(s), kept {report.kept}; "
        f"{free} {human_size(report.bytes_freed)}",
        highlight=False,
    )
    return 0
