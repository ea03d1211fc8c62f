"""Helpers of scripts/metaflow_tests.sh: prepare a copy of Metaflow's core harness
(test/core) whose contexts run every step under Bakery's environments, and summarize results.

    python scripts/metaflow_harness.py prepare CORE_COPY CACHE_DIR CHANNEL_URL
    python scripts/metaflow_harness.py channel DIR            # the local conda channel
    python scripts/metaflow_harness.py summary RESULTS_DIR    # the table of numbers

Never writes into the Metaflow checkout: `prepare` edits the copy only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Every step asks for one package of the local channel, so each task gets a real conda
# environment (python from the channel, Metaflow's pinned PyPI libs on top), not a plain venv.
CONDA_PACKAGE = "tinylib"

PROBE_TEST = '''
from metaflow_test import MetaflowTest, ExpectationFailed, steps, tag


class BakeryEnvironmentProbeTest(MetaflowTest):
    """
    Every task runs in an environment Bakery built (under METAFLOW_BAKERY_CACHE_DIR), with the
    conda package of the context importable, and the other extension's step decorator
    (@acme_stamp) still works there. Added by Bakery's scripts/metaflow_tests.sh.
    """

    PRIORITY = 0
    SKIP_GRAPHS = [
        "simple_switch",
        "nested_switch",
        "branch_in_switch",
        "foreach_in_switch",
        "switch_in_branch",
        "switch_in_foreach",
        "recursive_switch",
        "recursive_switch_inside_foreach",
    ]

    @tag('acme_stamp(value="stamped")')
    @steps(0, ["all"])
    def step_all(self):
        import importlib
        import os
        import sys

        cache = os.path.realpath(os.environ["METAFLOW_BAKERY_CACHE_DIR"])
        prefix = os.path.realpath(sys.prefix)
        assert prefix.startswith(cache + os.sep), (prefix, cache)
        if os.environ.get("BAKERY_PROBE_CONDA_PACKAGE"):
            importlib.import_module(os.environ["BAKERY_PROBE_CONDA_PACKAGE"])

    def check_results(self, flow, checker):
        for step in flow:
            checker.assert_artifact(step.name, "acme_stamp", "stamped")
'''

# Metaflow 2.19.38's run_tests.py assigns `run` in its scheduler branch, which makes `run` (the
# imported click command) a local of run_test: every `api` executor case then dies with
# "NameError: cannot access free variable 'run'", with or without Bakery. Renamed in the copy.
RUN_SHADOWING = (
    ("run = Flow(formatter.flow_name", "scheduled_run = Flow(formatter.flow_name"),
    ("if run.finished:", "if scheduled_run.finished:"),
    ("run_succeeded = run.successful", "run_succeeded = scheduled_run.successful"),
)


def _derive(base: dict, name: str, environment: str, env: dict, extra_top=()) -> dict:
    context = json.loads(json.dumps(base))
    context["name"] = name
    context["top_options"] = [
        f"--environment={environment}" if option.startswith("--environment=") else option
        for option in context["top_options"]
    ] + list(extra_top)
    context["env"].update(env)
    return context


def prepare(core: Path, cache_dir: str, channel_url: str) -> None:
    """Add the `bakery-pypi` and `bakery-conda` contexts and the probe test to a harness copy."""
    runner = core / "run_tests.py"
    text = runner.read_text()
    for old, new in RUN_SHADOWING:
        text = text.replace(old, new)
    runner.write_text(text)
    (core / "tests" / "bakery_environment_probe.py").write_text(PROBE_TEST)

    contexts_file = core / "contexts.json"
    contexts = json.loads(contexts_file.read_text())
    local = next(c for c in contexts["contexts"] if c["name"] == "python3-all-local")
    local.setdefault("disabled_tests", []).append("BakeryEnvironmentProbeTest")
    # the harness passes tasks only the context's env: the CA bundle of a TLS-inspecting proxy
    # and Bakery's cache must be named there
    common = {"METAFLOW_BAKERY_CACHE_DIR": cache_dir}
    for name in ("SSL_CERT_FILE", "PIP_CERT"):
        value = _environ(name)
        if value:
            common[name] = value
    pypi = _derive(local, "bakery-pypi", "pypi", common)
    conda = _derive(
        local,
        "bakery-conda",
        "conda",
        {**common, "CONDA_CHANNELS": channel_url, "BAKERY_PROBE_CONDA_PACKAGE": CONDA_PACKAGE},
        [f'--with=conda:packages={{"{CONDA_PACKAGE}": "1.0"}}'],
    )
    for context in (pypi, conda):
        context["disabled_tests"].remove("BakeryEnvironmentProbeTest")
    # the api executor drives the same CLI through the Runner: bakery-pypi covers it, and
    # leaving it out halves the conda context's time
    conda["executors"] = ["cli"]
    contexts["contexts"] += [pypi, conda]
    contexts_file.write_text(json.dumps(contexts, indent=2))


def _environ(name: str) -> str | None:
    import os

    return os.environ.get(name)


def channel(folder: Path) -> None:
    """Build the conda channel Bakery's own tests use (python wrapping this interpreter,
    tinylib, ...) and print its main channel's URL."""
    sys.path.insert(0, str(REPO))
    from tests.fixtures.condabuild import build_test_channel

    main, _extra = build_test_channel(folder)
    print(main.as_uri())


def _pytest_counts(text: str) -> dict:
    tail = next((line for line in reversed(text.splitlines()) if " in " in line), "")
    counts = dict.fromkeys(("passed", "failed", "skipped", "errors"), 0)
    for number, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", tail):
        counts["errors" if word.startswith("error") else word] = int(number)
    return counts


def _harness_counts(text: str) -> dict:
    return {
        "passed": len(re.findall(r"success \[using", text)),
        "failed": len(re.findall(r"\bfailed \[using", text)),
        "skipped": 0,
        "errors": 0,
    }


def summary(results: Path) -> None:
    """One line per result file: part, venv, passed/failed/skipped/errors."""
    print(f"{'part':<34} {'passed':>7} {'failed':>7} {'skipped':>8} {'errors':>7}")
    for path in sorted(results.glob("*.log")):
        text = path.read_text(errors="replace")
        counts = _harness_counts(text) if path.name.startswith("core-") else _pytest_counts(text)
        print(
            f"{path.stem:<34} {counts['passed']:>7} {counts['failed']:>7} "
            f"{counts['skipped']:>8} {counts['errors']:>7}"
        )
        for failed in re.findall(r"^(?:FAILED|ERROR) (\S+)", text, re.M):
            print(f"    {failed}")
        for failed in re.findall(
            r"### (test '.*) in context (\S+) \[using (\w+) executor\] ###$", text, re.M
        ):
            print(f"    failed: {failed[0]} [{failed[2]}]")


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "prepare":
        prepare(Path(args[0]), args[1], args[2])
    elif command == "channel":
        channel(Path(args[0]))
    elif command == "summary":
        summary(Path(args[0]))
    else:
        raise SystemExit(f"unknown command {command!r}: use prepare, channel or summary")


if __name__ == "__main__":
    main(sys.argv[1:])
