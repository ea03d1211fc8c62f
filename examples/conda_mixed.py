"""Conda packages with PyPI packages on top, as a user writes them.

    python examples/conda_mixed.py --environment=conda run
    bakery lock examples/conda_mixed.py --platform linux-aarch64   # lock for another platform too

Needs a reachable conda channel (conda-forge by default; `CONDA_CHANNELS` names others, such as
an internal mirror).
"""

from metaflow import FlowSpec, conda, conda_base, pypi, step


@conda_base(python="3.11", packages={"numpy": "1.26.4"})
class CondaMixedFlow(FlowSpec):
    @step
    def start(self):
        import numpy

        self.numpy_version = numpy.__version__
        self.next(self.tabulate)

    @conda(packages={"conda-forge::pyarrow": ">=15"})
    @pypi(packages={"tabulate": "0.9.0"})  # installed with uv into the conda environment
    @step
    def tabulate(self):
        import pyarrow
        from tabulate import tabulate

        self.table = tabulate(
            [["numpy", self.numpy_version], ["pyarrow", pyarrow.__version__]],
            headers=["package", "version"],
        )
        self.next(self.end)

    @step
    def end(self):
        print(self.table)


if __name__ == "__main__":
    CondaMixedFlow()
