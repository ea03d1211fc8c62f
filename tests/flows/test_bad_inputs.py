"""Every bad input gives one clear error naming the step and what to do, and builds nothing."""

from __future__ import annotations

import pytest

from tests.fixtures.flows import assert_clean_failure, two_step_flow

pytestmark = [pytest.mark.slow]


def _bad_flow(flows, packages: str, python: str = "None"):
    start = f"@pypi(packages={packages}, python={python})"
    return flows.write("bad.py", two_step_flow("BadFlow", start=start))


@pytest.mark.network
def test_unknown_package(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"definitely-not-a-package-zz9": "1.0"}')
    result = isolated_flows.run(flow)
    assert_clean_failure(
        isolated_flows, result, "step 'start'", "definitely-not-a-package-zz9", "was not found"
    )


@pytest.mark.network
def test_unsatisfiable_versions(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"requests": "2.32.3", "urllib3": "<1.0"}')
    result = isolated_flows.run(flow)
    assert_clean_failure(
        isolated_flows, result, "step 'start'", "urllib3", "cannot be installed together"
    )


def test_malformed_version_spec(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"tabulate": "==>1"}')
    result = isolated_flows.run(flow)
    assert_clean_failure(
        isolated_flows, result, "step 'start'", "tabulate", "not a valid requirement"
    )


def test_unknown_python_version(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"tabulate": "0.9.0"}', python='"2.7"')
    result = isolated_flows.run(flow)
    assert_clean_failure(
        isolated_flows, result, "step 'start'", "no Python 2.7 found", "BAKERY_PYTHONS"
    )


def test_malformed_python_version(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"tabulate": "0.9.0"}', python='"three"')
    result = isolated_flows.run(flow)
    assert_clean_failure(isolated_flows, result, "step 'start'", "python='three'")


def test_unreachable_index(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"tabulate": "0.9.0"}')
    result = isolated_flows.run(
        flow,
        PIP_INDEX_URL="http://user:s3cret@127.0.0.1:9/simple",
        PIP_EXTRA_INDEX_URL="",
        PIP_CONFIG_FILE="/dev/null",
        UV_HTTP_RETRIES="0",
    )
    assert_clean_failure(isolated_flows, result, "step '", "cannot reach the package index")
    assert "s3cret" not in result.output, "credentials leaked into the error"
