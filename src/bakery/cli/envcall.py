"""Running the datastore half of `bakery env` verbs (named environments, past runs) in a
subprocess: `python -m metaflow_extensions.bakery.plugins.env_cli`, which answers with one line
of JSON. The core never imports Metaflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..errors import BakeryError, NamedEnvError


def call_env(*verb: str, datastore: str | None = None) -> dict:
    """The JSON answer of `env_cli VERB...`, or one BakeryError with its message."""
    command = [sys.executable, "-m", "metaflow_extensions.bakery.plugins.env_cli"]
    if datastore:
        command += ["--datastore", datastore]
    env = dict(os.environ)
    if env.get("USER", "root") == "root" and not env.get("METAFLOW_USER"):
        env["METAFLOW_USER"] = "bakery"  # Metaflow refuses root
    done = subprocess.run([*command, *verb], capture_output=True, text=True, env=env)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            answer = json.loads(line)
            if "error" in answer:
                kind = NamedEnvError if answer.get("kind") == "refused" else BakeryError
                raise kind(answer["error"])
            return answer
    message = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    raise BakeryError(
        f"reading the datastore failed: {message}; check that METAFLOW_* settings point at "
        "the datastore the flows use"
    )
