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
def test_conflicting_pins_name_both_and_the_versions_that_fit(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"requests": "2.32.3", "urllib3": "<1.0"}')
    result = isolated_flows.run(flow)
    assert_clean_failure(
        isolated_flows,
        result,
        "step 'start': requests==2.32.3 and urllib3<1.0 cannot be installed together: "
        "requests==2.32.3 needs urllib3>=1.21.1,<3. Versions of urllib3 that requests==2.32.3 "
        "accepts, nearest urllib3<1.0: 1.21.1, 1.22, 1.23; newest ",
        "Change one of these pins",
    )
    assert ".." not in _message(result) and "named above" not in _message(result)


@pytest.mark.network
def test_a_version_that_does_not_exist_lists_the_nearest_ones(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"requests": "0.0.999"}')
    result = isolated_flows.run(flow)
    assert_clean_failure(
        isolated_flows,
        result,
        "step 'start': requests==0.0.999 is not available on ",
        "(nearest: 0.2.0, 0.2.1, 0.2.2; newest ",
        "Pin an available version ('' accepts any version)",
    )
    assert ".." not in _message(result) and "named above" not in _message(result)


def test_malformed_version_spec(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"tabulate": "==>1"}')
    result = isolated_flows.run(flow)
    assert_clean_failure(
        isolated_flows, result, "step 'start'", "tabulate", "not a valid requirement"
    )


def _message(result) -> str:
    """Bakery's message, without Metaflow's own lines ("Validating your flow...")."""
    return result.output.split("Bakery could not prepare the environment:", 1)[1]


def _found_versions(output: str, after: str) -> list[str]:
    listed = output.split(after, 1)[1].split(")")[0].split("\n")[0]
    return [v.strip() for v in listed.split(",")]


def _numeric(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_python_2_names_every_step_that_inherits_it(isolated_flows):
    source = two_step_flow(
        "OldFlow", flow="@pypi_base(python='2.7')", start='@pypi(packages={"tabulate": ""})'
    )
    result = isolated_flows.run(isolated_flows.write("old.py", source))
    assert_clean_failure(
        isolated_flows,
        result,
        "steps 'start' and 'end': @pypi_base(python='2.7'): Python 2 is not supported "
        "(Metaflow and Bakery run on Python 3); ask for a Python 3 version, e.g. one of those "
        "on this machine: ",
    )
    found = _found_versions(result.output, "one of those on this machine: ")
    assert found == sorted(found, key=_numeric) and len(found) >= 1, found


def test_a_python_not_on_this_machine_names_every_step_and_lists_versions_in_order(
    isolated_flows,
):
    source = two_step_flow(
        "FutureFlow", flow="@pypi_base(python='3.99')", start='@pypi(packages={"tabulate": ""})'
    )
    result = isolated_flows.run(isolated_flows.write("future.py", source))
    assert_clean_failure(
        isolated_flows,
        result,
        "steps 'start' and 'end': no Python 3.99 found on this machine (found: ",
        "BAKERY_PYTHONS",
    )
    found = _found_versions(result.output, "(found: ")
    assert found == sorted(found, key=_numeric), found


@pytest.mark.parametrize(
    "environment,flow_decorator,step_decorator,expected",
    [
        (
            "pypi",
            "",
            '@pypi(packages="numpy")',
            "step 'start': @pypi(packages='numpy'): packages is a dict {name: version} of "
            "strings, e.g. packages={'numpy': ''} ('' for any version)",
        ),
        (
            "pypi",
            '@pypi_base(packages="numpy==2.2.3")',
            "",
            "flow ShapeFlow: @pypi_base(packages='numpy==2.2.3'): packages is a dict "
            "{name: version} of strings, e.g. packages={'numpy': '2.2.3'} ('' for any version)",
        ),
        (
            "conda",
            "",
            '@conda(packages=["numpy", "pandas>=2"])',
            "step 'start': @conda(packages=['numpy', 'pandas>=2']): packages is a dict "
            "{name: version} of strings, e.g. packages={'numpy': '', 'pandas': '>=2'} "
            "('' for any version)",
        ),
        (
            "pypi",
            "",
            "@pypi(python=3.10)",
            "step 'start': @pypi(python=3.1): python is a string, e.g. python='3.11' "
            "(a number loses digits: 3.10 is 3.1)",
        ),
    ],
)
def test_malformed_decorator_attributes_are_one_error_before_any_task(
    isolated_flows, environment, flow_decorator, step_decorator, expected
):
    source = two_step_flow("ShapeFlow", flow=flow_decorator, start=step_decorator)
    result = isolated_flows.run(isolated_flows.write("shape.py", source), environment=environment)
    assert_clean_failure(isolated_flows, result, expected)
    assert "Internal error" not in result.output


def test_frozen_run_without_a_lockfile_says_how_to_make_one(isolated_flows):
    flow = _bad_flow(isolated_flows, '{"tabulate": "0.9.0"}')
    result = isolated_flows.run(flow, METAFLOW_BAKERY_FROZEN="1")
    lock = isolated_flows.folder / "bad.bakery.lock"
    assert_clean_failure(
        isolated_flows,
        result,
        f"no lockfile at {lock}: run `bakery lock bad.py` (or a run without "
        "METAFLOW_BAKERY_FROZEN) to make one",
    )
    assert not lock.exists()


def test_bakery_lock_errors_show_no_internal_command(isolated_flows):
    flow = isolated_flows.write(
        "shape.py", two_step_flow("ShapeFlow", start='@pypi(packages="numpy")')
    )
    result = isolated_flows.bakery("lock", flow.name)
    assert result.returncode == 1
    assert result.stderr.startswith("error: step 'start': @pypi(packages='numpy'): ")
    for internal in ("bakery lock` failed", "--environment", "Internal error", "Traceback"):
        assert internal not in result.output


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
    # each step names the package uv fetched first, so the two lines may differ
    assert_clean_failure(
        isolated_flows, result, "step", "'start'", "'end'", ": cannot reach the package index"
    )
    assert "s3cret" not in result.output, "credentials leaked into the error"


def test_malformed_attributes_given_with_with_are_one_error(isolated_flows):
    flow = isolated_flows.write("plain.py", two_step_flow("PlainFlow"))
    result = isolated_flows.run(flow, "run", "--with", "pypi:packages=numpy")
    assert_clean_failure(
        isolated_flows,
        result,
        "@pypi(packages='numpy'): packages is a dict {name: version} of strings, "
        "e.g. packages={'numpy': ''} ('' for any version)",
    )
    assert "Internal error" not in result.output
