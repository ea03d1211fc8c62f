"""Real flows with @conda / @conda_base against the test channel (file:// and HTTP)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow]

MIXED = """
from metaflow import FlowSpec, conda, conda_base, pypi, step

@conda_base(libraries={"tinylib": "0.9"})
class MixedFlow(FlowSpec):
    @step
    def start(self):
        import sys, tinylib
        assert tinylib.VERSION == "0.9", tinylib.VERSION
        self.prefix = sys.prefix
        self.next(self.mixed)

    @conda(packages={"tinylib": "1.0", "tinytool": ""})
    @pypi(packages={"six": "1.17.0"})
    @step
    def mixed(self):
        import shutil, subprocess, six, tinylib
        assert tinylib.VERSION == "1.0", tinylib.VERSION
        assert six.__version__ == "1.17.0"
        out = subprocess.run(["tinytool"], capture_output=True, text=True)
        self.tool = out.stdout.strip()
        self.next(self.end)

    @conda(disabled=True)
    @step
    def end(self):
        print("TOOL SAID", self.tool)

if __name__ == "__main__":
    MixedFlow()
"""


@pytest.mark.compat
def test_conda_and_pypi_packages_mix_in_one_step(flows, conda_channels):
    flow = flows.write("mixed.py", MIXED)
    result = flows.run(flow, environment="conda", CONDA_CHANNELS=conda_channels.main).check()
    assert "TOOL SAID" in result.output
    lock = json.loads((flows.folder / "mixed.bakery.lock").read_text())
    mixed = lock["environments"][lock["steps"]["mixed"]["linux-64"]]
    kinds = {p["name"]: p["kind"] for p in mixed["packages"]}
    assert kinds["tinylib"] == "conda" and kinds["python"] == "conda" and kinds["six"] == "pypi"
    assert all(p["sha256"] for p in mixed["packages"])


def test_conda_flow_over_an_http_channel(flows, conda_http_channels):
    flow = flows.write("mixed.py", MIXED)
    flows.run(flow, environment="conda", CONDA_CHANNELS=conda_http_channels.main).check()


def test_channel_prefix_syntax_pins_a_package_to_a_channel(isolated_flows, conda_channels):
    source = MIXED.replace('"tinylib": "1.0", "tinytool": ""', '"extra::tinylib": "2.0"')
    source = source.replace('tinylib.VERSION == "1.0"', 'tinylib.VERSION == "2.0-extra"')
    source = source.replace(
        'out = subprocess.run(["tinytool"], capture_output=True, text=True)',
        'out = subprocess.CompletedProcess([], 0, "ok", "")',
    )
    source = source.replace("@conda_base(", f'@conda_base(channels=["{conda_channels.main}"], ')
    source = source.replace('"extra::tinylib"', f'"{conda_channels.extra}::tinylib"')
    flow = isolated_flows.write("prefixed.py", source)
    isolated_flows.run(flow, environment="conda").check()
