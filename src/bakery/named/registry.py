"""Publishing, finding and aliasing named environments in a store of small JSON documents.

Layout under the store's root (the datastore's Bakery folder, beside the package snapshots):

    named/<name, %-quoted>/tags/<tag>/<platform>.json     what the tag names, on a platform
    named/<name, %-quoted>/aliases/<alias>.json           the tag an alias points at, and history

A tag is written once per platform and never changed (publishing the same environment again
is a no-op; another one is refused). Publishing moves `latest`; `stable` moves only when asked.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import NamedEnvError
from ..lock.model import LockedEnv
from .refs import ALIASES, NamedRef, parse_ref


class TextStore(Protocol):
    """Small documents by key (relative paths)."""

    def get_text(self, key: str) -> str | None: ...

    def write_text(self, key: str, text: str, *, overwrite: bool) -> None: ...

    def list_keys(self, prefix: str) -> list[str]:
        """The entries directly under `prefix` (a folder key ending in `/`): names of
        documents, and of folders with a trailing `/`."""
        ...


@dataclass(frozen=True)
class Published:
    """One tag of a named environment on one platform."""

    ref: NamedRef
    platform: str
    env: LockedEnv
    image: str | None
    published_by: str
    published_at: str
    source: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.ref.name,
            "tag": self.ref.tag,
            "platform": self.platform,
            "env_id": self.env.env_id,
            "env": self.env.to_dict(),
            "image": self.image,
            "published_by": self.published_by,
            "published_at": self.published_at,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Published:
        return cls(
            NamedRef(data["name"], data["tag"]),
            data["platform"],
            LockedEnv.from_dict(data["env"]),
            data.get("image"),
            data.get("published_by", ""),
            data.get("published_at", ""),
            data.get("source") or {},
        )


def who() -> str:
    """Who is acting, as Metaflow names users."""
    return os.environ.get("METAFLOW_USER") or os.environ.get("USER") or getpass.getuser()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class NamedEnvs:
    """The named environments of one store."""

    def __init__(self, store: TextStore, *, clock: Callable[[], str] = now) -> None:
        self.store = store
        self.clock = clock

    # ---- reading -------------------------------------------------------------------------

    def get(self, text: str, platform: str) -> Published:
        """The environment `NAME[:TAG]` (aliases followed) names on `platform`."""
        ref = self.tag_of(parse_ref(text))
        data = self.store.get_text(self._tag_key(ref, platform))
        if data is None:
            platforms = self.platforms(ref)
            if platforms:
                raise NamedEnvError(
                    f"{ref} is published for {', '.join(platforms)}, not {platform}: publish it "
                    f"for {platform} too (`bakery env publish ... --platform {platform} {ref}`)"
                )
            raise NamedEnvError(self._missing(ref))
        return Published.from_dict(json.loads(data))

    def tag_of(self, ref: NamedRef) -> NamedRef:
        """`ref` with an alias replaced by the tag it points at."""
        if not ref.is_alias:
            return ref
        alias = self.alias(ref)
        if alias is None:
            raise NamedEnvError(self._missing(ref))
        return NamedRef(ref.name, alias["tag"])

    def alias(self, ref: NamedRef) -> dict | None:
        data = self.store.get_text(f"named/{ref.key}/aliases/{ref.tag}.json")
        return json.loads(data) if data else None

    def platforms(self, ref: NamedRef) -> list[str]:
        entries = self.store.list_keys(f"named/{ref.key}/tags/{ref.tag}/")
        return sorted(e.removesuffix(".json") for e in entries if e.endswith(".json"))

    def names(self) -> list[str]:
        from urllib.parse import unquote

        return sorted(
            unquote(e.rstrip("/")) for e in self.store.list_keys("named/") if e.endswith("/")
        )

    def tags(self, name: str) -> list[str]:
        ref = NamedRef(name, "latest")
        return sorted(
            e.rstrip("/") for e in self.store.list_keys(f"named/{ref.key}/tags/") if e.endswith("/")
        )

    def aliases(self, name: str) -> dict[str, dict]:
        out = {}
        for alias in ALIASES:
            found = self.alias(NamedRef(name, alias))
            if found:
                out[alias] = found
        return out

    # ---- writing -------------------------------------------------------------------------

    def publish(
        self,
        text: str,
        env: LockedEnv,
        *,
        image: str | None = None,
        source: dict[str, Any] | None = None,
    ) -> tuple[Published, bool]:
        """Record `env` under `NAME:TAG` for its platform and move `latest` to it; returns the
        record and whether it is new (False: this very environment was published already)."""
        ref = parse_ref(text, default_tag=None)
        if ref.is_alias:
            raise NamedEnvError(
                f"'{ref.tag}' is an alias, moved with `bakery env alias`: publish under a tag of "
                f"its own (e.g. {ref.name}:{time.strftime('%Y-%m-%d')})"
            )
        platform = str(env.spec.platform)
        key = self._tag_key(ref, platform)
        record = Published(ref, platform, env, image, who(), self.clock(), source or {})
        existing = self.store.get_text(key)
        wrote = existing is None
        if wrote:
            self.store.write_text(
                key, json.dumps(record.to_dict(), sort_keys=True), overwrite=False
            )
            existing = self.store.get_text(key)  # another publisher may have won the race
        stored = Published.from_dict(json.loads(existing or "{}"))
        if stored.env.env_id != env.env_id:
            raise NamedEnvError(
                f"{ref} is already published for {platform} with another environment "
                f"({stored.env.short_id}, by {stored.published_by} at {stored.published_at}); "
                "tags never change: publish under a new tag"
            )
        # ours if we wrote it and it is what we wrote (a publish of the same environment a
        # moment earlier has the same time stamp to the second: only the write tells them apart)
        new = wrote and stored.to_dict() == record.to_dict()
        if new:
            self.move_alias(ref, "latest")
        return stored, new

    def move_alias(self, target: NamedRef, alias: str) -> dict:
        """Point `NAME:alias` at `target`'s tag, recording who moved it and when."""
        if alias not in ALIASES:
            raise NamedEnvError(f"'{alias}' is not an alias; the aliases are {', '.join(ALIASES)}")
        target = self.tag_of(target)
        if not self.platforms(target):
            raise NamedEnvError(self._missing(target))
        ref = NamedRef(target.name, alias)
        previous = self.alias(ref) or {}
        history = [*previous.get("history", []), *([_entry(previous)] if previous else [])]
        moved = {
            "tag": target.tag,
            "moved_by": who(),
            "moved_at": self.clock(),
            "history": history[-20:],
        }
        self.store.write_text(
            f"named/{ref.key}/aliases/{alias}.json",
            json.dumps(moved, sort_keys=True),
            overwrite=True,
        )
        return moved

    def _tag_key(self, ref: NamedRef, platform: str) -> str:
        return f"named/{ref.key}/tags/{ref.tag}/{platform}.json"

    def _missing(self, ref: NamedRef) -> str:
        tags = self.tags(ref.name)
        if not tags:
            return (
                f"no named environment '{ref.name}' in this datastore: publish one with "
                f"`bakery env publish FLOW.py --step STEP {ref.name}:TAG` (`bakery env ls` lists them)"
            )
        return f"{ref} does not exist; '{ref.name}' has tags {', '.join(tags)}"


def _entry(alias: dict) -> dict:
    return {k: alias[k] for k in ("tag", "moved_by", "moved_at") if k in alias}
