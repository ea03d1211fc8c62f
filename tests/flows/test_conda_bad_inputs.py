"""Bad @conda input: one clear message naming the step, no traceback, nothing built."""

from __future__ import annotations

import pytest

from tests.fixtures.flows import assert_clean_failure, two_step_flow

pytestmark = [pytest.mark.slow]


def _bad_flow(flows, packages: str, channels: list[str]):
    start = f"@conda(packages={packages}, channels={channels!r})"
    source = two_step_flow("BadCondaFlow", start=start, end="@conda(disabled=True)")
    return flows.write("badconda.py", source)


def _run(flows, flow, **env: str):
    return flows.run(flow, environment="conda", CONDA_CHANNELS="", **env)


def test_unknown_conda_package(isolated_flows, conda_channels):
    flow = _bad_flow(isolated_flows, '{"nosuchpkg": ""}', [conda_channels.main])
    result = _run(isolated_flows, flow)
    assert_clean_failure(isolated_flows, result, "step 'start'", "'nosuchpkg'", "was not found")


def test_channel_folder_that_does_not_exist(isolated_flows, tmp_path):
    missing = (tmp_path / "no-such-channel").as_uri()
    flow = _bad_flow(isolated_flows, '{"tinylib": ""}', [missing])
    result = _run(isolated_flows, flow)
    assert_clean_failure(isolated_flows, result, "step 'start'", missing, "cannot be reached")


def test_unreachable_http_channel(isolated_flows, closed_port_url):
    flow = _bad_flow(isolated_flows, '{"tinylib": ""}', [closed_port_url])
    result = _run(isolated_flows, flow)
    assert_clean_failure(
        isolated_flows, result, "step 'start'", closed_port_url, "cannot be reached"
    )


def test_unsatisfiable_conda_versions(isolated_flows, conda_channels):
    # a needs b <2, c needs b >=2
    flow = _bad_flow(isolated_flows, '{"a": "", "c": ""}', [conda_channels.main])
    result = _run(isolated_flows, flow)
    assert_clean_failure(
        isolated_flows, result, "step 'start'", "cannot be resolved", "b", "To fix:"
    )


@pytest.mark.network  # the lock resolves the `requests` Metaflow pins from PyPI
def test_frozen_lock_names_the_changed_conda_pin(isolated_flows, conda_channels):
    flow = _bad_flow(isolated_flows, '{"tinylib": "1.0"}', [conda_channels.main])
    isolated_flows.bakery("lock", flow.name, CONDA_CHANNELS="").check()
    lock_before = (isolated_flows.folder / "badconda.bakery.lock").read_text()

    flow = _bad_flow(isolated_flows, '{"tinylib": "0.9"}', [conda_channels.main])
    result = _run(isolated_flows, flow, METAFLOW_BAKERY_FROZEN="1")
    assert_clean_failure(
        isolated_flows, result, "step 'start'", "frozen", "tinylib ==1.0 -> ==0.9", "bakery lock"
    )
    assert (isolated_flows.folder / "badconda.bakery.lock").read_text() == lock_before
