"""`bakery lock FLOW`: resolve every step's environment and write FLOW's lockfile;
`bakery lock --from FILE`: lock one file's environment on its own (for scripts and CI)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import BakeryError
from ..platforms import TargetPlatform, platforms_help
from .arguments import add_environment_option, platform_argument
from .console import make_console
from .flowcall import call_flow


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lock", help="Resolve every step's environment and write the flow's lockfile."
    )
    parser.add_argument("flow", nargs="?", help="the flow file, e.g. flow.py")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="FILE",
        help="instead of a flow: lock this requirements.txt, pyproject.toml, environment.yml, "
        "uv.lock, pylock.toml, conda-lock.yml or pixi.lock into FILE's .bakery.lock",
    )
    parser.add_argument(
        "--platform",
        type=platform_argument,
        action="append",
        help=platforms_help() + " (repeatable with --from)",
    )
    parser.add_argument("--python", help="with --from: the Python version (default: this one)")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        help="with --from: an extra or dependency group (pyproject, uv.lock, pylock), a category "
        "(conda-lock) or the environment (pixi.lock); repeatable",
    )
    add_environment_option(
        parser,
        "with a flow: the Metaflow environment it runs under (uv for flows written for "
        "--environment=uv)",
    )
    parser.add_argument(
        "--upgrade", action="store_true", help="re-resolve every step, not only changed ones"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.flow is None) == (args.source is None):
        raise BakeryError("name a flow file (`bakery lock flow.py`) or a file (--from FILE)")
    if args.source is not None:
        return run_from(args)
    if len(args.platform or []) > 1:
        raise BakeryError("a flow is locked for one --platform at a time")
    verb = ["lock"]
    if args.platform:
        verb += ["--platform", args.platform[0]]
    if args.upgrade:
        verb.append("--upgrade")
    console = make_console(stderr=True)
    with console.status("Resolving step environments...", spinner="dots"):
        result = call_flow(args.flow, verb, environment=args.environment)
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


def run_from(args: argparse.Namespace) -> int:
    from ..settings import current
    from ..sources.standalone import lock_from_file

    platforms = [TargetPlatform.parse(p) for p in args.platform or []] or [TargetPlatform.host()]
    console = make_console(stderr=True)
    with console.status(f"Locking {args.source.name}...", spinner="dots"):
        lock_path, envs = lock_from_file(
            args.source,
            platforms,
            python=args.python,
            groups=tuple(args.group),
            channels=tuple(current().conda_channels),
            upgrade=args.upgrade,
        )
    for platform, env in envs.items():
        console.print(
            f"[green]{lock_path}[/]: {platform} environment {env.short_id}, "
            f"{len(env.packages)} packages, python {env.python}",
            highlight=False,
        )
    return 0
