"""The public surface of bakery.registry is what the image baker codes against."""

from __future__ import annotations

import inspect

import bakery.registry as registry


def test_all_is_sorted_and_complete() -> None:
    assert registry.__all__ == sorted(registry.__all__, key=lambda name: (not name.isupper(), name))
    public = {name for name in vars(registry) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(registry, name))}
    assert set(registry.__all__) == public - modules - {"annotations"}


def test_client_methods_match_the_agreed_api() -> None:
    methods = {
        "ping", "blob_exists", "mount_blob", "push_blob", "pull_blob", "get_blob_bytes",
        "head_manifest", "get_manifest", "put_manifest", "close",
    }  # fmt: skip
    assert methods <= set(dir(registry.RegistryClient))
    push = inspect.signature(registry.RegistryClient.push_blob).parameters
    assert [name for name, p in push.items() if p.kind is p.KEYWORD_ONLY] == [
        "size", "progress", "chunk_size", "mount_from",
    ]  # fmt: skip
