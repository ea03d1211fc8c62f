"""`conda-lock.yml` (conda-lock's unified lockfile, version 1): pins per platform, taken as
they are.

Each entry for the step's platform becomes a lock entry: `manager: conda` ones a conda package
(its repodata record rebuilt from the entry: name, version, the build string from the file
name, dependencies, hashes, channel and subdir from the URL), `manager: pip` ones a PyPI
artifact (URL and sha256). `category: main` entries are always installed; `groups=` adds other
categories (`dev`, ...). A conda-lock entry does not say how a `noarch` package links (python or
generic): those archives are fetched once (sha256-checked) and their record read from the
package itself, as conda does when it installs an explicit lock.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from ..errors import SourceFileError
from ..lock.model import LockedEnv, LockedPackage
from ..resolve.indexes import strip_credentials
from ..spec import EnvSpec, TargetPlatform
from .environment_yml import load_yaml
from .pylock import SKIPPED


def packages_from_conda_lock(
    text: str, where: str, *, platform: TargetPlatform, groups: tuple[str, ...] = ()
) -> tuple[LockedPackage, ...]:
    data = load_yaml(text, where)
    if (
        not isinstance(data, dict)
        or data.get("version") != 1
        or not isinstance(data.get("package"), list)
    ):
        raise SourceFileError(
            f"{where} is not a conda-lock file Bakery reads (version: 1 with a `package:` list); "
            "regenerate it with a current conda-lock"
        )
    platforms = (data.get("metadata") or {}).get("platforms") or []
    subdir = platform.subdir
    if platforms and subdir not in platforms:
        raise SourceFileError(
            f"{where} has no packages for {subdir} (it has: {', '.join(platforms)}): lock it "
            f"for that platform too (conda-lock -p {subdir})"
        )
    wanted = {"main", *groups}
    out = []
    for number, entry in enumerate(data["package"], 1):
        if not isinstance(entry, dict) or entry.get("platform") != subdir:
            continue
        categories = entry.get("categories") or [entry.get("category") or "main"]
        if not wanted.intersection(categories):
            continue
        package = _package(entry, f"{where}, package {number} ({entry.get('name')})")
        if package.name not in SKIPPED:
            out.append(package)
    return tuple(out)


def _package(entry: dict, where: str) -> LockedPackage:
    url, hashes = entry.get("url"), entry.get("hash") or {}
    if not url or not hashes.get("sha256"):
        raise SourceFileError(f"{where}: an entry needs a url and a sha256 hash")
    url = strip_credentials(str(url))
    filename = url.rsplit("/", 1)[-1]
    name, version = str(entry["name"]).lower(), str(entry["version"])
    if entry.get("manager") == "pip":
        return LockedPackage("pypi", name, version, url, hashes["sha256"], filename)
    if entry.get("manager") != "conda":
        raise SourceFileError(f"{where}: unknown manager {entry.get('manager')!r} (conda or pip)")
    build = _build_string(filename, name, version, where)
    head, subdir = url.rsplit("/", 2)[:2]
    number = re.search(r"_(\d+)$", build)
    record = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": int(number.group(1)) if number else 0,
        "depends": [
            f"{dep} {spec}".strip() for dep, spec in (entry.get("dependencies") or {}).items()
        ],
        "subdir": subdir,
        "sha256": hashes["sha256"],
        "fn": filename,
        "url": url,
        "channel": head,
    }
    if hashes.get("md5"):
        record["md5"] = hashes["md5"]
    return LockedPackage(
        "conda", name, version, url, hashes["sha256"], filename, channel=head, record=record
    )


def _build_string(filename: str, name: str, version: str, where: str) -> str:
    stem = re.sub(r"\.(conda|tar\.bz2)$", "", filename)
    prefix = f"{name}-{version}-"
    if not stem.startswith(prefix):
        raise SourceFileError(f"{where}: the file {filename} does not match {name} {version}")
    return stem[len(prefix) :]


def complete_noarch_records(
    packages: tuple[LockedPackage, ...], spec: EnvSpec
) -> tuple[LockedPackage, ...]:
    """Read the record of every `noarch` conda package from its archive (how it links)."""
    import dataclasses

    from ..envs.conda_install import download_conda_packages
    from ..resolve.conda import run_sync

    noarch = [
        p
        for p in packages
        if p.kind == "conda"
        and (p.record or {}).get("subdir") == "noarch"
        and "noarch" not in (p.record or {})
    ]
    if not noarch:
        return packages
    from rattler import RepoDataRecord

    subset = LockedEnv(spec=spec, python="", packages=tuple(noarch))
    completed = {}
    with tempfile.TemporaryDirectory(prefix="bakery-noarch-") as tmp:
        for package, path in zip(noarch, download_conda_packages(subset, Path(tmp)), strict=True):
            record = json.loads(run_sync(RepoDataRecord.from_package_archive(path)).to_json())
            record.update(url=package.url, channel=package.channel, fn=package.filename)
            completed[package.sha256] = dataclasses.replace(package, record=record)
    return tuple(completed.get(p.sha256, p) for p in packages)
