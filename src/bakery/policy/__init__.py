"""Perimeter policies: an admin-owned TOML file that says which images steps may run in, whether
environments may be built on the fly, and where baked images must be pushed.

`load_policy()` finds and reads the file (`load.py`); a `Policy` (`model.py`) answers requests with
`PolicyViolation`s, built by the rules in `check.py` over the patterns in `patterns.py`. The format is
documented in docs/policies.md.
"""

from __future__ import annotations

from .load import (
    DEFAULT_POLICY_PATH,
    POLICY_FILE_ENV,
    find_policy_file,
    load_policy,
    parse_policy,
)
from .model import (
    BakeTargetRequest,
    ImageRequest,
    NamedEnvRequest,
    OnTheFlyRequest,
    Policy,
    PolicyRequest,
)
from .patterns import ImagePattern, RepositoryPrefix

__all__ = [
    "DEFAULT_POLICY_PATH",
    "POLICY_FILE_ENV",
    "BakeTargetRequest",
    "ImagePattern",
    "ImageRequest",
    "NamedEnvRequest",
    "OnTheFlyRequest",
    "Policy",
    "PolicyRequest",
    "RepositoryPrefix",
    "find_policy_file",
    "load_policy",
    "parse_policy",
]
