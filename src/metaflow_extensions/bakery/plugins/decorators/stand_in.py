"""Core's @pypi / @conda (and their `_base` forms) accept only environments named conda, pypi or
fast-bakery: these mixins hand them Bakery's `--environment=uv` through its stand-in
(`compat.as_virtual_environment`), and every other environment as it is."""

from __future__ import annotations

from .. import compat


class StandInStepInit:
    """For a step decorator: core's `step_init` sees the stand-in."""

    def step_init(self, flow, graph, step, decos, environment, flow_datastore, logger):
        super().step_init(
            flow,
            graph,
            step,
            decos,
            compat.as_virtual_environment(environment),
            flow_datastore,
            logger,
        )


class StandInFlowInit:
    """For a flow decorator: core's `flow_init` sees the stand-in."""

    def flow_init(self, flow, graph, environment, flow_datastore, metadata, logger, echo, options):
        super().flow_init(
            flow,
            graph,
            compat.as_virtual_environment(environment),
            flow_datastore,
            metadata,
            logger,
            echo,
            options,
        )
