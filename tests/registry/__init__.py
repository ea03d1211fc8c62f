"""Tests of bakery.registry: references, credentials, and the client against a real registry."""
