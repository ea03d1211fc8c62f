"""`bakery env verify [FLOW]` on a real flow's environment: a modified file, a file nobody put
there, and a run afterwards, which rebuilds the environment before using it."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = """
from metaflow import FlowSpec, pypi, step

class VerifyFlow(FlowSpec):
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        import six
        assert not hasattr(six, "POISONED"), "ran with an edited six"
        self.next(self.end)

    @pypi(disabled=True)
    @step
    def end(self):
        pass

if __name__ == "__main__":
    VerifyFlow()
"""


def test_verify_names_a_modified_and_an_unexpected_file_then_a_run_rebuilds(isolated_flows):
    flows = isolated_flows
    flow = flows.write("verify_flow.py", FLOW)
    flows.run(flow).check()
    ok = flows.bakery("env", "verify", flow.name)
    assert ok.returncode == 0, ok.output
    assert "(steps start)" in ok.stdout and ": ok, " in ok.stdout

    (env,) = json.loads(flows.bakery("env", "verify", "--json").check().stdout)["environments"]
    site = next(p for p in (flows.cache_dir / "envs").glob("*/lib/python*/site-packages"))
    six = site / "six.py"
    os.chmod(six, 0o644)  # read-only since its build; only root could write it as it is
    with six.open("a") as handle:
        handle.write("\nPOISONED = True\n")
    (site / "evil.pth").write_text("import os\n")

    bad = flows.bakery("env", "verify", flow.name)
    assert bad.returncode == 1
    assert "DIFFERS" in bad.stdout and "six 1.17.0: modified" in bad.stdout
    assert f"modified: {six.relative_to(env['path'])} (six 1.17.0)" in bad.stdout
    assert f"unexpected: {(site / 'evil.pth').relative_to(env['path'])}" in bad.stdout
    report = json.loads(flows.bakery("env", "verify", "--json").stdout)
    assert not report["ok"] and {f["state"] for f in report["environments"][0]["findings"]} == {
        "modified",
        "unexpected",
    }

    flows.run(flow).check()  # the edited environment is rebuilt, not run
    assert flows.bakery("env", "verify", flow.name).returncode == 0


def test_verify_refuses_a_hand_edited_lockfile(isolated_flows):
    flows = isolated_flows
    flow = flows.write("verify_flow.py", FLOW)
    flows.run(flow).check()
    lock_path = flows.folder / "verify_flow.bakery.lock"
    lock = json.loads(lock_path.read_text())
    (env,) = lock["environments"].values()
    env["packages"][0]["version"] = "1.16.0"
    lock_path.write_text(json.dumps(lock))

    result = flows.bakery("env", "verify", flow.name)
    assert result.returncode == 1
    assert "edited by hand or damaged" in result.output and "Traceback" not in result.output
