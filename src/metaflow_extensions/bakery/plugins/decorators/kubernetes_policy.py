"""`@kubernetes` as core Metaflow has it, plus the workstation image as its default and the
admin's image policy under any environment.

Bakery's own environments check every step's image (and bake some) before anything launches;
this covers the runs that use none of them, e.g. `python flow.py run --with
kubernetes:image=...` or an `@kubernetes(image=...)` deployed with Argo: the step's image, as the
decorator settled it (the user's, or the configured default), must be allowed.
"""

from __future__ import annotations

from metaflow.plugins.kubernetes.kubernetes_decorator import KubernetesDecorator

from .. import policy_gate, workstation


class PolicedKubernetesDecorator(KubernetesDecorator):
    def init(self):
        # Metaflow runs `init` only when the class itself defines it (not an inherited one)
        super().init()

    def step_init(self, flow, graph, step, decos, environment, flow_datastore, logger):
        super().step_init(flow, graph, step, decos, environment, flow_datastore, logger)
        workstation.apply(self, logger)
        policy_gate.check_step_image(flow, step, self, environment)
