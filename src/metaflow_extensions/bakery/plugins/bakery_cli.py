"""`python flow.py --environment=conda bakery ...`: the flow-side half of the `bakery` CLI.

The `bakery` command (core, no Metaflow) runs these in a subprocess to read a flow's steps;
they print JSON on stdout for it to render.
"""

from __future__ import annotations

import json

from metaflow._vendor import click

from .exceptions import BakeryMetaflowException


class BakeryCliException(BakeryMetaflowException):
    headline = "Bakery"


def _platform_help() -> str:
    try:
        from bakery.platforms import platforms_help
    except ImportError:  # Metaflow loads this in every process; help is read only where it is
        return "Target platform (default: this machine)."
    return platforms_help()


@click.group()
def cli():
    pass


@cli.group(help="Bakery: lock and inspect this flow's step environments.")
@click.pass_obj
def bakery(obj):
    if not hasattr(obj.environment, "step_specs"):
        raise BakeryCliException(
            "run this with --environment=conda, --environment=pypi or --environment=fast-bakery"
        )


@bakery.command(help="Resolve every step's environment and write the lockfile.")
@click.option("--platform", default=None, help=_platform_help())
@click.option("--upgrade", is_flag=True, help="Re-resolve every step, not only changed ones.")
@click.pass_obj
def lock(obj, platform, upgrade):
    from pathlib import Path

    from bakery.errors import BakeryError
    from bakery.lock.update import update_lock
    from bakery.resolve.indexes import IndexConfig
    from bakery.spec import TargetPlatform

    from . import policy_gate

    environment = obj.environment
    # before anything is resolved: locking is how on-the-fly environments start
    policies = policy_gate.load()
    steps = {step.name for step in obj.flow}
    policy_gate.enforce(policies, policy_gate.on_the_fly_requests(obj.flow, steps))
    try:
        target = TargetPlatform.parse(platform) if platform else None
        specs = environment.step_specs(platform=target)
        indexes = IndexConfig.from_environment()
        update = update_lock(
            Path(environment.lock_path()),
            obj.flow.name,
            specs,
            environment.resolver(indexes),
            force=upgrade,
            repair=True,  # entries that fail the lock's self-check are resolved again
        )
    except BakeryError as e:
        raise BakeryCliException(str(e)) from None
    result = {
        "lockfile": environment.lock_path(),
        "resolved_steps": update.resolved_steps,
        "repaired_steps": update.repaired_steps,
        "written": update.written,
        "steps": {s: update.env(s, spec).env_id for s, spec in specs.items()},
    }
    click.echo(json.dumps(result))


@bakery.command(help="Show each step's spec, locked packages and cache state as JSON.")
@click.pass_obj
def show(obj):
    from pathlib import Path

    from bakery.envs.inspect import describe_steps
    from bakery.errors import BakeryError

    environment = obj.environment
    try:
        specs = environment.step_specs()
        order = [name for name in obj.graph.sorted_nodes if name in specs]
        specs = {name: specs[name] for name in order + sorted(set(specs) - set(order))}
        disabled = [name for name in obj.graph.sorted_nodes if name not in specs]
        cache_dir = environment.cache_root()
        report = describe_steps(Path(environment.lock_path()), specs, cache_dir)
    except BakeryError as e:
        raise BakeryCliException(str(e)) from None
    report["disabled_steps"] = disabled
    click.echo(json.dumps(report))
