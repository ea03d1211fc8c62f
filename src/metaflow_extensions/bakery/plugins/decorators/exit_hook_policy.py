"""`@exit_hook` as core Metaflow has it, plus the admin's image policy under any environment.

`@exit_hook(options={"image": ...})` names the image Argo Workflows runs the hook functions in
(`argo-workflows create` puts it into the manifest); without it they run in the start step's
image, which the step's own check covers. Bakery's environments check this image with the rest of
the run; under any other environment it is checked here, when the flow starts.
"""

from __future__ import annotations

from metaflow.plugins.exit_hook.exit_hook_decorator import ExitHookDecorator

from .. import policy_gate


class PolicedExitHookDecorator(ExitHookDecorator):
    def flow_init(self, flow, graph, environment, flow_datastore, metadata, logger, echo, options):
        super().flow_init(flow, graph, environment, flow_datastore, metadata, logger, echo, options)
        policy_gate.check_exit_hook_image(flow, environment)
