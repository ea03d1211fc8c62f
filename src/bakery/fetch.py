"""Fetching locked PyPI artifacts: by their lock URL, else from the configured indexes by
file name, always checked against the lock's sha256; and a local store of them by sha256.

Snapshots upload what this fetches; image bakes read wheels from the store, so a wheel is
downloaded once per machine whatever needs it next.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
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


# A stamp is written only for a file last changed this long before it was hashed: a change in
# the same clock tick as the stamped one would leave ctime as it was.
_STAMP_MIN_AGE_S = 2.0


class ArtifactStore:
    """Verified artifacts by content: `<root>/<sha256>/<filename>`, written all or nothing.

    A stored file is checked against the lock's sha256 each time it is taken from the store: a
    damaged, truncated or replaced file is deleted and fetched again. Hashing a large
    environment's wheels takes seconds, so each check leaves a stamp beside the file (its size,
    inode, mtime and ctime): while the file's stat still matches its stamp, it has not been
    written since it was hashed (a write, truncation, chmod or rename over it moves ctime, and
    no process can set ctime back), and it is not hashed again.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, package: LockedPackage) -> Path:
        return self.root / package.sha256 / package.filename

    def fetch_all(
        self, packages: Sequence[LockedPackage], *, indexes: IndexConfig | None = None
    ) -> dict[str, Path]:
        """sha256 -> the stored file of each package, checked; fetching those not stored yet
        (or damaged)."""
        self.fetch(self.unusable(packages), indexes=indexes)
        return {p.sha256: self.path(p) for p in packages}

    def unusable(self, packages: Sequence[LockedPackage]) -> list[LockedPackage]:
        """The packages to fetch: not stored, or stored but failing the lock's sha256 (those
        files are deleted). The others are marked used, for image gc."""
        stored = [p for p in packages if self.path(p).is_file()]
        with ThreadPoolExecutor(max_workers=min(8, len(stored) or 1)) as pool:
            good = {
                p.sha256 for p, ok in zip(stored, pool.map(self._check, stored), strict=True) if ok
            }
        return [p for p in packages if p.sha256 not in good]

    def fetch(
        self, packages: Sequence[LockedPackage], *, indexes: IndexConfig | None = None
    ) -> None:
        """Download `packages` into the store, each checked against the lock's sha256."""
        if not packages:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=self.root) as tmp:
            fetched = fetch_pypi(packages, Path(tmp), indexes=indexes)
            for package in packages:
                final = self.path(package)
                final.parent.mkdir(exist_ok=True)
                os.replace(fetched[package.sha256], final)

    def _stamp(self, package: LockedPackage) -> Path:
        return self.root / package.sha256 / f".{package.filename}.checked"

    def _check(self, package: LockedPackage) -> bool:
        """Whether the stored file of `package` matches the lock; a damaged one is deleted."""
        path, stamp = self.path(package), self._stamp(package)
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if _read_stamp(stamp) == _signature(st):
            _touch(stamp)  # used now: image gc keeps the folder
            return True
        if file_sha256(path) != package.sha256:
            try:  # damaged, truncated or replaced: fetched again
                path.unlink(missing_ok=True)
                stamp.unlink(missing_ok=True)
            except OSError as e:
                raise FetchError(
                    f"{path} does not match the sha256 in the lock and cannot be deleted "
                    f"({e.strerror or e}): delete it, then run again"
                ) from None
            return False
        # the stamp also marks the folder used, for image gc; a null one only does that
        signature = _signature(st) if time.time() - st.st_ctime >= _STAMP_MIN_AGE_S else None
        try:
            stamp.write_text(json.dumps(signature))
        except OSError:
            pass  # a read-only store: hashed again next time
        return True


def _read_stamp(stamp: Path) -> object:
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (hashlib releases the GIL meanwhile)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, what: str) -> None:
    actual = file_sha256(path)
    if actual != expected:
        raise FetchError(
            f"{what} does not match the sha256 in the lockfile (got {actual[:16]}…): "
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
    url = package.url
    try:
        _download(url, target, auth)
    except Exception as first:  # noqa: BLE001 - every transport error is handled alike
        url = _find_on_indexes(package, indexes, auth) if indexes else None
        if url is None:
            raise FetchError(
                f"cannot download {package.filename} from {redact(package.url)} "
                f"({first}), and the configured indexes do not have it either: check the network "
                "or PIP_INDEX_URL / PIP_EXTRA_INDEX_URL"
            ) from None
        _download(url, target, auth)
    actual = file_sha256(target)
    if actual != package.sha256:
        raise FetchError(
            f"{package.name} {package.version}: {package.filename} downloaded from "
            f"{redact(url)} has sha256 {actual[:16]}…, but the lock says "
            f"{package.sha256[:16]}…: the published file differs from the one that was locked "
            "(replaced on the index, or altered on the way by a proxy). Find out why; re-lock "
            "(`bakery lock`) only if you trust the file published now."
        )
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
