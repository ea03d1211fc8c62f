"""`@batch` as core Metaflow has it, plus the admin's image policy under any environment.

Bakery's own environments check every step's image before anything launches; this covers the
runs that use none of them, e.g. `python flow.py run --with batch:image=...`: the step's image, as
the decorator settled it (the user's, or the configured default), must be allowed.
"""

from __future__ import annotations

from metaflow.plugins.aws.batch.batch_decorator import BatchDecorator

from .. import policy_gate


class PolicedBatchDecorator(BatchDecorator):
    def init(self):
        # Metaflow runs `init` only when the class itself defines it (not an inherited one)
        super().init()

    def step_init(self, flow, graph, step, decos, environment, flow_datastore, logger):
        # first: a refused image is the answer, whatever else is wrong with the step
        policy_gate.check_step_image(flow, step, self, environment)
        super().step_init(flow, graph, step, decos, environment, flow_datastore, logger)
