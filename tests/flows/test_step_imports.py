"""What a step's first task will import, read off the flow's code: the flow file's module-level
imports, then the step function's, in order, Metaflow's own left out."""

from __future__ import annotations

import importlib.util
import sys

from metaflow_extensions.bakery.plugins.environments.step_imports import step_code_imports

FLOW = """\
import os
from metaflow import FlowSpec, step, pypi
import yaml


class OrderFlow(FlowSpec):
    @pypi(packages={"pandas": "2.2.3", "tabulate": "0.9.0"})
    @step
    def start(self):
        import tabulate
        from pandas import DataFrame

        def later():
            import sklearn.linear_model

        self.next(self.end)

    @step
    def end(self):
        import numpy
"""


def test_the_flow_files_imports_then_the_steps_in_order(tmp_path):
    path = tmp_path / "order_flow.py"
    path.write_text(FLOW)
    spec = importlib.util.spec_from_file_location("order_flow", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["order_flow"] = module
    try:
        spec.loader.exec_module(module)
        flow = object.__new__(module.OrderFlow)
        assert step_code_imports(flow, "start") == [
            "os",
            "yaml",
            "tabulate",
            "pandas",
            "pandas.DataFrame",
            "sklearn",
            "sklearn.linear_model",
        ]
        assert step_code_imports(flow, "end") == ["os", "yaml", "numpy"]
        assert step_code_imports(flow, "absent") == ["os", "yaml"]
    finally:
        del sys.modules["order_flow"]
