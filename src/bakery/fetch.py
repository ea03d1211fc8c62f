"""Fetching locked PyPI artifacts: by their lock URL, else from the configured indexes by
file name, always checked against the lock's sha256; and a local store of them by sha256.

Snapshots upload what this fetches; image bakes read wheels from the store, so a wheel is
downloaded once per machine whatever needs it next.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from .errors import FetchError
from .lock.model import LockedPackage
from .resolve.indexes import IndexConfig, redact, strip_credentials


def fetch_pypi(
    packages: Iterable[LockedPackage], dest: Path, *, indexes: IndexConfig | None = None
) -> dict[str, Path]:
    """Download PyPI artifacts into `dest` by file name, in parallel, verified; sha256 -> path."""
    packages = list(packages)
    if not packages:
        return {}
    indexes = indexes or IndexConfig.from_environment()
    auth = indexes.credentials_by_host()
    with ThreadPoolExecutor(max_workers=8) as pool:
        fetched = pool.map(lambda p: _fetch(p, dest, auth, indexes), packages)
        return {p.sha256: path for p, path in zip(packages, fetched, strict=True)}


class ArtifactStore:
    """Verified artifacts by content: `<root>/<sha256>/<filename>`, written all or nothing."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, package: LockedPackage) -> Path:
        return self.root / package.sha256 / package.filename

    def fetch_all(
        self, packages: Sequence[LockedPackage], *, indexes: IndexConfig | None = None
    ) -> dict[str, Path]:
        """sha256 -> the stored file of each package, fetching those not stored yet."""
        missing = []
        for package in packages:
            try:
                os.utime(self.path(package))  # used now: image gc keeps it
            except FileNotFoundError:
                missing.append(package)
        if missing:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".fetch-", dir=self.root) as tmp:
                fetched = fetch_pypi(missing, Path(tmp), indexes=indexes)
                for package in missing:
                    final = self.path(package)
                    final.parent.mkdir(exist_ok=True)
                    os.replace(fetched[package.sha256], final)
        return {p.sha256: self.path(p) for p in packages}


def verify_sha256(path: Path, expected: str, what: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise FetchError(
            f"{what} does not match the sha256 in the lockfile (got {digest.hexdigest()[:16]}…): "
            "the file was altered or truncated on its way here; delete it where it is stored and run again"
        )


def _fetch(
    package: LockedPackage,
    dest: Path,
    auth: dict[str, tuple[str, str]],
    indexes: IndexConfig | None = None,
) -> Path:
    """Download one artifact by its lock URL; if that fails (a lock made on a machine with
    another mirror), look the same file up on the configured indexes. sha256-checked."""
    target = dest / package.filename
    try:
        _download(package.url, target, auth)
    except Exception as first:  # noqa: BLE001 - every transport error is handled alike
        mirror = _find_on_indexes(package, indexes, auth) if indexes else None
        if mirror is None:
            raise FetchError(
                f"cannot download {package.filename} from {redact(package.url)} "
                f"({first}), and the configured indexes do not have it either: check the network "
                "or PIP_INDEX_URL / PIP_EXTRA_INDEX_URL"
            ) from None
        _download(mirror, target, auth)
    verify_sha256(target, package.sha256, package.filename)
    return target


def _download(url: str, target: Path, auth: dict[str, tuple[str, str]]) -> None:
    parts = urlsplit(url)
    if parts.scheme == "file":
        shutil.copyfile(unquote(parts.path), target)
        return
    import httpx

    with httpx.stream(
        "GET", url, auth=auth.get(parts.hostname), follow_redirects=True, timeout=120
    ) as response:
        response.raise_for_status()
        with open(target, "wb") as f:
            for chunk in response.iter_bytes(1 << 20):
                f.write(chunk)


def _find_on_indexes(
    package: LockedPackage, indexes: IndexConfig, auth: dict[str, tuple[str, str]]
) -> str | None:
    """The URL of a file named like `package`'s on one of the PEP 503 indexes, or None (the
    download is then checked against the lock's sha256)."""
    import re

    import httpx

    name = re.sub(r"[-_.]+", "-", package.name).lower()
    for index in indexes.urls(with_default=True):
        page_url = strip_credentials(index).rstrip("/") + f"/{name}/"
        try:
            if page_url.startswith("file://"):
                page = Path(unquote(urlsplit(page_url).path), "index.html").read_text()
            else:
                response = httpx.get(
                    page_url,
                    auth=auth.get(urlsplit(page_url).hostname),
                    follow_redirects=True,
                    timeout=30,
                )
                if response.status_code != 200:
                    continue
                page, page_url = response.text, str(response.url)
        except (OSError, httpx.HTTPError):
            continue
        for href in re.findall(r'href="([^"]+)"', page):
            if href.split("#", 1)[0].rsplit("/", 1)[-1] == package.filename:
                return urljoin(page_url, href.split("#", 1)[0])
    return None
