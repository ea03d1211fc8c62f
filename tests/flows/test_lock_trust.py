"""A hand-edited lockfile installs nothing; under `on_the_fly = false` nothing is installed at all.

The attack: a package entry (a real wheel, its real sha256) added to a step's environment in
`flow.bakery.lock`, the env id left as it was. Before, the next run installed it and the step
could import it, also frozen and under a policy forbidding on-the-fly environments.
"""

from __future__ import annotations

import json
import sys

import pytest

from bakery.lock import read_lock
from bakery.resolve import resolve
from bakery.spec import EnvSpec, Requirement
from tests.fixtures.flows import assert_clean_failure

pytestmark = [pytest.mark.slow, pytest.mark.network]

PROBE = """
from metaflow import FlowSpec, step

class ProbeFlow(FlowSpec):
    @step
    def start(self):
        import sys
        try:
            import tabulate
            found = tabulate.__file__
        except ImportError:
            found = None
        print("PROBE", found, sys.prefix)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ProbeFlow()
"""

PYTHON_ONLY = """
from metaflow import FlowSpec, pypi, step

class PythonOnlyFlow(FlowSpec):
    @pypi(python="3.8")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PythonOnlyFlow()
"""


def _tabulate_entry() -> dict:
    """The lock entry of a real wheel (tabulate 0.9.0, this Python), as Bakery would write it."""
    python = "%d.%d" % sys.version_info[:2]
    env = resolve(EnvSpec(python=python, pypi=(Requirement("tabulate", "==0.9.0"),)))
    return next(p for p in env.packages if p.name == "tabulate").to_dict()


@pytest.fixture
def edited_flow(flows):
    """probe.py, run once (locked and built), then its start environment given tabulate by hand."""
    flow = flows.write("probe.py", PROBE)
    flows.run(flow).check()
    lock_path = flows.folder / "probe.bakery.lock"
    data = json.loads(lock_path.read_text())
    env_id = data["steps"]["start"]["linux-64"]
    data["environments"][env_id]["packages"].append(_tabulate_entry())
    lock_path.write_text(json.dumps(data, indent=2))
    return flow


def _probe(result) -> list[str]:
    return next(line.split()[-2:] for line in result.output.splitlines() if "PROBE" in line)


def test_a_hand_added_package_is_refused_and_nothing_installed(flows, edited_flow):
    before = flows.cached_envs()
    for env in ({}, {"METAFLOW_BAKERY_FROZEN": "1"}):
        result = flows.run(edited_flow, **env)
        assert_clean_failure(
            flows,
            result,
            "probe.bakery.lock was edited by hand or damaged",
            "Nothing was installed",
            "bakery lock probe.py",
            cached_before=before,
        )


def test_bakery_lock_re_resolves_the_edited_environment(flows, edited_flow):
    result = flows.bakery("lock", edited_flow.name)
    assert result.returncode == 0, result.output
    assert (
        "edited by hand or damaged" in result.output and "re-resolved end, start" in result.output
    )
    lock = read_lock(flows.folder / "probe.bakery.lock")
    assert "tabulate" not in {p.name for env in lock.environments.values() for p in env.packages}
    assert _probe(flows.run(edited_flow).check())[0] == "None"


def test_no_on_the_fly_environments_install_nothing_not_even_datastore_clients(
    flows, edited_flow, tmp_path
):
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\n[dependencies]\non_the_fly = false\n")
    lock_before = (flows.folder / "probe.bakery.lock").read_bytes()
    before = flows.cached_envs()
    result = flows.run(edited_flow, BAKERY_POLICY_FILE=str(policy)).check()
    found, prefix = _probe(result)
    assert found == "None", "a package from the lockfile was installed"
    assert prefix == sys.prefix, "the step ran in an environment Bakery made"
    assert flows.cached_envs() == before
    assert (flows.folder / "probe.bakery.lock").read_bytes() == lock_before


def test_no_on_the_fly_environments_refuse_a_step_that_asks_for_another_python(flows, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\n[dependencies]\non_the_fly = false\n")
    result = flows.run(flows.write("pyonly.py", PYTHON_ONLY), BAKERY_POLICY_FILE=str(policy))
    assert result.returncode != 0 and "Refused by the perimeter policy" in result.output
    assert "@pypi(python='3.8')" in result.output and "Traceback" not in result.output
