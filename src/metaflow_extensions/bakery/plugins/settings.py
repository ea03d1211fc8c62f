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
    import os

    from metaflow import metaflow_config

    from bakery.errors import SettingsError
    from bakery.settings import SETTINGS, Settings, read_metaflow_config, use

    values = {
        info.metaflow_name: getattr(metaflow_config, info.name, None)
        for info in SETTINGS
        if getattr(metaflow_config, info.name, None) is not None
    }
    try:
        # name the files, so that a refusal can say where e.g. the policy file was set
        files = read_metaflow_config(os.environ).get("__source__")
        source = f"Metaflow's config ({files})" if files else "Metaflow's config"
        settings = Settings.load(metaflow_config={**values, "__source__": source})
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
