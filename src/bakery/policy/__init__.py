"""Perimeter policies: admin-owned TOML files that say which images steps may run in, whether
environments may be built on the fly, and where baked images must be pushed.

`load_policies()` finds and reads the files in force (`load.py`: the machine's
`/etc/bakery/policy.toml`, plus one a user may name, which can only add restrictions); `Policies`
and each file's `Policy` (`model.py`) answer requests with `PolicyViolation`s, built by the rules
in `check.py` over the patterns in `patterns.py`. `admission.py` turns the same files into
Kubernetes admission policies. The format is documented in docs/policies.md.
"""

from __future__ import annotations

from .load import (
    MACHINE_POLICY_PATH,
    POLICY_FILE_ENV,
    PolicySource,
    find_policy_files,
    load_policies,
    load_policy,
    parse_policy,
)
from .model import (
    BakeTargetRequest,
    ImageRequest,
    NamedEnvRequest,
    OnTheFlyRequest,
    Policies,
    Policy,
    PolicyRequest,
)
from .patterns import ImagePattern, RepositoryPrefix

__all__ = [
    "MACHINE_POLICY_PATH",
    "POLICY_FILE_ENV",
    "BakeTargetRequest",
    "ImagePattern",
    "ImageRequest",
    "NamedEnvRequest",
    "OnTheFlyRequest",
    "Policies",
    "Policy",
    "PolicyRequest",
    "PolicySource",
    "RepositoryPrefix",
    "find_policy_files",
    "load_policies",
    "load_policy",
    "parse_policy",
]
