"""The public surface of bakery.registry is what the image baker codes against."""

from __future__ import annotations

import inspect

import bakery.registry as registry


def test_all_is_sorted_and_complete() -> None:
    assert registry.__all__ == sorted(registry.__all__, key=lambda name: (not name.isupper(), name))
    # the names load on first use; each is there, and nothing public is left out of __all__
    for name in registry.__all__:
        assert getattr(registry, name) is not None
    public = {name for name in dir(registry) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(registry, name))}
    assert set(registry.__all__) == public - modules - {"annotations", "TYPE_CHECKING"}


def test_parsing_a_reference_does_not_load_the_http_client() -> None:
    """`bakery bake` checks its --registry before it starts the flow's lock: that check must
    not wait for httpx to load."""
    import subprocess
    import sys

    code = (
        "import sys; from bakery.registry.reference import push_target; "
        "push_target('127.0.0.1:5000/team/envs'); print('httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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


def test_every_exported_name_has_a_home() -> None:
    assert set(registry._HOMES) == set(registry.__all__)
