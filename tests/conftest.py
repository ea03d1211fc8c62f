"""Shared pytest configuration: fixture modules live in tests/fixtures/, one per real service."""

pytest_plugins = [
    "tests.fixtures.registry",
    "tests.fixtures.pretend_registry",
    "tests.fixtures.conda_channel",
    "tests.fixtures.flows",
    "tests.fixtures.private_index",
    "tests.fixtures.s3",
]
