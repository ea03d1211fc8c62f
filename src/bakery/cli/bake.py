"""`bakery bake FLOW --registry REPO`: bake each step environment into an image and push it.

With a flow file, its lockfile is first brought up to date (as `bakery lock FLOW` does) and the
environments of this platform's steps are baked; `--lock FILE` bakes a lockfile as it stands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BakeryError, LockError
from ..image.compression import DEFAULT_LEVELS, FORMATS, LEVELS, Compression
from ..lock import Lockfile, read_lock
from ..platforms import platforms_help
from ..policy import BakeTargetRequest, ImageRequest, load_policies
from ..registry.reference import push_target
from ..settings import current
from .arguments import add_environment_option, platform_argument
from .console import make_console
from .flowcall import start_flow

if TYPE_CHECKING:
    from ..image.bake import BakeResult

BASE_ENV = "BAKERY_BASE_IMAGE"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bake", help="Bake a flow's step environments into images and push them."
    )
    parser.add_argument(
        "flow", nargs="?", help="the flow file, e.g. flow.py (its lockfile is updated first)"
    )
    parser.add_argument(
        "--lock", type=Path, help="bake this lockfile as it stands instead of a flow's"
    )
    parser.add_argument(
        "--platform", type=platform_argument, help="with a flow: " + platforms_help()
    )
    parser.add_argument(
        "--registry",
        required=True,
        help="the repository to push to, without a tag (each image is tagged by its content), "
        "e.g. 127.0.0.1:5000/team/envs",
    )
    parser.add_argument(
        "--base",
        default=None,
        help=f"base image with Python (default: ${BASE_ENV}, else the official "
        "python:X.Y-slim matching each environment's Python)",
    )
    parser.add_argument(
        "--step", action="append", help="bake only this step's environment (repeatable)"
    )
    parser.add_argument(
        "--compression",
        choices=FORMATS,
        default="gzip",
        help="layer compression (default %(default)s; zstd decompresses faster where pulled)",
    )
    parser.add_argument(
        "--level",
        type=int,
        default=None,
        choices=LEVELS["zstd"],
        metavar="LEVEL",
        help=f"compression level: gzip 1-9 (default {DEFAULT_LEVELS['gzip']}; 1-3 use ISA-L "
        f"and are fastest, 4-9 zlib, smaller), zstd 1-19 (default {DEFAULT_LEVELS['zstd']})",
    )
    parser.add_argument(
        "--refresh-base",
        action="store_true",
        help="look the base tag up again even if nothing changed",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="image cache (default: $BAKERY_CACHE_DIR/image)"
    )
    add_environment_option(
        parser,
        "with a flow: the Metaflow environment it runs under (uv for flows written for "
        "--environment=uv)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.flow is None) == (args.lock is None):
        raise BakeryError(
            "name a flow file (`bakery bake flow.py ...`) or a lockfile (--lock FILE)"
        )
    if args.platform and args.lock:
        raise BakeryError("--platform goes with a flow file; with --lock every platform is baked")
    push_target(args.registry)  # before locking: a wrong target should not cost a lock first
    compression = Compression.of(args.compression, args.level)
    policies = load_policies()
    # before anything is locked, fetched or pushed
    policies.enforce([BakeTargetRequest("", args.registry)])
    lock, steps = _locked_steps(args)
    from ..image.bake import BakeOptions, bake  # imported while the flow was locked

    bases = {env_id: _base(args, lock.environments[env_id].python) for env_id in steps}
    policies.enforce(
        ImageRequest(", ".join(steps[env_id]), base, _base_source(args))
        for env_id, base in bases.items()
    )
    options = BakeOptions(
        cache_dir=args.cache_dir,
        compression=compression,
        refresh_base=args.refresh_base,
        progress=not args.json,
    )
    results: dict[str, BakeResult] = {}
    for env_id in steps:
        try:
            env = lock.environments[env_id]
            results[env_id] = bake(
                env, base=bases[env_id], repository=args.registry, options=options
            )
        except BakeryError as e:
            raise e.with_step(", ".join(steps[env_id])) from None
    _report(results, steps, args.json)
    return 0


def _base(args: argparse.Namespace, python: str) -> str:
    from ..image.base import default_base_image

    return args.base or current().base_image or default_base_image(python)


def _base_source(args: argparse.Namespace) -> str:
    """Where the base image came from, for a refusal."""
    if args.base:
        return "the base image of `bakery bake` (--base)"
    if current().base_image:
        return f"the base image of `bakery bake` ({current().source('base_image')})"
    return "the base image of `bakery bake` (the default for the environment's Python)"


def _locked_steps(args: argparse.Namespace) -> tuple[Lockfile, dict[str, list[str]]]:
    """The lockfile (a flow's, updated first, or `--lock`'s) and the environments to bake."""
    if args.flow:
        lock_path, platform_steps = _lock_flow(
            args.flow, args.platform, quiet=args.json, environment=args.environment
        )
    else:
        lock_path, platform_steps = args.lock, None
    lock = read_lock(lock_path)
    if lock is None:
        raise LockError(f"no lockfile at {lock_path}: run `bakery lock FLOW.py` first")
    steps = _steps_by_env(lock, args.step, platform_steps)
    missing = sorted(env_id for env_id in steps if env_id not in lock.environments)
    if missing:
        raise LockError(
            f"{lock_path} names environment(s) {', '.join(missing)} it does not hold: "
            "run `bakery lock FLOW.py` to rewrite it"
        )
    return lock, steps


def _lock_flow(
    flow: str, platform: str | None, quiet: bool, environment: str = "conda"
) -> tuple[Path, dict[str, str]]:
    """Bring `flow`'s lockfile up to date; return its path and `{step: env_id}` for the platform."""
    verb = ["lock", *(["--platform", platform] if platform else [])]
    console = make_console(stderr=True, quiet=quiet)
    with console.status(f"Locking {Path(flow).name}...", spinner="dots"):
        call = start_flow(flow, verb, environment=environment)
        try:
            # the flow's process (Metaflow, the resolver) runs on one core; baking's modules
            # load on another meanwhile
            import bakery.image.bake  # noqa: F401
        except BaseException:
            call.cancel()
            raise
        result = call.result()
    return Path(flow).parent / result["lockfile"], result["steps"]


def _steps_by_env(
    lock: Lockfile, only: list[str] | None, platform_steps: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """`{env_id: [steps]}` to bake: every platform's, or only `platform_steps`' environments."""
    known = lock.steps if platform_steps is None else platform_steps
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise LockError(
            f"step(s) {', '.join(unknown)} not in the lockfile; it has: {', '.join(sorted(known))}"
        )
    by_env: dict[str, list[str]] = {}
    for step, per_platform in sorted(lock.steps.items()):
        if only and step not in only:
            continue
        env_ids = per_platform.values() if platform_steps is None else [platform_steps.get(step)]
        for env_id in env_ids:
            if env_id is not None:
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
    console = make_console()
    for env_id, r in results.items():
        state = (
            "up to date"
            if r.up_to_date
            else f"{r.bytes_uploaded / 1e6:.1f} MB pushed, {r.layers_built} layer(s) built"
        )
        # soft_wrap: a reference split over lines cannot be copied
        console.print(
            f"[bold]{', '.join(steps[env_id])}[/]: {r.reference}", highlight=False, soft_wrap=True
        )
        console.print(
            f"  {state}, image {r.image_size / 1e6:.1f} MB, {r.seconds:.2f} s", highlight=False
        )
        for note in r.notes:
            console.print(f"  [yellow]note:[/] {note}", highlight=False)
