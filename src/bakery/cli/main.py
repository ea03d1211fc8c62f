"""The `bakery` command: one module per verb, each exposing `add_parser(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.markup import escape

from .. import __version__
from ..errors import BakeryError
from ..settings import Settings, use
from .console import make_console

# verb modules, in the order `bakery --help` lists them
VERBS = ["lock", "env", "bake", "image", "verify", "policy", "doctor"]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; with `only`, just that verb's (its module alone is imported: a
    `bakery bake` does not pay for the imports of `doctor` or `policy export`)."""
    parser = argparse.ArgumentParser(
        prog="bakery",
        description="Dependency environments and OCI images, baked on the fly, for Metaflow flows.",
    )
    parser.add_argument("--version", action="version", version=f"bakery {__version__}")
    subparsers = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for verb in VERBS:
        if only is not None and verb != only:
            continue
        try:
            module = importlib.import_module(f".{verb}", __package__)
        except ModuleNotFoundError as e:
            if e.name == f"{__package__}.{verb}":
                continue  # verb not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words and words[0] in VERBS else None)
    args, extra = parser.parse_known_args(argv)
    # verbs whose positionals may follow their options (`env publish flow.py --step s NAME:TAG`)
    if extra and hasattr(args, "targets") and not any(e.startswith("-") for e in extra):
        args.targets = [*args.targets, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        use(Settings.load())  # once, as a flow reads them (bakery.settings)
        return int(args.func(args) or 0)
    except BakeryError as e:
        # escaped: messages quote TOML sections such as [images], which rich reads as markup
        make_console(stderr=True).print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
