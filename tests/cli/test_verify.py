"""`bakery verify`: each task's recorded environment and image against the run's lock."""

from __future__ import annotations

import json
import re

import pytest

from bakery.cli.verify import check_tasks
from tests.fixtures.flows import two_step_flow

LOCK = {"steps": {"start": {"linux-64": "a" * 32}, "end": {"linux-64": "b" * 32}}}
BAKED = "127.0.0.1:5000/envs:" + "a" * 20 + "-0123456789ab@sha256:" + "f" * 64


def report(*tasks: dict) -> dict:
    return {"run": "F/1", "lockfile": "f.bakery.lock", "lock": LOCK, "tasks": list(tasks)}


def task(step: str, env_id: str | None, image: str | None = None) -> dict:
    return {"step": step, "task": f"F/1/{step}/1", "env_id": env_id, "image": image}


def verdicts(*tasks: dict) -> list[str]:
    return [c.verdict for c in check_tasks(report(*tasks))]


def test_tasks_that_ran_with_the_locked_environment_match():
    assert verdicts(task("start", "a" * 32, BAKED), task("end", "b" * 32)) == ["match", "match"]


def test_another_environment_or_none_at_all_is_a_mismatch():
    assert verdicts(task("start", "b" * 32), task("end", None)) == ["mismatch", "mismatch"]


def test_an_image_baked_for_another_environment_is_a_mismatch():
    other = BAKED.replace("a" * 20, "c" * 20)
    assert verdicts(task("start", "a" * 32, other)) == ["mismatch"]


def test_a_third_party_image_makes_no_claim_and_steps_without_environments_pass():
    assert verdicts(task("start", "a" * 32, "docker.io/library/python:3.11")) == ["match"]
    assert verdicts(task("other", None)) == ["no environment"]


@pytest.mark.slow
def test_verify_a_local_run(flows):
    flow = flows.write(
        "checked.py", two_step_flow("CheckedFlow", start='@pypi(packages={"six": "1.17.0"})')
    )
    run = flows.run(flow).check()
    run_id = re.search(r"run-id (\d+)", run.output).group(1)
    no_package = flows.bakery("verify", f"CheckedFlow/{run_id}")
    assert no_package.returncode == 1 and "--lock" in no_package.output  # local: no code package
    lockfile = str(flows.folder / "checked.bakery.lock")
    result = flows.bakery("verify", f"CheckedFlow/{run_id}", "--lock", lockfile, "--json")
    assert result.returncode == 0, result.output
    checks = json.loads(result.stdout)
    assert [c["verdict"] for c in checks] == ["match", "match"]
    assert all(len(c["env_id"]) == 32 for c in checks)

    missing = flows.bakery("verify", "CheckedFlow/999")
    assert missing.returncode == 1 and "CheckedFlow/999" in missing.output
    assert "Traceback" not in missing.output
