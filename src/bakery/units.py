"""Sizes for humans, the same way in every command's output."""

from __future__ import annotations


def human_size(n: float | None) -> str:
    """`2.0 MB` style (binary multiples, as `du -h`); "-" for an unknown size."""
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
