"""Bakery settings, read through Metaflow's config: `METAFLOW_<NAME>` env vars or a profile.

Only what core Metaflow has no knob for gets a BAKERY_ name.
"""

from metaflow.metaflow_config_funcs import from_conf

# conda channels searched by @conda, comma-separated (core Metaflow's micromamba reads
# CONDA_CHANNELS from the environment; this is the same knob in Metaflow's config)
CONDA_CHANNELS = from_conf("CONDA_CHANNELS")

# where environments, locks of the cache and built layers live (default ~/.cache/bakery)
BAKERY_CACHE_DIR = from_conf("BAKERY_CACHE_DIR")

# "1": a run must use the lockfile as it is and fail if a step's spec changed
BAKERY_FROZEN = from_conf("BAKERY_FROZEN", False)

# snapshot packages to the datastore: "auto" (non-local datastores), "always" or "never"
BAKERY_SNAPSHOT = from_conf("BAKERY_SNAPSHOT", "auto")

# "1": when no local interpreter satisfies python=, let uv download one (UV_PYTHON_INSTALL_MIRROR)
BAKERY_PYTHON_DOWNLOADS = from_conf("BAKERY_PYTHON_DOWNLOADS", False)

# bytecode for new environments: "background" (default), "sync" or "never"
BAKERY_COMPILE_BYTECODE = from_conf("BAKERY_COMPILE_BYTECODE", "background")

# --environment=fast-bakery: where baked images are pushed (e.g. registry.example.com/team/envs)
BAKERY_REGISTRY = from_conf("BAKERY_REGISTRY")

# the base image baked environments go on (default: the official python:X.Y-slim)
BAKERY_BASE_IMAGE = from_conf("BAKERY_BASE_IMAGE")

# the admin's perimeter policy file (docs/policies.md); else $BAKERY_POLICY_FILE, else
# /etc/bakery/policy.toml. Nothing in a flow or on the command line can switch it off.
BAKERY_POLICY_FILE = from_conf("BAKERY_POLICY_FILE")

# the image workstations run, set by whoever provisions them: the default image of remote steps
# that name none (and have no image baked by fast-bakery)
BAKERY_WORKSTATION_IMAGE = from_conf("BAKERY_WORKSTATION_IMAGE")
