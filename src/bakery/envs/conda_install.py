"""Install a locked environment's conda packages into a prefix with rattler.

The lock keeps each package's full repodata record, so installing needs no repodata and no
solve: the records are rebuilt and handed to `rattler.install`, which fetches each archive
(checking its sha256), extracts it into the package cache and links it into the prefix.
Given `package_dir` (a snapshot: `<filename>` files fetched earlier by
`download_conda_packages`), nothing is fetched from the network.

Atomicity (build in a temporary directory, rename, lock) is the caller's job: here a failure
raises `EnvironmentBuildError` naming the package, and the prefix must be discarded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EnvironmentBuildError
from ..lock.model import LockedEnv, LockedPackage
from ..resolve.conda import run_sync

_CHUNK = 1 << 20


def install_conda(
    env: LockedEnv,
    prefix: Path,
    *,
    cache_dir: Path | None = None,
    package_dir: Path | None = None,
    alternative_prefix: str | None = None,
) -> None:
    """Link the conda packages of `env` into `prefix`.

    `cache_dir` is rattler's package cache (its default if None). With `package_dir`, each
    archive is read from `package_dir/<filename>` after its sha256 is checked, never fetched.
    With `alternative_prefix`, files that embed their prefix get that path instead of `prefix`
    (an environment staged here for use elsewhere, e.g. in an image).
    If this call created `prefix` and fails, it removes it again.
    """
    packages = env.by_kind("conda")
    if not packages:
        return
    local_files = [_local_file(p, package_dir) for p in packages]
    for package, local_file in zip(packages, local_files, strict=True):
        # rattler checks hashes of what it downloads, not of file:// archives: check those here
        if local_file is not None:
            verify_package_file(package, local_file)
    records = [repodata_record(p, f) for p, f in zip(packages, local_files, strict=True)]
    prefix = Path(prefix)
    created = not prefix.exists()
    try:
        run_sync(_install(records, prefix, cache_dir, env.spec.platform.subdir, alternative_prefix))
    except Exception as error:
        if created:  # a half-linked prefix must not look usable
            shutil.rmtree(prefix, ignore_errors=True)
        culprit = _package_named_in(str(error), packages)
        raise EnvironmentBuildError(
            f"installing conda package {culprit} into {prefix} failed: "
            f"{_condense(error)}; check that the package can still be downloaded (or restore "
            "the snapshot) and retry, or re-lock the environment"
        ) from None


def repodata_record(package: LockedPackage, local_file: Path | None = None) -> Any:
    """Rebuild the rattler `RepoDataRecord` stored in a lock entry (optionally from a file)."""
    from rattler import PackageRecord, RepoDataRecord

    if not package.record:
        raise EnvironmentBuildError(
            f"the lock entry for conda package '{package.name}' has no repodata record; "
            "re-lock the environment"
        )
    data = dict(package.record)
    with tempfile.TemporaryDirectory(prefix="bakery-record-") as tmp:
        index_json = Path(tmp) / "index.json"
        index_json.write_text(json.dumps(data))
        record = PackageRecord.from_index_json(index_json)
    # index.json carries no hashes or size: put back the ones the channel published
    if data.get("sha256"):
        record.sha256 = bytes.fromhex(data["sha256"])
    if data.get("md5"):
        record.md5 = bytes.fromhex(data["md5"])
    if data.get("size") is not None:
        record.size = int(data["size"])
    url = local_file.resolve().as_uri() if local_file else data.get("url", package.url)
    channel = data.get("channel") or package.channel or ""
    return RepoDataRecord(record, data.get("fn", package.filename), url, channel)


def download_conda_packages(env: LockedEnv, dest_dir: Path) -> list[Path]:
    """Fetch every conda archive of `env` into `dest_dir/<filename>`, sha256-checked.

    Files already there with the right hash are kept. Returns the paths, in lock order.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    packages = env.by_kind("conda")
    todo = [p for p in packages if not _has_valid_file(p, dest_dir / p.filename)]
    if todo:
        run_sync(_download_all(todo, dest_dir))
    for package in packages:
        verify_package_file(package, dest_dir / package.filename)
    return [dest_dir / p.filename for p in packages]


def verify_package_file(package: LockedPackage, path: Path) -> None:
    """Raise `EnvironmentBuildError` unless `path` exists and matches the lock's hash."""
    if not path.is_file():
        raise EnvironmentBuildError(
            f"conda package '{package.name}' ({package.filename}) is missing from {path.parent}; "
            "download it again (download_conda_packages) or restore the snapshot"
        )
    expected, actual = _expected_and_actual(package, path)
    if expected and actual != expected:
        raise EnvironmentBuildError(
            f"conda package '{package.name}' at {path} does not match the lock "
            f"(expected {expected}, got {actual}): it changed since it was locked; re-lock, or "
            "if it is a downloaded copy, delete it and download it again"
        )


def _local_file(package: LockedPackage, package_dir: Path | None) -> Path | None:
    """Where the archive is on this machine: in the snapshot, or at a file:// URL."""
    if package_dir is not None:
        return Path(package_dir) / package.filename
    url = (package.record or {}).get("url", package.url)
    if url.startswith("file://"):
        return Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    return None


def _has_valid_file(package: LockedPackage, path: Path) -> bool:
    if not path.is_file():
        return False
    expected, actual = _expected_and_actual(package, path)
    return bool(expected) and actual == expected


def _expected_and_actual(package: LockedPackage, path: Path) -> tuple[str, str]:
    """The lock's sha256 (md5 for old channels without one) and the file's."""
    if package.sha256:
        return package.sha256, _file_digest(path, "sha256")
    md5 = (package.record or {}).get("md5", "")
    return md5, _file_digest(path, "md5") if md5 else ""


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def _install(
    records: list,
    prefix: Path,
    cache_dir: Path | None,
    subdir: str,
    alternative_prefix: str | None = None,
) -> None:
    from rattler import Subdir, install

    await install(
        records,
        prefix,
        cache_dir=cache_dir,
        platform=Subdir(subdir),
        execute_link_scripts=False,
        show_progress=False,
        alternative_target_prefix=alternative_prefix,
    )


async def _download_all(packages: Sequence[LockedPackage], dest_dir: Path) -> None:
    import asyncio

    from rattler import Client

    client = Client.default_client(max_retries=2)
    await asyncio.gather(*(_download(client, p, dest_dir) for p in packages))


async def _download(client: Any, package: LockedPackage, dest_dir: Path) -> None:
    from rattler.package_streaming import download_to_path

    partial = dest_dir / f".{package.filename}.part"
    try:
        if package.url.startswith("file://"):
            shutil.copyfile(_local_file(package, None) or package.url, partial)
        else:
            await download_to_path(client, package.url, partial)
        verify_package_file(package, partial)
        partial.replace(dest_dir / package.filename)
    except EnvironmentBuildError:
        partial.unlink(missing_ok=True)
        raise
    except Exception as error:
        partial.unlink(missing_ok=True)
        raise EnvironmentBuildError(
            f"downloading conda package '{package.name}' from {package.url} failed: "
            f"{_condense(error)}; check the channel is reachable and retry"
        ) from None


def _package_named_in(message: str, packages: Sequence[LockedPackage]) -> str:
    for package in packages:
        if package.filename in message or package.filename.rsplit(".", 2)[0] in message:
            return f"'{package.name}' ({package.filename})"
    for package in packages:
        if f"'{package.name}'" in message or f" {package.name} " in message:
            return f"'{package.name}'"
    return "(one of " + ", ".join(p.name for p in packages) + ")"


def _condense(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " / ".join(lines[:4]) or type(error).__name__
