"""`bakery doctor`: one table to paste into a bug report; exit 1 when flows would fail."""

from __future__ import annotations

import argparse

from rich.table import Table

from ..doctor import failed, run_checks, to_json
from .console import make_console

_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor", help="Check that Metaflow loads Bakery and that what flows need is in place."
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    checks = run_checks()
    if args.json:
        print(to_json(checks))
    else:
        table = Table(box=None, pad_edge=False, show_header=True)
        for column in ("check", "", "detail"):
            table.add_column(column, overflow="fold")
        for check in checks:
            table.add_row(check.name, _STYLE[check.status], check.detail)
        make_console().print(table, highlight=False)
    return 1 if failed(checks) else 0
