"""`bakery image show REF`: an image's layers, packages, base, environment identity and referrers;
`bakery image sbom REF`: the SBOM attached to it; `bakery image gc`: clean the local image cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..image.bake import default_cache_dir
from ..image.gc import collect_image_garbage
from ..image.inspect import ImageInfo, inspect_image, read_sbom
from ..platforms import REMOTE_PLATFORM, TargetPlatform, supported_platforms
from .arguments import platform_argument
from .console import make_console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("image", help="Inspect baked images.")
    verbs = parser.add_subparsers(dest="image_verb", metavar="COMMAND")
    show = verbs.add_parser(
        "show", help="Layers, packages, base, sizes and referrers (SBOM, provenance) of an image."
    )
    show.add_argument("reference", help="image reference, e.g. 127.0.0.1:5000/team/envs:TAG")
    show.add_argument(
        "--platform",
        default=REMOTE_PLATFORM,
        type=platform_argument,
        help=f"for multi-platform images: one of {', '.join(supported_platforms())} "
        "(default %(default)s)",
    )
    show.add_argument("--json", action="store_true", help="print the report as JSON")
    show.set_defaults(func=run_show)
    sbom = verbs.add_parser("sbom", help="Print the SBOM (CycloneDX JSON) attached to an image.")
    sbom.add_argument("reference", help="image reference, e.g. 127.0.0.1:5000/team/envs:TAG")
    sbom.add_argument(
        "--platform",
        default=REMOTE_PLATFORM,
        type=platform_argument,
        help="for multi-platform images (default %(default)s)",
    )
    sbom.set_defaults(func=run_sbom)
    gc = verbs.add_parser("gc", help="Remove what no bake used lately from the image cache.")
    gc.add_argument(
        "--older-than",
        type=float,
        default=30,
        metavar="DAYS",
        help="remove wheels, bytecode, layers and records unused for DAYS (default %(default)s)",
    )
    gc.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    gc.add_argument("--cache-dir", type=Path, help="image cache (default: BAKERY_CACHE_DIR/image)")
    gc.set_defaults(func=run_gc)


def run_show(args: argparse.Namespace) -> int:
    info = inspect_image(args.reference, platform=TargetPlatform.parse(args.platform))
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        render(info, make_console())
    return 0


def run_sbom(args: argparse.Namespace) -> int:
    body = read_sbom(args.reference, platform=TargetPlatform.parse(args.platform))
    text = body.decode("utf-8", "replace")
    print(text, end="" if text.endswith("\n") else "\n")
    return 0


def run_gc(args: argparse.Namespace) -> int:
    cache_dir = args.cache_dir or default_cache_dir()
    report = collect_image_garbage(cache_dir, max_age_days=args.older_than, dry_run=args.dry_run)
    console = make_console()
    remove, free = ("would remove", "would free") if args.dry_run else ("removed", "freed")
    for kind, path, size in report.paths:
        console.print(f"{remove} {kind}  {path}  {size / 1e6:.1f} MB", highlight=False)
    what = ", ".join(f"{count} {kind}(s)" for kind, count in sorted(report.removed.items()))
    console.print(
        f"{remove} {what or 'nothing'} from {cache_dir}; kept {report.kept}; "
        f"{free} {report.bytes_freed / 1e6:.1f} MB",
        highlight=False,
    )
    return 0


def render(info: ImageInfo, console: Console) -> None:
    """Print `info` as a short header and a table of layers."""
    console.print(f"[bold]{info.reference}[/]", highlight=False)
    rows = [
        ("platform", f"{info.os}/{info.architecture}"),
        ("base", info.base or "-"),
        ("python", info.python or "-"),
        ("env id", info.env_id or "- (not baked by Bakery)"),
        ("lock hash", info.lock_hash or "-"),
        ("size", f"{info.size / 1e6:.1f} MB compressed ({info.base_size / 1e6:.1f} MB base)"),
        ("packages", ", ".join(info.packages) or "-"),
    ]
    for name, value in rows:
        console.print(f"  {name:<10} {value}", highlight=False)
    table = Table(box=None, pad_edge=False)
    for column in ("layer", "size", "contents"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for layer in info.layers:
        contents = ", ".join(layer.packages) or "[dim]base[/]"
        table.add_row(layer.digest[7:19], f"{layer.size / 1e6:.1f} MB", contents)
    console.print(table)
    if not info.referrers:
        console.print("  referrers  - (no SBOM or provenance attached)", highlight=False)
    for referrer in info.referrers:
        console.print(
            f"  referrer   {referrer.artifact_type}  {referrer.digest}",
            highlight=False,
            soft_wrap=True,
        )
