"""Bakery core: spec -> lock -> environment | image -> registry. Never imports Metaflow."""

__version__ = "0.1.0"
