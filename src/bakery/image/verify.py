"""`verify_image`: every file a baked image holds under `/opt/bakery/env`, checked against the lock.

The image is read as a container sees it: every layer streamed from the registry (never stored)
and applied in order, whiteouts and all, so a file changed or added by any layer is caught.
What each file must be is worked out from the lock alone — each artifact fetched and checked
against its sha256 first (`stage_env`, as a bake does) — as follows:

- a wheel's files: their sha256 in the wheel's `RECORD`, and the executable bit the wheel gives;
- what the installer writes (`RECORD`, `INSTALLER`, console and GUI scripts, `.data/scripts`
  with their shebang): written again from the wheel as a bake writes them, compared byte for byte;
- bytecode (`__pycache__/*.pyc`): compiled again from the wheel's sources (unchecked-hash `.pyc`,
  deterministic; cached like a bake's) by a local Python of the image's minor version, compared
  byte for byte. Python never checks such a `.pyc` against its source, so a changed one would run
  unnoticed. Without that Python here, `.pyc` files are listed as not checked;
- a conda package's files as rattler links them for `/opt/bakery/env` (its prefix written into
  them), and its `conda-meta` record;
- `bin/python` and `bin/python3`: links to the base's `pythonX.Y` as the image's PATH finds it.

Per package: files that match, are modified (content, mode, link target or kind) or missing;
then files that no package accounts for. Folders, and files outside `/opt/bakery/env` (the
base's), are not checked.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import tarfile
import zipfile
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ImageError
from ..lock.model import LockedEnv
from ..platforms import TargetPlatform
from ..registry import RegistryClient, parse_json
from ..registry.reference import ImageReference
from .base_check import PythonLinks, base_search_path
from .base_tree import FileTree, normalize
from .inspect import image_manifest
from .layer_stream import LAYER_ERRORS, READ_SIZE, UnreadableLayer, registry_layer, tar_members
from .layers import Entry
from .oci import LABEL_ENV_ID, ImageManifest
from .stage import StagedPackage, find_python, stage_env
from .wheel import ENV_ROOT, read_record

PREFIX = ENV_ROOT + "/"
PYTHON_LINKS = "python, python3 links"
_PYC = re.compile(r"(^|/)__pycache__/[^/]+\.pyc$")


@dataclass(frozen=True)
class Expected:
    """What one path must be: a file (sha256 hex, mode) or a symlink (its target)."""

    owner: str  # the package (`name==1.0`) whose file it is
    kind: str  # "f" or "l"
    detail: str  # sha256 hex, or the link target
    mode: int = 0


@dataclass
class PackageReport:
    """One package's files in the image: how many match, which are modified or missing."""

    package: str
    matching: int = 0
    modified: list[tuple[str, str]] = field(default_factory=list)  # (path, what differs)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.modified and not self.missing


@dataclass
class ImageReport:
    """The verdict on one image: per package, then files no package accounts for."""

    reference: str
    env_id: str
    packages: list[PackageReport]
    unexpected: list[str]
    unchecked: list[str]  # `.pyc` files, when no Python of the image's minor was here
    notes: list[str]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.packages) and not self.unexpected

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "env_id": self.env_id,
            "ok": self.ok,
            "packages": [{**p.__dict__, "ok": p.ok} for p in self.packages],
            "unexpected": self.unexpected,
            "unchecked": self.unchecked,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class ImageUnderCheck:
    """An image's manifest and config, pinned by digest."""

    reference: ImageReference
    manifest: ImageManifest
    config: dict[str, Any]

    @property
    def env_id(self) -> str | None:
        return ((self.config.get("config") or {}).get("Labels") or {}).get(LABEL_ENV_ID)


def open_image(
    client: RegistryClient, reference: str, platform: TargetPlatform | None = None
) -> ImageUnderCheck:
    """Read `reference`'s manifest and config (small documents; no layer yet)."""
    ref = ImageReference.parse(reference)
    fetched = image_manifest(client, ref, platform)
    manifest = ImageManifest.from_dict(fetched.document)
    config = parse_json(
        client.get_blob_bytes(ref.repository, manifest.config.digest),
        what=f"config {manifest.config.digest} of {ref}",
        registry=ref.registry,
    )
    return ImageUnderCheck(ref.with_digest(fetched.digest), manifest, config)


def verify_image(
    client: RegistryClient, image: ImageUnderCheck, env: LockedEnv, cache_dir: Path
) -> ImageReport:
    """Check every file of `image` under the environment's prefix against `env` (module doc)."""
    tree, hashes = image_files(client, image)
    expected, notes, compiled = expected_files(env, cache_dir, tree, image.config)
    reports = {
        owner: PackageReport(owner) for owner in dict.fromkeys(e.owner for e in expected.values())
    }
    for key, want in expected.items():
        problem = _difference(want, tree.nodes.get(key), hashes.get(key))
        report = reports[want.owner]
        if problem is None:
            report.matching += 1
        elif problem == "missing":
            report.missing.append("/" + key)
        else:
            report.modified.append(("/" + key, problem))
    unexpected, unchecked = [], []
    for key, node in sorted(tree.nodes.items()):
        if key.startswith(PREFIX) and node[0] != "d" and key not in expected:
            (unchecked if not compiled and _PYC.search(key) else unexpected).append("/" + key)
    changed_pyc = [path for r in reports.values() for path, _ in r.modified if _PYC.search(path)]
    if changed_pyc:
        notes.append(
            f"{len(changed_pyc)} .pyc file(s) differ from what Python {_python_version(env.python)} "
            "here compiles from the locked wheels: if the image was baked with another patch "
            f"release of Python {env.python}, verify it where it was baked"
        )
    if unchecked:
        notes.append(
            f"{len(unchecked)} .pyc file(s) not checked: no Python {env.python} on this machine to "
            "compile them again (set BAKERY_PYTHONS to one)"
        )
    return ImageReport(
        str(image.reference), env.env_id, list(reports.values()), unexpected, unchecked, notes
    )


def image_files(client: RegistryClient, image: ImageUnderCheck) -> tuple[FileTree, dict[str, str]]:
    """The image's file tree (every layer applied) and the sha256 of each file under the prefix."""
    tree = FileTree()
    hashes: dict[str, str] = {}

    def remember(info: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        key = normalize(info.name)
        if not key.startswith(PREFIX):
            return
        if info.isreg():
            digest = hashlib.sha256()
            stream = tar.extractfile(info)
            assert stream is not None  # a regular member always has content
            for piece in iter(lambda: stream.read(READ_SIZE), b""):
                digest.update(piece)
            hashes[key] = digest.hexdigest()
        elif info.islnk() and normalize(info.linkname) in hashes:
            hashes[key] = hashes[normalize(info.linkname)]

    repository = image.reference.repository
    for layer in image.manifest.layers:
        try:
            if layer.urls:
                raise UnreadableLayer(f"layer {layer.digest} is foreign (outside the registry)")
            with registry_layer(client, repository, layer.digest) as raw:
                tree.apply_layer(tar_members(raw, layer, remember))
        except UnreadableLayer as e:
            raise ImageError(f"cannot verify {image.reference}: {e}") from None
        except LAYER_ERRORS as e:
            raise ImageError(
                f"layer {layer.digest} of {image.reference} is not a readable tar ({e}): the "
                "image is broken; bake it again"
            ) from None
    return tree, hashes


def expected_files(
    env: LockedEnv, cache_dir: Path, tree: FileTree, config: dict[str, Any]
) -> tuple[dict[str, Expected], list[str], bool]:
    """Every path the environment puts in the image and what it must be; notes; whether the
    bytecode could be compiled here."""
    staged = stage_env(env, cache_dir)
    notes = list(staged.notes)
    expected: dict[str, Expected] = {}
    for one in staged.packages:
        with ExitStack() as stack:
            if isinstance(one, StagedPackage):
                expected.update(_wheel_files(one, stack))
            else:
                expected.update(_from_entries(one.pin, one.entries(stack)))
    if not any(p.name == "python" for p in env.by_kind("conda")):
        image_env = (config.get("config") or {}).get("Env") or []
        found = tree.commands(
            base_search_path(image_env), re.compile(re.escape(f"python{env.python}"))
        )
        interpreter = found.get(f"python{env.python}")
        if interpreter:
            with ExitStack() as stack:
                expected.update(
                    _from_entries(PYTHON_LINKS, PythonLinks(interpreter).entries(stack))
                )
        else:
            notes.append(f"the base has no python{env.python} on its PATH: its links not checked")
    compiled = all(one.bytecode is not None for one in staged.packages)
    return expected, notes, compiled


def _wheel_files(one: StagedPackage, stack: ExitStack) -> dict[str, Expected]:
    """A wheel's files by their RECORD hashes; what the installer writes, and bytecode, by
    their bytes."""
    archive = stack.enter_context(zipfile.ZipFile(one.wheel))
    layout = one.layout(archive)
    record = read_record(archive, f"{layout.dist_info}/RECORD", one.wheel.name)
    found: dict[str, Expected] = {}
    for path, info in layout.files.items():
        digest = _record_hex(record.get(info.filename, ("", ""))[0])
        if digest is None:  # not in RECORD, or another algorithm: the wheel's own bytes
            digest = _sha256(archive.open(info))
        mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
        found[path] = Expected(one.pin, "f", digest, mode)
    for path, (data, mode) in layout.generated.items():
        found[path] = Expected(one.pin, "f", hashlib.sha256(data).hexdigest(), mode)
    if one.bytecode is not None:
        code = stack.enter_context(zipfile.ZipFile(one.bytecode))
        for info in code.infolist():
            found[info.filename] = Expected(one.pin, "f", _sha256(code.open(info)), 0o644)
    return found


def _from_entries(owner: str, entries: Iterable[Entry]) -> dict[str, Expected]:
    found = {}
    for entry in entries:
        if entry.kind == tarfile.SYMTYPE:
            found[entry.name] = Expected(owner, "l", entry.linkname)
        elif entry.kind == tarfile.REGTYPE and entry.open is not None:
            found[entry.name] = Expected(owner, "f", _sha256(entry.open()), entry.mode)
    return found


def _difference(want: Expected, node: tuple | None, digest: str | None) -> str | None:
    """None if the image's `node` is what `want` says; else what differs ("missing", ...)."""
    if node is None:
        return "missing"
    kinds = {"f": "a file", "l": "a symlink", "d": "a folder"}
    if node[0] != want.kind:
        return f"{kinds[node[0]]}, expected {kinds[want.kind]}"
    if want.kind == "l":
        return None if node[1] == want.detail else f"links to {node[1]}, expected {want.detail}"
    if digest != want.detail:
        return f"content differs (sha256 {digest or '?'}, expected {want.detail})"
    mode = int(node[1]) & 0o7777
    return None if mode == want.mode else f"mode {mode:o}, expected {want.mode:o}"


def _python_version(minor: str) -> str:
    """The full version of the interpreter that compiles bytecode for `minor` here."""
    python = find_python(minor)
    if python is None:
        return minor
    done = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or minor


def _record_hex(text: str) -> str | None:
    """`sha256=<urlsafe base64>` (a RECORD hash) as hex; None for anything else."""
    algorithm, _, value = text.partition("=")
    if algorithm != "sha256" or not value:
        return None
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()


def _sha256(stream) -> str:
    digest = hashlib.sha256()
    with stream:
        for piece in iter(lambda: stream.read(READ_SIZE), b""):
            digest.update(piece)
    return digest.hexdigest()
