"""`bakery lock FLOW`: resolve every step's environment and write FLOW's lockfile."""

from __future__ import annotations

import argparse

from ..platforms import platforms_help
from .arguments import platform_argument
from .console import make_console
from .flowcall import call_flow


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lock", help="Resolve every step's environment and write the flow's lockfile."
    )
    parser.add_argument("flow", help="the flow file, e.g. flow.py")
    parser.add_argument("--platform", type=platform_argument, help=platforms_help())
    parser.add_argument(
        "--upgrade", action="store_true", help="re-resolve every step, not only changed ones"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    verb = ["lock"]
    if args.platform:
        verb += ["--platform", args.platform]
    if args.upgrade:
        verb.append("--upgrade")
    console = make_console(stderr=True)
    with console.status("Resolving step environments...", spinner="dots"):
        result = call_flow(args.flow, verb)
    resolved = result["resolved_steps"]
    repaired = result.get("repaired_steps") or []
    if repaired:
        console.print(
            f"[yellow]{result['lockfile']} had entries edited by hand or damaged[/]: "
            f"re-resolved {', '.join(repaired)}; review the lockfile's diff before committing it",
            highlight=False,
        )
    state = "written" if result["written"] else "unchanged"
    console.print(
        f"[green]{result['lockfile']}[/] {state}: {len(result['steps'])} steps, "
        f"{len(set(result['steps'].values()))} environments"
        + (f", re-resolved: {', '.join(resolved)}" if resolved else "")
    )
    return 0
