"""`bakery env publish|ls|show|alias`: named environments in the datastore.

`publish` takes a step's locked environment (from a flow, which is locked first, or from a
Bakery lockfile, or a file locked on its own with `--from`), stores its package snapshot, bakes
its image when a registry is configured, and records it under `NAME:TAG`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ..errors import BakeryError, LockError
from ..lock import read_lock
from ..lock.model import LockedEnv
from ..platforms import TargetPlatform, platforms_help
from ..settings import current
from .arguments import add_environment_option, platform_argument
from .console import make_console
from .envcall import call_env
from .flowcall import call_flow


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    """publish, ls and alias (`bakery env show NAME[:TAG]` is env.py's show, given a name)."""
    publish = verbs.add_parser(
        "publish", help="Store a step's locked environment under NAME:TAG in the datastore."
    )
    publish.add_argument(
        "targets",
        nargs="+",
        metavar="[FLOW] NAME:TAG",
        help="the flow file (locked first; or --lock/--from instead), then NAME:TAG, e.g. "
        "flow.py team/torch:2024-11",
    )
    publish.add_argument("--step", help="the step whose environment to publish")
    publish.add_argument("--lock", type=Path, help="instead of a flow: a Bakery lockfile")
    publish.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="FILE",
        help="instead of a flow: a file, locked on its own",
    )
    publish.add_argument("--platform", type=platform_argument, help=platforms_help())
    publish.add_argument(
        "--registry", help="bake and push its image here too (default: METAFLOW_BAKERY_REGISTRY)"
    )
    publish.add_argument("--base", help="base image of the baked image (default: as bakery bake)")
    add_environment_option(
        publish,
        "with a flow: the environment it runs under",
    )
    _datastore(publish)
    publish.set_defaults(func=run_publish)
    ls = verbs.add_parser("ls", help="List the named environments: tags and aliases.")
    _datastore(ls)
    ls.add_argument("--json", action="store_true", help="print the list as JSON")
    ls.set_defaults(func=run_ls)
    alias = verbs.add_parser("alias", help="Point an alias (latest, stable) at NAME:TAG.")
    alias.add_argument("ref", help="NAME:TAG")
    alias.add_argument("alias", help="latest or stable")
    _datastore(alias)
    alias.set_defaults(func=run_alias)


def _datastore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datastore", help="Metaflow datastore type (default: Metaflow's default)")


def run_publish(args: argparse.Namespace) -> int:
    if len(args.targets) > 2:
        raise BakeryError("name at most a flow file and NAME:TAG")
    args.flow = args.targets[0] if len(args.targets) == 2 else None
    args.ref = args.targets[-1]
    console = make_console(stderr=True)
    env, source = _env_to_publish(args, console)
    registry = args.registry or current().registry
    image = _bake(env, registry, args.base) if registry else None
    with tempfile.TemporaryDirectory(prefix="bakery-publish-") as tmp:
        env_file = Path(tmp) / "env.json"
        env_file.write_text(json.dumps(env.to_dict()))
        verb = ["publish", args.ref, "--env", str(env_file), "--source", json.dumps(source)]
        with console.status(f"Publishing {args.ref}...", spinner="dots"):
            answer = call_env(
                *verb, *(["--image", image] if image else []), datastore=args.datastore
            )
    record = answer["published"]
    state = "published" if answer["new"] else "already published (unchanged)"
    make_console().print(
        f"{record['name']}:{record['tag']} ({record['platform']}) {state}: environment "
        f"{record['env_id'][:12]}, {len(record['env']['packages'])} packages"
        + (f", image {record['image']}" if record.get("image") else "")
        + f"; {answer['stored']} package(s) stored in {answer['root']}",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def _env_to_publish(args: argparse.Namespace, console) -> tuple[LockedEnv, dict]:
    given = [x for x in (args.flow, args.lock, args.source) if x is not None]
    if len(given) != 1:
        raise BakeryError(
            "name one of: a flow file with --step, --lock FILE with --step, or --from FILE"
        )
    if args.source is not None:
        from ..sources.standalone import lock_from_file

        platform = TargetPlatform.parse(args.platform) if args.platform else TargetPlatform.host()
        _, envs = lock_from_file(args.source, [platform], channels=tuple(current().conda_channels))
        return envs[str(platform)], {"file": args.source.name}
    if not args.step:
        raise BakeryError("name the step whose environment to publish: --step STEP")
    if args.flow is not None:
        verb = ["lock", *(["--platform", args.platform] if args.platform else [])]
        with console.status(f"Locking {Path(args.flow).name}...", spinner="dots"):
            result = call_flow(args.flow, verb, environment=args.environment)
        lock_path = Path(args.flow).parent / result["lockfile"]
        platform = None
    else:
        lock_path, platform = args.lock, args.platform
    lock = read_lock(lock_path)
    if lock is None:
        raise LockError(f"no lockfile at {lock_path}: run `bakery lock` first")
    per_platform = lock.steps.get(args.step)
    if not per_platform:
        raise LockError(
            f"step '{args.step}' has no environment in {lock_path}; it has: {', '.join(sorted(lock.steps)) or 'none'}"
        )
    wanted = (
        str(TargetPlatform.parse(platform))
        if platform
        else (
            str(TargetPlatform.parse(args.platform))
            if args.platform
            else str(TargetPlatform.host())
        )
    )
    env_id = per_platform.get(wanted)
    if env_id is None:
        raise LockError(
            f"step '{args.step}' is not locked for {wanted} in {lock_path} (it is for {', '.join(sorted(per_platform))})"
        )
    env = lock.environments[env_id]
    spec = lock.specs[args.step][wanted]
    return env, {
        "flow": lock.flow,
        "step": args.step,
        "lockfile": lock_path.name,
        "spec_hash": spec.spec_hash,
    }


def _bake(env: LockedEnv, registry: str, base: str | None) -> str:
    from ..image.bake import BakeOptions, bake
    from ..image.base import default_base_image

    result = bake(
        env,
        base=base or current().base_image or default_base_image(env.python),
        repository=registry,
        options=BakeOptions(
            progress=False,
            env={"BAKERY_ENV_ID": env.env_id, "METAFLOW_SKIP_INSTALL_DEPENDENCIES": "1"},
        ),
    )
    return result.reference


def run_ls(args: argparse.Namespace) -> int:
    answer = call_env("ls", datastore=args.datastore)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    console = make_console()
    if not answer["names"]:
        console.print(f"no named environments in {answer['root']}", highlight=False)
    for entry in answer["names"]:
        aliases = ", ".join(f"{a} -> {v['tag']}" for a, v in sorted(entry["aliases"].items()))
        console.print(
            f"[bold]{entry['name']}[/]  tags: {', '.join(entry['tags'])}"
            + (f"  ({aliases})" if aliases else ""),
            highlight=False,
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    answer = call_env("show", args.ref, datastore=args.datastore)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    console = make_console()
    aliases = ", ".join(
        f"{a} (moved by {v['moved_by']} at {v['moved_at']})" for a, v in answer["aliases"].items()
    )
    console.print(
        f"[bold]{answer['ref']}[/] = tag {answer['tag']}"
        + (f"; aliases: {aliases}" if aliases else ""),
        highlight=False,
    )
    for platform, record in answer["platforms"].items():
        console.print(
            f"\n{platform}: environment {record['env_id'][:12]}, python {record['env']['python']}, "
            f"published by {record['published_by']} at {record['published_at']}"
            + (f"\n  image {record['image']}" if record.get("image") else ""),
            highlight=False,
            soft_wrap=True,
        )
        for package in record["env"]["packages"]:
            console.print(
                f"  {package['name']} {package['version']} ({package['kind']})", highlight=False
            )
    return 0


def run_alias(args: argparse.Namespace) -> int:
    moved = call_env("alias", args.ref, args.alias, datastore=args.datastore)
    name = args.ref.rpartition(":")[0]
    make_console().print(
        f"{name}:{args.alias} -> {moved['tag']} (moved by {moved['moved_by']} at {moved['moved_at']})",
        highlight=False,
    )
    return 0
