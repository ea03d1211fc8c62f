"""The versions of a package the configured indexes offer, to suggest the ones nearest a bad pin.

Read from each index's simple API (PEP 691 JSON, else the PEP 503 HTML page), with the index's
credentials, never shown. Only used to explain a failure: any error gives no versions, never
a worse error.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from .indexes import IndexConfig, strip_credentials

_JSON = "application/vnd.pypi.simple.v1+json"
_ANCHOR = re.compile(r"<a\s([^>]*)>([^<]+)</a>", re.IGNORECASE)


def available_versions(name: str, indexes: IndexConfig, *, timeout: float = 10) -> list:
    """Every non-yanked release of `name` (a `packaging.version.Version`), sorted."""
    import httpx
    from packaging.utils import canonicalize_name

    project = canonicalize_name(name.split("[")[0])
    credentials = indexes.credentials_by_host()
    found: set = set()
    for url in indexes.urls(with_default=True):
        if url.startswith("file://"):
            found.update(_versions(_html_files(_local_page(url, project)), project))
            continue
        page = strip_credentials(url).rstrip("/") + f"/{project}/"
        try:
            response = httpx.get(
                page,
                headers={"Accept": f"{_JSON}, text/html;q=0.5"},
                auth=credentials.get(urlsplit(url).hostname),
                timeout=timeout,
                follow_redirects=True,
            )
        except httpx.HTTPError:
            continue
        if response.status_code != 200:
            continue
        if response.headers.get("content-type", "").startswith(_JSON):
            files = _json_files(response.json())
        else:
            files = _html_files(response.text)
        found.update(_versions(files, project))
    return sorted(found)


def _local_page(url: str, project: str) -> str:
    """A file:// index's page for `project` ("" when it has none)."""
    from urllib.request import url2pathname

    folder = Path(url2pathname(urlsplit(url).path)) / project
    try:
        return (folder / "index.html").read_text(errors="replace")
    except OSError:
        return ""


def nearest_versions(versions: list, anchor, count: int = 3) -> list:
    """Up to `count` releases just below `anchor` and `count` just above it, sorted."""
    below = [v for v in versions if v < anchor][-count:]
    above = [v for v in versions if v >= anchor][:count]
    return below + above


def _json_files(document: dict) -> Iterable[tuple[str, bool]]:
    for entry in document.get("files", []):
        yield entry.get("filename", ""), bool(entry.get("yanked"))


def _html_files(text: str) -> Iterable[tuple[str, bool]]:
    for attributes, filename in _ANCHOR.findall(text):
        yield html.unescape(filename).strip(), "data-yanked" in attributes


def _versions(files: Iterable[tuple[str, bool]], project: str) -> set:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )
    from packaging.version import InvalidVersion

    versions = set()
    for filename, yanked in files:
        if yanked:
            continue
        try:
            if filename.endswith(".whl"):
                name, version, _, _ = parse_wheel_filename(filename)
            else:
                name, version = parse_sdist_filename(filename)
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if canonicalize_name(name) == project and not version.is_prerelease:
            versions.add(version)
    return versions
