"""@parallel steps run locally: the control task starts the other nodes itself, with the
interpreter the environment names for the step (`environment.executable`), from inside the
step's environment, which holds the step's packages and nothing of Bakery's dependencies.

Found by Metaflow's own harness (scripts/metaflow_tests.sh, graph `small-parallel`): the control
task died with `No module named 'packaging'`, and would otherwise have started its workers with
the remote bootstrap's `bakery-env/bin/python`, which does not exist here.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network]

PARALLEL = """
from metaflow import FlowSpec, current, parallel, pypi, step


class ParallelFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=3)

    @parallel
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def train(self):
        import sys

        import tabulate  # only in the step's environment

        self.node = current.parallel.node_index
        self.prefix = sys.prefix
        self.next(self.join)

    @step
    def join(self, inputs):
        for i in inputs:
            print("NODE", i.node, i.prefix)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelFlow()
"""


def test_parallel_nodes_run_in_the_steps_environment(flows):
    result = flows.run(flows.write("parallel.py", PARALLEL)).check()
    nodes = re.findall(r"NODE (\d+) (\S+)", result.output)
    assert sorted(int(node) for node, _ in nodes) == [0, 1, 2], result.output
    prefixes = {prefix for _, prefix in nodes}
    assert len(prefixes) == 1, prefixes
    assert prefixes.pop().startswith(str(flows.cache_dir)), result.output
