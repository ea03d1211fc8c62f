"""`bakery VERB` imports only what VERB needs before it starts work: a bake starts the flow's
lock first and loads the image modules while the flow's process runs."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from bakery.cli.main import build_parser
parser = build_parser({only!r})
print(sorted(m for m in ("bakery.image.bake", "bakery.doctor", "bakery.image.inspect") if m in sys.modules))
"""


def loaded_after_parsing(only: str | None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(only=only)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_bake_parses_without_loading_the_image_modules():
    assert loaded_after_parsing("bake") == "[]"


def test_the_whole_command_still_lists_every_verb():
    from bakery.cli.main import VERBS, build_parser

    help_text = build_parser().format_help()
    assert all(verb in help_text for verb in VERBS)
