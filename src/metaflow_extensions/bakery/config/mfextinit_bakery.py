"""Bakery's settings in Metaflow's config: `METAFLOW_<NAME>` env vars or a profile.

One `from_conf` per row of `bakery.settings.SETTINGS` (core Metaflow's own knobs such as
`CONDA_CHANNELS` keep their names; what is new is `BAKERY_*`), so that Metaflow knows them (its
profile and local config, and the values it hands to remote tasks). Flows read them all through
`bakery.settings.Settings`, as the `bakery` command does; see plugins/settings.py.
"""

from metaflow.metaflow_config_funcs import from_conf as __from_conf

try:
    from bakery.settings import SETTINGS as __SETTINGS
except ImportError:  # a remote task of a run without a Bakery environment: its code package
    __SETTINGS = ()  # carries no Bakery core, and nothing there reads Bakery's settings

for __info in __SETTINGS:
    globals()[__info.name] = __from_conf(__info.name)
