"""`bakery lock --platform`: conda steps locked for other platforms from this machine."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.flows import two_step_flow

# Metaflow pins `requests` into every conda step: it is resolved from PyPI
pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = two_step_flow(
    "CrossFlow",
    flow='@conda_base(packages={"tinylib": "1.0"})',
    start='@conda(packages={"tinytool": ""})',
)


def _lock(flows) -> dict:
    return json.loads((flows.folder / "cross.bakery.lock").read_text())


def test_cross_platform_locks_keep_the_host_entries(flows, conda_channels):
    flows.write("cross.py", FLOW)
    channels = {"CONDA_CHANNELS": conda_channels.main}
    flows.bakery("lock", "cross.py", **channels).check()
    host = _lock(flows)["steps"]["start"]["linux-64"]

    for platform in ("linux-aarch64", "osx-arm64"):
        flows.bakery("lock", "cross.py", "--platform", platform, **channels).check()
        lock = _lock(flows)
        env = lock["environments"][lock["steps"]["start"][platform]]
        conda = {p["name"]: p for p in env["packages"] if p["kind"] == "conda"}
        assert set(conda) == {"python", "tinylib", "tinytool"}
        assert conda["python"]["record"]["subdir"] == platform
        assert conda["tinylib"]["record"]["subdir"] == "noarch"
        for package in conda.values():
            assert len(package["sha256"]) == 64 and package["channel"].startswith("file://")

    steps = _lock(flows)["steps"]
    assert set(steps["start"]) == {"linux-64", "linux-aarch64", "osx-arm64"}
    assert set(steps["end"]) == {"linux-64", "linux-aarch64", "osx-arm64"}
    assert steps["start"]["linux-64"] == host, "a cross-platform lock changed the host's entry"


def test_package_without_a_build_for_the_platform_names_step_package_and_platform(
    flows, conda_channels
):
    flows.write("cross.py", FLOW.replace('"tinytool": ""', '"nativelib": ""'))
    result = flows.bakery(
        "lock", "cross.py", "--platform", "linux-aarch64", CONDA_CHANNELS=conda_channels.main
    )
    assert result.returncode != 0
    for fragment in ("step 'start'", "'nativelib'", "no build for linux-aarch64", "linux-64"):
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"
    assert "Traceback" not in result.output, result.output
    assert not (flows.folder / "cross.bakery.lock").exists(), "a failed lock wrote a lockfile"
