"""Running a verb's flow-side half: `python flow.py --environment=conda bakery VERB`.

The core never imports Metaflow; reading a flow's decorators happens in the flow's own process,
through the Metaflow extension, which answers with one line of JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import BakeryError


def call_flow(flow_file: str, verb: list[str], environment: str = "conda") -> dict:
    """Run the flow-side command and return its JSON answer, or raise with Metaflow's message."""
    return start_flow(flow_file, verb, environment).result()


class FlowCall:
    """A flow-side command running: `result()` waits for its JSON answer."""

    def __init__(self, proc: subprocess.Popen[str], flow_name: str) -> None:
        self._proc, self._flow_name = proc, flow_name

    def result(self) -> dict:
        stdout, stderr = self._proc.communicate()
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    break
        raise BakeryError(_failure_message(stderr.strip() or stdout.strip(), self._flow_name))

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()


def start_flow(flow_file: str, verb: list[str], environment: str = "conda") -> FlowCall:
    """Start the flow-side command (`result()` to wait for it): the caller can work meanwhile."""
    flow = Path(flow_file)
    if not flow.is_file():
        raise BakeryError(f"flow file '{flow_file}' does not exist")
    cmd = [
        sys.executable,
        flow.name,
        "--quiet",
        "--no-pylint",
        f"--environment={environment}",
        "bakery",
        *verb,
    ]
    env = dict(os.environ)
    if env.get("USER", "root") == "root" and not env.get("METAFLOW_USER"):
        env["METAFLOW_USER"] = "bakery"  # Metaflow refuses root; this run writes no metadata
    proc = subprocess.Popen(
        cmd,
        cwd=flow.parent.resolve(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return FlowCall(proc, flow.name)


def _failure_message(output: str, flow_name: str) -> str:
    """What the flow said, without Metaflow's headlines and indentation, or one line saying
    that it said nothing: never the command we ran, which is ours, not the user's."""
    lines = _without_traceback(output.splitlines())[-40:]
    # Metaflow's own headlines ("Bakery:", "Bakery could not ...:") add nothing to the message
    lines = [line.strip() for line in lines if line.strip() and not _is_headline(line)]
    if not lines:
        return f"{flow_name} stopped without saying why: run it with `python {flow_name} run`"
    return "\n".join(lines)


def _is_headline(line: str) -> bool:
    text = line.strip()
    return text.endswith(":") and text.startswith("Bakery") and "'" not in text


def _without_traceback(lines: list[str]) -> list[str]:
    """A Python traceback cut to its last frame and the exception: the user's error, not ours."""
    try:
        start = max(i for i, line in enumerate(lines) if line.startswith("Traceback (most recent"))
    except ValueError:
        return lines
    frames = [i for i in range(start, len(lines)) if lines[i].lstrip().startswith('File "')]
    if not frames:
        return lines
    last = frames[-1]
    tail = [line.strip() for line in lines[last:] if line.strip()]
    return lines[:start] + tail
