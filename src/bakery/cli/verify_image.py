"""`bakery verify --image REF [--lock FILE]`: every file of a baked image against its lock.

The image names the environment it was baked from (its `dev.bakery.env-id` label); the lock
says what that environment installs (see `bakery.image.verify` for exactly what is checked).
Exit status 1 on any modified, missing or unexpected file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from ..errors import LockError
from ..image.bake import default_cache_dir
from ..image.verify import ImageReport, open_image, verify_image
from ..lock import Lockfile, read_lock
from ..registry import RegistryClient
from ..registry.reference import ImageReference
from .console import make_console

_SHOWN = 20  # paths listed per package and kind before "... and N more"


def run_image(args: argparse.Namespace) -> int:
    ref = ImageReference.parse(args.image)
    with RegistryClient(ref.registry) as client:
        image = open_image(client, args.image)
        if not image.env_id:
            raise LockError(
                f"{image.reference} has no dev.bakery.env-id label: it was not baked by Bakery, "
                "so no lock says what it holds"
            )
        lock_path, lock = find_lock(args.lock, image.env_id)
        report = verify_image(
            client, image, lock.environments[image.env_id], args.cache_dir or default_cache_dir()
        )
    if args.json:
        print(json.dumps({**report.to_dict(), "lockfile": str(lock_path)}, indent=2))
    else:
        render(report, lock_path, make_console())
    return 0 if report.ok else 1


def find_lock(given: Path | None, env_id: str) -> tuple[Path, Lockfile]:
    """The lockfile `given`, else the one `*.bakery.lock` here that holds `env_id`."""
    candidates = [given] if given else sorted(Path.cwd().glob("*.bakery.lock"))
    holding = []
    for path in candidates:
        lock = read_lock(path)
        if lock is None and given:
            raise LockError(f"no lockfile at {path}: name the lockfile the image was baked from")
        if lock is not None and env_id in lock.environments:
            holding.append((path, lock))
    if len(holding) == 1:
        return holding[0]
    if given:
        raise LockError(
            f"{given} does not hold environment {env_id}, which the image was baked from: name "
            "the lockfile it was baked from (an older commit's, if the lock changed since)"
        )
    if holding:
        names = ", ".join(str(path) for path, _ in holding)
        raise LockError(
            f"several lockfiles here hold environment {env_id} ({names}): name one with --lock FILE"
        )
    raise LockError(
        f"no *.bakery.lock in {Path.cwd()} holds environment {env_id}, which the image was baked "
        "from: name the lockfile it was baked from with --lock FILE"
    )


def render(report: ImageReport, lock_path: Path, console: Console) -> None:
    console.print(f"[bold]{report.reference}[/]", highlight=False, soft_wrap=True)
    console.print(f"  against environment {report.env_id[:12]} of {lock_path}", highlight=False)
    for package in report.packages:
        label, color = ("ok", "green") if package.ok else ("MISMATCH", "red")
        state = f"[{color}]{label}[/]" + " " * (10 - len(label))
        counts = f"{package.matching} file(s) match"
        if package.modified:
            counts += f", {len(package.modified)} modified"
        if package.missing:
            counts += f", {len(package.missing)} missing"
        console.print(f"  {state} {package.package}: {counts}", highlight=False)
        _paths(console, "modified", [f"{path}: {why}" for path, why in package.modified])
        _paths(console, "missing", package.missing)
    if report.unexpected:
        console.print(
            f"  [red]UNEXPECTED[/] {len(report.unexpected)} file(s) no package accounts for",
            highlight=False,
        )
        _paths(console, "unexpected", report.unexpected)
    for note in report.notes:
        console.print(f"  [yellow]note:[/] {note}", highlight=False)
    if report.ok:
        console.print("[green]every file matches the lock[/]", highlight=False)
    else:
        console.print("[red]the image does not match the lock[/]", highlight=False)


def _paths(console: Console, kind: str, paths: list[str]) -> None:
    for path in paths[:_SHOWN]:
        console.print(f"      {kind} {path}", highlight=False, soft_wrap=True)
    if len(paths) > _SHOWN:
        console.print(f"      ... and {len(paths) - _SHOWN} more {kind}", highlight=False)
