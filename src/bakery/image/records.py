"""What a bake pushed where: one small JSON record per (repository, environment, base, options).

A re-bake that finds its record checks with two requests that the image and its referrers are
still in the registry (the manifest's digest, the referrers' index or API) and does nothing else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from ..lock.model import LockedEnv
from ..registry import RegistryClient
from ..registry.reference import ImageReference
from ..registry.referrers import still_attached
from .compression import Compression
from .gc import mark_used
from .layers import write_atomic
from .stage import LAYOUT_VERSION

# What an image holds besides the staged packages (part of its tag): 2 adds `python` and
# `python3` for PyPI environments, and the runtimes' PATH when the base sets none.
IMAGE_VERSION = 2


class PushRecords:
    """What was pushed where: `<dir>/<key>.json` for (repository, env, base, options)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def key(
        target: ImageReference,
        env: LockedEnv,
        base: ImageReference,
        compression: Compression,
        extra_env: Mapping[str, str] | None = None,
    ) -> str:
        text = f"{target}|{env.env_id}|{base}|layout{LAYOUT_VERSION}.{IMAGE_VERSION}"
        text += f"|{compression.codec}"
        text += "".join(f"|{k}={v}" for k, v in sorted((extra_env or {}).items()))
        return hashlib.sha256(text.encode()).hexdigest()[:40]

    def get(self, key: str) -> dict | None:
        path = self.root / f"{key}.json"
        try:
            record = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        mark_used(path)
        return record

    def put(self, key: str, record: dict) -> None:
        write_atomic(self.root / f"{key}.json", json.dumps(record, sort_keys=True))

    @staticmethod
    def still_pushed(client: RegistryClient, target: ImageReference, record: dict) -> bool:
        """Whether the recorded image and its referrers are still in the registry: two requests."""
        if client.head_manifest(target.repository, record["tag"]) != record["digest"]:
            return False
        referrers = record.get("referrers")  # absent from records of bakes that attached none
        if not isinstance(referrers, dict) or not referrers.get("ours"):
            return False
        return still_attached(client, target.repository, record["digest"], referrers)
