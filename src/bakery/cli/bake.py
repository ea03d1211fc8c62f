"""`bakery bake --lock FILE --registry REPO`: bake each locked environment into an image and push it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rich.console import Console

from ..errors import BakeryError, ImageError, LockError
from ..image.bake import BakeOptions, BakeResult, bake
from ..image.layers import DEFAULT_COMPRESSION_LEVEL
from ..lock import read_lock

BASE_ENV = "BAKERY_BASE_IMAGE"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bake", help="Bake locked environments into images and push them."
    )
    parser.add_argument(
        "--lock", required=True, type=Path, help="the lockfile, e.g. flow.bakery.lock"
    )
    parser.add_argument(
        "--registry", required=True, help="where to push, e.g. 127.0.0.1:5000/team/envs"
    )
    parser.add_argument(
        "--base",
        default=os.environ.get(BASE_ENV),
        help=f"base image with Python (default: ${BASE_ENV})",
    )
    parser.add_argument(
        "--step", action="append", help="bake only this step's environment (repeatable)"
    )
    parser.add_argument(
        "--level",
        type=int,
        default=DEFAULT_COMPRESSION_LEVEL,
        choices=range(1, 10),
        metavar="1-9",
        help="gzip level (default %(default)s: fastest; higher is smaller)",
    )
    parser.add_argument(
        "--refresh-base",
        action="store_true",
        help="look the base tag up again even if nothing changed",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="image cache (default: $BAKERY_CACHE_DIR/image)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.base:
        raise ImageError(f"no base image: pass --base (an image with Python) or set ${BASE_ENV}")
    lock = read_lock(args.lock)
    if lock is None:
        raise LockError(f"no lockfile at {args.lock}: run `bakery lock FLOW.py` first")
    steps = _steps_by_env(lock, args.step)
    options = BakeOptions(
        cache_dir=args.cache_dir,
        compression_level=args.level,
        refresh_base=args.refresh_base,
        progress=not args.json,
    )
    results: dict[str, BakeResult] = {}
    for env_id in steps:
        try:
            results[env_id] = bake(
                lock.environments[env_id], base=args.base, repository=args.registry, options=options
            )
        except BakeryError as e:
            raise e.with_step(", ".join(steps[env_id])) from None
    _report(results, steps, args.json)
    return 0


def _steps_by_env(lock, only: list[str] | None) -> dict[str, list[str]]:
    unknown = sorted(set(only or ()) - set(lock.steps))
    if unknown:
        raise LockError(
            f"step(s) {', '.join(unknown)} not in the lockfile; it has: {', '.join(sorted(lock.steps))}"
        )
    by_env: dict[str, list[str]] = {}
    for step, per_platform in sorted(lock.steps.items()):
        if only and step not in only:
            continue
        for env_id in per_platform.values():
            by_env.setdefault(env_id, []).append(step)
    return by_env


def _report(results: dict[str, BakeResult], steps: dict[str, list[str]], as_json: bool) -> None:
    if as_json:
        data = {
            env_id: {"steps": steps[env_id], "reference": r.reference, **r.__dict__}
            for env_id, r in results.items()
        }
        print(json.dumps(data, indent=2, default=str))
        return
    console = Console()
    for env_id, r in results.items():
        state = (
            "up to date"
            if r.up_to_date
            else f"{r.bytes_uploaded / 1e6:.1f} MB pushed, {r.layers_built} layer(s) built"
        )
        console.print(f"[bold]{', '.join(steps[env_id])}[/]: {r.reference}", highlight=False)
        console.print(
            f"  {state}, image {r.image_size / 1e6:.1f} MB, {r.seconds:.2f} s", highlight=False
        )
        for note in r.notes:
            console.print(f"  [yellow]note:[/] {note}", highlight=False)
