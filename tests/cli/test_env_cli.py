"""`bakery lock`, `bakery env show` and `bakery env gc` on a real flow."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = """
from metaflow import FlowSpec, pypi, step

class CliFlow(FlowSpec):
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        self.next(self.end)

    @pypi(disabled=True)
    @step
    def end(self):
        pass

if __name__ == "__main__":
    CliFlow()
"""


def test_lock_then_show_then_gc(isolated_flows):
    flows = isolated_flows
    flow = flows.write("cli_flow.py", FLOW)

    locked = flows.bakery("lock", str(flow))
    assert locked.returncode == 0, locked.output
    lock = json.loads((flows.folder / "cli_flow.bakery.lock").read_text())
    assert set(lock["steps"]) == {"start"}
    (env,) = lock["environments"].values()
    six = next(p for p in env["packages"] if p["name"] == "six")
    assert six["version"] == "1.17.0" and len(six["sha256"]) == 64 and six["url"]

    shown = json.loads(flows.bakery("env", "show", str(flow), "--json").check().stdout)
    assert shown["steps"]["start"]["locked"] and not shown["steps"]["start"]["cached"]
    assert shown["disabled_steps"] == ["end"]

    flows.run(flow).check()
    shown = json.loads(flows.bakery("env", "show", str(flow), "--json").check().stdout)
    entry = shown["steps"]["start"]
    assert entry["cached"] and entry["size"] > 0 and entry["cache_path"]

    table = flows.bakery("env", "show", str(flow)).check().stdout
    assert "six" in table and "cached" in table

    kept = flows.bakery("env", "gc").check().stdout
    assert "removed 0 environment(s), kept 1" in kept

    (flows.folder / "cli_flow.bakery.lock").unlink()
    freed = flows.bakery("env", "gc").check().stdout
    assert "removed 1 environment(s)" in freed and "freed" in freed
    assert not any((flows.cache_dir / "envs").iterdir())


def test_lock_for_another_platform_keeps_this_platforms_entries(isolated_flows):
    flows = isolated_flows
    flow = flows.write("cli_flow.py", FLOW)
    flows.bakery("lock", str(flow)).check()
    flows.bakery("lock", str(flow), "--platform", "linux-aarch64").check()
    lock = json.loads((flows.folder / "cli_flow.bakery.lock").read_text())
    assert set(lock["steps"]["start"]) == {"linux-64", "linux-aarch64"}
    arm = lock["environments"][lock["steps"]["start"]["linux-aarch64"]]
    assert arm["platform"] == "linux-aarch64"
    assert lock["specs"]["start"]["linux-aarch64"]["platform"] == "linux-aarch64"


def test_cli_errors_are_one_line_without_traceback(isolated_flows):
    result = isolated_flows.bakery("lock", "no_such_flow.py")
    assert result.returncode == 1
    assert "no_such_flow.py" in result.stderr and "Traceback" not in result.stderr


GRAPH_FLOW = """
from metaflow import FlowSpec, pypi, step


class OrderFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.zeta)

    @pypi(packages={"six": "1.17.0"})
    @step
    def zeta(self):
        self.next(self.alpha)

    @pypi(packages={"six": "1.17.0"})
    @step
    def alpha(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OrderFlow()
"""


def test_env_show_lists_steps_in_graph_order_one_id_per_environment(isolated_flows):
    flows = isolated_flows
    flow = flows.write("order_flow.py", GRAPH_FLOW)
    flows.run(flow).check()
    shown = json.loads(flows.bakery("env", "show", str(flow), "--json").check().stdout)
    assert list(shown["steps"]) == ["start", "zeta", "alpha", "end"]
    env_id = shown["steps"]["zeta"]["env_id"]
    text = flows.bakery("env", "show", str(flow)).check().stdout
    assert f"env {env_id[:12]}" in text and "steps: zeta, alpha" in text
    assert "steps: start, end" in text
    assert text.count("env ") == 2, text  # steps sharing an environment show it once
    # piped, nothing is wrapped: the cache path (longer than 80 columns here) stays whole
    path = shown["steps"]["zeta"]["cache_path"]
    assert len(f"cached at {path}") > 80 and f"cached at {path}" in text


def test_env_gc_dry_run_lists_what_it_would_remove(isolated_flows):
    flows = isolated_flows
    flow = flows.write("cli_flow.py", FLOW)
    flows.run(flow).check()
    (entry,) = [p for p in (flows.cache_dir / "envs").iterdir() if not p.name.startswith(".")]
    (flows.folder / "cli_flow.bakery.lock").unlink()
    dry = flows.bakery("env", "gc", "--dry-run", COLUMNS="40").check().stdout
    assert "would remove env " in dry and str(entry) in dry
    assert "would remove 1 environment(s), kept 0; would free" in dry
    assert entry.exists()


def test_flows_and_the_cli_read_the_cache_dir_from_the_same_profile(isolated_flows, tmp_path):
    """A Metaflow profile's METAFLOW_BAKERY_CACHE_DIR beats the short BAKERY_CACHE_DIR, for a run
    and for every `bakery` verb alike."""
    flows = isolated_flows
    home = tmp_path / "mfhome"
    home.mkdir()
    profile_cache = tmp_path / "profile-cache"
    (home / "config_team.json").write_text(
        json.dumps({"METAFLOW_BAKERY_CACHE_DIR": str(profile_cache)})
    )
    env = {"METAFLOW_HOME": str(home), "METAFLOW_PROFILE": "team"}
    flow = flows.write("cli_flow.py", FLOW)
    flows.run(flow, **env).check()
    assert (profile_cache / "envs").is_dir() and not (flows.cache_dir / "envs").exists()
    shown = json.loads(flows.bakery("env", "show", str(flow), "--json", **env).check().stdout)
    assert shown["steps"]["start"]["cached"]
    assert shown["steps"]["start"]["cache_path"].startswith(str(profile_cache))
    (flows.folder / "cli_flow.bakery.lock").unlink()
    dry = flows.bakery("env", "gc", "--dry-run", **env).check().stdout
    assert str(profile_cache) in dry and "would remove 1 environment(s)" in dry
