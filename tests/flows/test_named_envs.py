"""Named environments: published by one flow, used by another on a second cache (built from the
snapshot with the package index unreachable), immutable tags, moving aliases, policy prefixes."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.flows import FlowRunner, assert_clean_failure, two_step_flow
from tests.fixtures.remote import OFFLINE

pytestmark = [pytest.mark.slow, pytest.mark.network]

PUBLISHER = two_step_flow(
    "ToolsFlow",
    flow='@pypi_base(requirements="requirements.txt")',
    end='@pypi(packages={"six": "1.16.0"})',
)

CONSUMER = """
from metaflow import FlowSpec, pypi, step

class ConsumerFlow(FlowSpec):
    @pypi(named_env="team/tools:stable")
    @step
    def start(self):
        import six, tabulate
        print("named", six.__version__, tabulate.__version__)
        self.next(self.end)

    @pypi(named_env="team/tools:2024-11")
    @step
    def end(self):
        pass

if __name__ == "__main__":
    ConsumerFlow()
"""


@pytest.fixture
def publisher(flows):
    (flows.folder / "requirements.txt").write_text("six==1.17.0\ntabulate==0.9.0\n")
    flows.write("tools.py", PUBLISHER)
    return flows


def second_machine(flows, tmp_path) -> FlowRunner:
    """Another folder and another (empty) cache, on the same datastore."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b-cache").mkdir()
    other = FlowRunner(tmp_path / "b", tmp_path / "b-cache")
    other.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = flows.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]
    return other


def test_published_by_one_flow_used_by_another_on_a_second_cache_offline(publisher, tmp_path):
    first = publisher.bakery("env", "publish", "tools.py", "--step", "start", "team/tools:2024-11")
    assert "team/tools:2024-11 (linux-64) published" in first.check().output
    again = publisher.bakery("env", "publish", "tools.py", "--step", "start", "team/tools:2024-11")
    assert "already published (unchanged)" in again.check().output
    publisher.bakery("env", "alias", "team/tools:2024-11", "stable").check()

    other = second_machine(publisher, tmp_path)
    offline = {**OFFLINE, "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache")}
    run = other.run(other.write("consumer.py", CONSUMER), **offline).check()
    assert "named 1.17.0 0.9.0" in run.output
    assert "from its snapshot" in run.output
    lock = json.loads((other.folder / "consumer.bakery.lock").read_text())
    named = lock["specs"]["start"]["linux-64"]["named"]
    assert named["name"] == "team/tools" and named["tag"] == "stable"
    assert lock["steps"]["start"] == lock["steps"]["end"]  # the alias and the tag: one env


def test_tags_are_immutable_aliases_move_and_record_who(publisher):
    publisher.bakery("env", "publish", "tools.py", "--step", "start", "team/tools:v1").check()
    other = publisher.bakery("env", "publish", "tools.py", "--step", "end", "team/tools:v1")
    assert other.returncode == 1 and "tags never change" in other.output
    alias = publisher.bakery("env", "publish", "tools.py", "--step", "end", "team/tools:stable")
    assert alias.returncode == 1 and "is an alias" in alias.output

    publisher.bakery("env", "publish", "tools.py", "--step", "end", "team/tools:v2").check()
    publisher.bakery("env", "alias", "team/tools:v1", "stable").check()
    listed = json.loads(publisher.bakery("env", "ls", "--json").check().stdout)
    (entry,) = [e for e in listed["names"] if e["name"] == "team/tools"]
    assert {"v1", "v2"} <= set(entry["tags"])
    assert entry["aliases"]["latest"]["tag"] == "v2" and entry["aliases"]["stable"]["tag"] == "v1"
    assert entry["aliases"]["stable"]["moved_by"] == "dev"
    shown = json.loads(
        publisher.bakery("env", "show", "team/tools:latest", "--json").check().stdout
    )
    record = shown["platforms"]["linux-64"]
    assert shown["tag"] == "v2" and record["source"]["step"] == "end"
    assert {p["name"]: p["version"] for p in record["env"]["packages"]}["six"] == "1.16.0"
    missing = publisher.bakery("env", "show", "team/tools:v9")
    assert missing.returncode == 1 and "has tags" in missing.output and "v1" in missing.output


def test_a_policy_accepts_named_environments_only_from_its_prefixes(publisher, tmp_path):
    publisher.bakery("env", "publish", "tools.py", "--step", "start", "team/tools:2024-11").check()
    publisher.bakery("env", "alias", "team/tools:2024-11", "stable").check()
    policy = tmp_path / "policy.toml"
    policy.write_text('version = 1\n[dependencies]\non_the_fly = false\nnamed_prefixes = ["ml/"]\n')
    other = second_machine(publisher, tmp_path)
    flow = other.write("consumer.py", CONSUMER)
    refused = other.run(flow, BAKERY_POLICY_FILE=str(policy))
    assert refused.returncode != 0 and "Refused by the perimeter policy" in refused.output
    assert "named environment 'team/tools'" in refused.output and "ml/" in refused.output
    policy.write_text(
        'version = 1\n[dependencies]\non_the_fly = false\nnamed_prefixes = ["team/"]\n'
    )
    other.run(flow, BAKERY_POLICY_FILE=str(policy)).check()


def test_an_unknown_named_environment_stops_the_run_naming_the_step(flows):
    flow = flows.write(
        "unknown.py", two_step_flow("UnknownFlow", start='@pypi(named_env="nobody/here:1")')
    )
    before = flows.cached_envs()
    result = flows.run(flow)
    assert_clean_failure(
        flows, result, "step 'start'", "no named environment 'nobody/here'", cached_before=before
    )
