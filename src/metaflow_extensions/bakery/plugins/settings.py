"""Bakery's settings as a flow sees them: Metaflow's config values, read once per process."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .exceptions import BakeryMetaflowException

if TYPE_CHECKING:
    from bakery.settings import Settings


class BakerySettingsException(BakeryMetaflowException):
    headline = "A Bakery setting is wrong"


@functools.lru_cache(maxsize=1)
def bakery_settings() -> Settings:
    """The settings for this process, with Metaflow's config (env, local config, profile, and
    what other extensions set) in the place `bakery.settings` gives it; handed to the core with
    `use()`. Raises ImportError in a task whose code package carries no Bakery core (see
    `optional_setting`)."""
    from metaflow import metaflow_config

    from bakery.errors import SettingsError
    from bakery.settings import SETTINGS, Settings, use

    values = {
        info.metaflow_name: getattr(metaflow_config, info.name, None)
        for info in SETTINGS
        if getattr(metaflow_config, info.name, None) is not None
    }
    try:
        settings = Settings.load(metaflow_config={**values, "__source__": "Metaflow's config"})
    except SettingsError as e:
        raise BakerySettingsException(str(e)) from None
    use(settings)
    return settings


def optional_setting(attribute: str):
    """One setting, or None in a task of a run without a Bakery environment (no core there;
    the launcher already acted on the setting)."""
    try:
        return getattr(bakery_settings(), attribute)
    except ImportError:
        return None
