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
