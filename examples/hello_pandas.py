"""A small flow whose steps run in different environments.

python examples/hello_pandas.py --environment=pypi run
"""

from metaflow import FlowSpec, pypi, pypi_base, step


@pypi_base(packages={"requests": "2.32.3"})
class HelloPandasFlow(FlowSpec):
    @step
    def start(self):
        import requests

        self.requests_version = requests.__version__
        self.next(self.tabulate, self.analyse)

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def tabulate(self):
        from tabulate import tabulate

        self.table = tabulate([["requests", self.requests_version]], headers=["package", "version"])
        self.next(self.join)

    @pypi(packages={"pandas": "2.2.3"})
    @step
    def analyse(self):
        import pandas as pd

        frame = pd.DataFrame({"x": [1, 2, 3]})
        self.total = int(frame["x"].sum())
        self.pandas_version = pd.__version__
        self.next(self.join)

    @step
    def join(self, inputs):
        self.table = inputs.tabulate.table
        self.total = inputs.analyse.total
        self.pandas_version = inputs.analyse.pandas_version
        self.next(self.end)

    @step
    def end(self):
        print(self.table)
        print("pandas", self.pandas_version, "sum", self.total)


if __name__ == "__main__":
    HelloPandasFlow()
