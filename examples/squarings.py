"""The seed flow (examples/torchtest.py) with NumPy instead of PyTorch: square a matrix for a few
seconds, with progress on a live card and a GPU profile card beside it. Small enough to run
anywhere, in every environment Bakery offers:

    python squarings.py --environment=pypi run
    python squarings.py --environment=conda run
    python squarings.py --environment=fast-bakery run --with container   # needs S3 + a registry
    python squarings.py --environment=pypi run --with container:image=python:3.11-slim

    python squarings.py card get start --id status        # the progress card
    python squarings.py card get start --id gpu_profile   # what @gpu_profile saw (or why not)
"""

import time

from metaflow import FlowSpec, Parameter, card, current, pypi_base, step
from metaflow.cards import Markdown
from metaflow.profilers import gpu_profile


@pypi_base(packages={"numpy": "2.2.6"})
class SquaringsFlow(FlowSpec):
    seconds = Parameter("seconds", default=5, type=float, help="how long to keep squaring")
    dim = Parameter("dim", default=500, type=int, help="the matrix is dim x dim")

    @gpu_profile()
    @card(type="blank", refresh_interval=1, id="status")
    @step
    def start(self):
        matrix = self.create_matrix(self.dim)
        self.run_squarings(matrix, self.seconds)
        self.next(self.end)

    def create_matrix(self, dim):
        import numpy

        print("Creating a random matrix")
        self.matrix = numpy.random.default_rng(0).random((dim, dim), dtype=numpy.float32)
        print("Matrix created! Shape", self.matrix.shape)
        return self.matrix

    def run_squarings(self, matrix, seconds):
        import numpy

        print("Starting benchmark")
        counter = Markdown("# Starting to square...")
        current.card["status"].append(counter)
        current.card["status"].refresh()

        count = 0
        started = time.time()
        while time.time() - started < seconds:
            for _ in range(5):
                numpy.matmul(matrix, matrix)  # square the matrix
            count += 5
            counter.update(f"# {count} squarings completed")
            current.card["status"].refresh()
        elapsed = time.time() - started

        self.squarings_per_second = count / elapsed
        message = f"⚡ {self.squarings_per_second:.1f} squarings per second ⚡"
        current.card["status"].append(Markdown(f"# {message}"))
        print(message)

    @step
    def end(self):
        # the matrix artifact was persisted by start
        print("Matrix shape is still", self.matrix.shape)


if __name__ == "__main__":
    SquaringsFlow()
