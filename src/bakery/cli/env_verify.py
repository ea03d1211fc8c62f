"""`bakery env verify [FLOW]`: every file of the cached environments against its package records.

Per environment and package: ok, modified or missing; files no package and no build put there
are unexpected. Exits 1 when anything differs. Bytecode (`__pycache__/*.pyc`) is compared with
the hashes its compile recorded after the build; a `.pyc` of no known source is unexpected.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..envs.cache import EnvCache
from ..envs.verify import Verified, VerifyRun, verify_cache, verify_flow
from .console import make_console

_SHOWN_FILES = 20  # per environment; --json has them all


def add_verb(verbs: argparse._SubParsersAction) -> None:
    verify = verbs.add_parser(
        "verify",
        help="Check every file of the cached environments against their packages' records.",
    )
    verify.add_argument("flow", nargs="?", help="only this flow's environments, e.g. flow.py")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--cache-dir", type=Path, help="cache root (default: BAKERY_CACHE_DIR)")
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    cache = EnvCache(args.cache_dir)
    run = verify_flow(Path(args.flow), cache) if args.flow else verify_cache(cache)
    if args.json:
        print(json.dumps(to_json(run), indent=2))
        return 0 if run.ok else 1
    console = make_console()
    for verified in run.checked:
        for line in _lines(verified):
            console.print(line, highlight=False, markup=False)
    for note in run.skipped:
        console.print(f"skipped {note}", highlight=False, markup=False)
    bad = sum(not v.report.ok for v in run.checked)
    console.print(
        f"{len(run.checked)} environment(s) checked, "
        + (f"{bad} differ from what was locked" if bad else "all as locked"),
        highlight=False,
        markup=False,
    )
    return 0 if run.ok else 1


def _lines(verified: Verified) -> list[str]:
    report = verified.report
    steps = f" (steps {', '.join(verified.steps)})" if verified.steps else ""
    head = f"env {verified.env_id[:12]}{steps}  {report.path}"
    if report.unsealed:
        return [
            f"{head}: NOT VERIFIABLE, built by an older Bakery without a seal; "
            "the next run that uses it rebuilds it"
        ]
    if report.ok:
        return [f"{head}: ok, {len(report.packages)} packages, {report.checked} files"]
    lines = [f"{head}: DIFFERS"]
    for owner, state in report.packages.items():
        if state != "ok":
            lines.append(f"  {owner}: {state}")
    for finding in report.findings[:_SHOWN_FILES]:
        owner = f" ({finding.owner})" if finding.owner else ""
        lines.append(f"    {finding.state}: {finding.path}{owner}")
    if len(report.findings) > _SHOWN_FILES:
        lines.append(f"    ... and {len(report.findings) - _SHOWN_FILES} more (--json lists all)")
    lines.append(f"  delete {report.path} and the next run that needs it builds it again")
    return lines


def to_json(run: VerifyRun) -> dict:
    return {
        "ok": run.ok,
        "environments": [
            {
                "env_id": v.env_id,
                "steps": v.steps,
                "path": str(v.report.path),
                "ok": v.report.ok,
                "unsealed": v.report.unsealed,
                "files_checked": v.report.checked,
                "packages": v.report.packages,
                "findings": [
                    {"path": f.path, "package": f.owner, "state": f.state}
                    for f in v.report.findings
                ],
            }
            for v in run.checked
        ],
        "skipped": run.skipped,
    }
