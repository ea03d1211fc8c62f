"""Argument types the verbs share, so a bad value is refused before any work starts."""

from __future__ import annotations

import argparse

from ..errors import SpecError
from ..platforms import TargetPlatform


def platform_argument(value: str) -> str:
    """A `--platform` value, checked against the platform table (kept as written)."""
    try:
        TargetPlatform.parse(value)
    except SpecError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return value


# the Metaflow environments a flow's Bakery half can run under (`uv`: flows written for core's)
FLOW_ENVIRONMENTS = ("conda", "pypi", "uv")


def add_environment_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`--environment conda|pypi|uv`: the Metaflow environment a flow's own process runs under
    when a verb asks it (default conda)."""
    parser.add_argument("--environment", choices=FLOW_ENVIRONMENTS, default="conda", help=help)
