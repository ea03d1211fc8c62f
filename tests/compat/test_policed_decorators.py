"""Bakery's policed decorators take the place of core Metaflow's by name (`@kubernetes`, `@batch`,
`@exit_hook`), subclassing the classes they extend, in every supported Metaflow."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.compat


def test_the_policed_decorators_replace_cores() -> None:
    from metaflow.plugins import FLOW_DECORATORS, STEP_DECORATORS
    from metaflow.plugins.aws.batch.batch_decorator import BatchDecorator
    from metaflow.plugins.exit_hook.exit_hook_decorator import ExitHookDecorator
    from metaflow.plugins.kubernetes.kubernetes_decorator import KubernetesDecorator

    step = {d.name: d for d in STEP_DECORATORS}
    flow = {d.name: d for d in FLOW_DECORATORS}
    for found, core in [
        (step["kubernetes"], KubernetesDecorator),
        (step["batch"], BatchDecorator),
        (flow["exit_hook"], ExitHookDecorator),
    ]:
        assert issubclass(found, core) and found is not core
        assert found.__module__.startswith("metaflow_extensions.bakery.plugins.decorators.")
