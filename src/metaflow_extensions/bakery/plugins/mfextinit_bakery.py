"""Bakery's Metaflow plugins: `conda`, `pypi` and `uv` environments replace core Metaflow's;
`fast-bakery` adds baked images for remote steps."""

ENVIRONMENTS_DESC = [
    ("conda", ".environments.bakery_environment.BakeryCondaEnvironment"),
    ("pypi", ".environments.bakery_environment.BakeryPyPIEnvironment"),
    ("fast-bakery", ".environments.fast_bakery.FastBakeryEnvironment"),
    ("uv", ".environments.uv.BakeryUVEnvironment"),
]

STEP_DECORATORS_DESC = [
    ("conda", ".decorators.conda_step.BakeryCondaStepDecorator"),
    ("pypi", ".decorators.pypi_step.BakeryPyPIStepDecorator"),
    ("kubernetes", ".decorators.kubernetes_policy.PolicedKubernetesDecorator"),
    ("batch", ".decorators.batch_policy.PolicedBatchDecorator"),
    ("container", ".decorators.container.ContainerDecorator"),
]

FLOW_DECORATORS_DESC = [
    ("conda_base", ".decorators.conda_step.BakeryCondaFlowDecorator"),
    ("exit_hook", ".decorators.exit_hook_policy.PolicedExitHookDecorator"),
    ("pypi_base", ".decorators.pypi_step.BakeryPyPIFlowDecorator"),
]

CLIS_DESC = [
    ("bakery", ".bakery_cli.cli"),
    ("container", ".container_cli.cli"),
]
