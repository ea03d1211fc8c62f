"""Real flows with @pypi / @pypi_base, run as a user runs them."""

from __future__ import annotations

import json
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

LINEAR = """
from metaflow import FlowSpec, pypi, step

class LinearFlow(FlowSpec):
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def start(self):
        import tabulate, sys
        assert tabulate.__version__ == "0.9.0", tabulate.__version__
        import helpers  # a local module beside the flow
        self.answer = helpers.answer()
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        import sys
        try:
            import tabulate  # not requested by this step: must not leak in
            raise AssertionError("tabulate leaked into step end")
        except ImportError:
            pass
        assert self.answer == 42
        print("PREFIX", sys.prefix, self.prefix)

if __name__ == "__main__":
    LinearFlow()
"""

BRANCH = """
from metaflow import FlowSpec, pypi, pypi_base, step

@pypi_base(packages={"six": "1.16.0"})
class BranchFlow(FlowSpec):
    @step
    def start(self):
        import six
        assert six.__version__ == "1.16.0"
        self.next(self.old, self.new)

    @step
    def old(self):
        import six
        self.version = six.__version__
        self.next(self.join)

    @pypi(packages={"six": "1.17.0", "tabulate": ""})
    @step
    def new(self):
        import six, tabulate
        self.version = six.__version__
        self.next(self.join)

    @step
    def join(self, inputs):
        assert inputs.old.version == "1.16.0", inputs.old.version
        assert inputs.new.version == "1.17.0", inputs.new.version
        self.next(self.end)

    @step
    def end(self):
        print("BRANCHES OK")

if __name__ == "__main__":
    BranchFlow()
"""

FOREACH = """
from metaflow import FlowSpec, pypi, step

class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.next(self.work, foreach="items")

    @pypi(packages={"tabulate": "0.8.10"})
    @step
    def work(self):
        import tabulate
        assert tabulate.__version__ == "0.8.10", tabulate.__version__
        self.value = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.total == 20
        print("FOREACH OK")

if __name__ == "__main__":
    ForeachFlow()
"""


@pytest.mark.compat
def test_linear_flow_runs_each_step_in_its_own_environment(flows):
    flows.write("helpers.py", "def answer():\n    return 42\n")
    flow = flows.write("linear.py", LINEAR)
    result = flows.run(flow).check()
    lock = json.loads((flows.folder / "linear.bakery.lock").read_text())
    # no python= given: the running interpreter's minor version, not its patch release
    assert lock["specs"]["start"]["linux-64"]["python"] == "%d.%d" % sys.version_info[:2]
    prefixes = [line.split()[1:] for line in result.output.splitlines() if "PREFIX" in line][0]
    assert prefixes[0] != prefixes[1], "steps with different specs share a prefix"


def test_branch_steps_get_different_versions_of_one_package(flows):
    flows.run(flows.write("branch.py", BRANCH)).check()


def test_foreach_tasks_share_one_environment(flows):
    result = flows.run(flows.write("foreach.py", FOREACH)).check()
    assert "FOREACH OK" in result.output
    lock = json.loads((flows.folder / "foreach.bakery.lock").read_text())
    assert len(set(e["linux-64"] for e in lock["steps"].values())) == 2


@pytest.mark.compat
def test_second_run_creates_nothing_and_keeps_the_lock(flows):
    flow = flows.write("branch.py", BRANCH)
    flows.run(flow).check()
    lock = flows.folder / "branch.bakery.lock"
    before = (lock.read_text(), lock.stat().st_mtime_ns)
    second = flows.run(flow).check()
    assert "Creating environment" not in second.output
    assert "Locked" not in second.output
    assert (lock.read_text(), lock.stat().st_mtime_ns) == before


def test_disabled_step_runs_in_the_callers_interpreter(flows):
    flow = flows.write(
        "disabled.py",
        """
        import sys
        from metaflow import FlowSpec, pypi, step

        class DisabledFlow(FlowSpec):
            @pypi(packages={"tabulate": "0.9.0"}, disabled=True)
            @step
            def start(self):
                import sys
                self.prefix = sys.prefix
                self.next(self.end)

            @step
            def end(self):
                print("DISABLED PREFIX", self.prefix)

        if __name__ == "__main__":
            DisabledFlow()
        """,
    )
    result = flows.run(flow).check()
    import sys

    assert f"DISABLED PREFIX {sys.prefix}" in result.output


def test_step_pinned_to_another_python_runs_on_it(flows):
    flow = flows.write(
        "py312.py",
        """
        from metaflow import FlowSpec, pypi, step

        class Py312Flow(FlowSpec):
            @pypi(python="3.12", packages={"six": "1.17.0"})
            @step
            def start(self):
                import sys, six
                assert sys.version_info[:2] == (3, 12), sys.version
                self.next(self.end)

            @step
            def end(self):
                import sys
                print("END ON", sys.version_info[:2])

        if __name__ == "__main__":
            Py312Flow()
        """,
    )
    flows.run(flow).check()


def test_frozen_run_fails_naming_the_changed_step(flows):
    flow = flows.write("branch.py", BRANCH)
    flows.run(flow).check()
    flow.write_text(flow.read_text().replace('"tabulate": ""', '"tabulate": "0.9.0"'))
    result = flows.run(flow, METAFLOW_BAKERY_FROZEN="1")
    assert result.returncode != 0
    assert "step 'new'" in result.output and "tabulate any -> ==0.9.0" in result.output
    assert "bakery lock" in result.output
    # without the frozen setting the same run re-resolves and succeeds
    flows.run(flow).check()
