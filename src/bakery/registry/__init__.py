"""Talk to OCI registries: parse image references, find credentials, push and pull blobs and manifests.

We looked at oras-py (`oras` on PyPI), the well-kept Python OCI client: it pulls in `requests` and
`jsonschema`, and its `Registry` is shaped around pushing/pulling artifacts (files), not the blob-level
calls an image baker needs (HEAD, cross-repo mount, chunked upload, byte counting). So this package is a
thin httpx client modelled on oras-py's split — reference parsing (`reference.py`), auth backends
(`auth.py`), the request loop that answers a 401 from `Www-Authenticate` and retries once
(`transport.py`) — and the API calls themselves (`client.py`, `upload.py`, `manifests.py`). Answers
that break the distribution API fail in one place (`answers.py`), so a web server is never mistaken
for a registry.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bakery.registry.answers import parse_json
    from bakery.registry.auth import Credentials, find_credentials
    from bakery.registry.client import RegistryClient
    from bakery.registry.manifests import MANIFEST_MEDIA_TYPES, FetchedManifest
    from bakery.registry.reference import ImageReference, push_target

# loaded on first use: parsing a reference (a CLI's first check) need not load httpx
_HOMES = {
    "parse_json": "answers",
    "Credentials": "auth",
    "find_credentials": "auth",
    "RegistryClient": "client",
    "MANIFEST_MEDIA_TYPES": "manifests",
    "FetchedManifest": "manifests",
    "ImageReference": "reference",
    "push_target": "reference",
}

__all__ = [
    "MANIFEST_MEDIA_TYPES",
    "Credentials",
    "FetchedManifest",
    "ImageReference",
    "RegistryClient",
    "find_credentials",
    "parse_json",
    "push_target",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
