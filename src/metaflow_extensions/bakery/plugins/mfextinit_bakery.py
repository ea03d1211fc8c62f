"""Bakery's Metaflow plugins: `conda` and `pypi` environments replace core Metaflow's."""

ENVIRONMENTS_DESC = [
    ("conda", ".environments.bakery_environment.BakeryCondaEnvironment"),
    ("pypi", ".environments.bakery_environment.BakeryPyPIEnvironment"),
]

CLIS_DESC = [
    ("bakery", ".bakery_cli.cli"),
]
