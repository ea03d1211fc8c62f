"""The CLI's rich consoles: a terminal's width on a terminal; piped or redirected, never wrapped.

Rich wraps at 80 columns when it cannot ask a terminal, which splits paths, image references and
environment ids across lines in logs and in whatever reads the output.
"""

from __future__ import annotations

from rich.console import Console

_UNWRAPPED_WIDTH = 10_000


def make_console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A console for the CLI's output (stderr for progress and errors)."""
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return Console(stderr=stderr, quiet=quiet)
    return Console(stderr=stderr, quiet=quiet, width=_UNWRAPPED_WIDTH, soft_wrap=True)
