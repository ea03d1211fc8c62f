"""`bakery lock --platform P` on a real flow, from this machine, for every supported platform."""

from __future__ import annotations

import json

import pytest

from bakery.platforms import supported_platforms

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = """
from metaflow import FlowSpec, pypi, step

class PlatformsFlow(FlowSpec):
    @pypi(packages={"psutil": "6.1.0"}, python="3.11")
    @step
    def start(self):
        self.next(self.end)

    @pypi(disabled=True)
    @step
    def end(self):
        pass

if __name__ == "__main__":
    PlatformsFlow()
"""

# the platform tag of psutil 6.1.0's wheel each platform gets (cp36-abi3 wheels)
PSUTIL_TAG = {
    "linux-64": "manylinux_2_17_x86_64",
    "linux-aarch64": "manylinux_2_17_aarch64",
    "osx-64": "macosx_10_9_x86_64",
    "osx-arm64": "macosx_11_0_arm64",
}


def test_one_flow_locks_for_every_supported_platform(isolated_flows):
    flows = isolated_flows
    flow = flows.write("platforms_flow.py", FLOW)
    for platform in supported_platforms():
        flows.bakery("lock", str(flow), "--platform", platform).check()
    lock = json.loads((flows.folder / "platforms_flow.bakery.lock").read_text())

    assert set(lock["steps"]["start"]) == set(PSUTIL_TAG)
    for platform, tag in PSUTIL_TAG.items():
        env = lock["environments"][lock["steps"]["start"][platform]]
        assert env["platform"] == platform
        psutil = next(p for p in env["packages"] if p["name"] == "psutil")
        assert tag in psutil["filename"], (platform, psutil["filename"])


def test_lock_for_windows_is_refused_with_the_supported_platforms(isolated_flows):
    flow = isolated_flows.write("platforms_flow.py", FLOW)
    result = isolated_flows.bakery("lock", str(flow), "--platform", "win-64")
    assert result.returncode == 2
    assert "platform 'win-64' is not supported" in result.stderr
    assert "linux-64, linux-aarch64, osx-64, osx-arm64" in result.stderr
    assert not (isolated_flows.folder / "platforms_flow.bakery.lock").exists()
