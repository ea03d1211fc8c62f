"""Does a base image hold what a baked task needs? Read from its layers, cached per base digest.

A task in a baked image runs Metaflow's task command in `bash`. A PyPI environment is
site-packages put in front of the base's own interpreter: the image runs `pythonX.Y` found on
PATH (scripts start `#!/usr/bin/env pythonX.Y`, and `python`/`python3` in the environment's
`bin/` link to that same interpreter), so the base needs `pythonX.Y` on its PATH. A conda
environment brings its own Python and needs only `bash`.

The same listing tells whether each Python's standard library has bytecode: a base unpacked
without its packages' install scripts (`dpkg-deb -x`, some rootfs tools) has none, and then
every task compiles the stdlib modules it imports each time it starts. That is a note, not a
refusal: the image works, only slower to start.

The base's layers are read once as tar listings, streamed (a layer is never held in memory
or, unless the bake copies it anyway, written to disk), into a `FileTree`; what PATH finds
there is cached per base digest and PATH, so every later bake on that base reads nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import BaseImageError, ImageError
from ..registry import RegistryClient
from .base import BaseImage
from .base_tree import FileTree
from .compression import Compression
from .gc import mark_used
from .layer_stream import LAYER_ERRORS, UnreadableLayer, registry_layer, tar_members
from .layers import Entry, LayerJob, write_atomic
from .oci import Descriptor
from .wheel import ENV_ROOT

CHECK_VERSION = 2  # part of the cache key: bump when what is recorded changes
_COMMANDS = re.compile(r"bash|python(\d+(\.\d+)?)?")
_PYTHON_MINOR = re.compile(r"python\d+\.\d+")


@dataclass(frozen=True)
class BaseCommands:
    """What the base's PATH finds: `bash` and the Pythons, name -> path as PATH spells it.

    `unread` says why the layers could not be read (zstd, foreign layers): then nothing is known
    and nothing is refused.
    """

    search_path: str
    found: Mapping[str, str] = field(default_factory=dict)
    unread: str = ""
    # pythonX.Y -> its standard library's folder, for those whose stdlib has no bytecode
    stdlib_without_bytecode: Mapping[str, str] = field(default_factory=dict)

    def python(self, minor: str) -> str | None:
        """Where PATH finds `python<minor>` (e.g. `/usr/local/bin/python3.11`), or None."""
        return self.found.get(f"python{minor}")

    def pythons(self) -> list[str]:
        """Versioned interpreters on PATH (`python3.12`, ...), for messages."""
        return sorted(name for name in self.found if _PYTHON_MINOR.fullmatch(name))

    def stdlib_note(self, minor: str) -> str | None:
        """What to say when `python<minor>`'s standard library has no bytecode, else None."""
        folder = self.stdlib_without_bytecode.get(f"python{minor}")
        if folder is None:
            return None
        return (
            f"the base's Python {minor} has no bytecode for its standard library (nothing in "
            f"{folder}/__pycache__): every task compiles the stdlib modules it imports when it "
            f"starts, ~0.4 s or more each time. Compile it into the base (`python{minor} -m "
            f"compileall -q {folder}`), or use a base that has it (python:{minor}-slim, "
            "Debian's python3 packages as installed by apt)"
        )


def base_commands(
    base: BaseImage,
    search_path: str,
    client: RegistryClient,
    cache_dir: Path,
    *,
    keep_layers: bool = False,
) -> BaseCommands:
    """What `search_path` finds in `base`; read from its layers the first time, then cached.

    With `keep_layers` (the bake copies them to another registry anyway) a layer not yet in
    `cache_dir/blobs` is downloaded there, so it is fetched once; otherwise it is streamed.
    """
    key = hashlib.sha256(f"v{CHECK_VERSION}|{base.digest}|{search_path}".encode()).hexdigest()
    record = cache_dir / "base-commands" / f"{key[:40]}.json"
    try:
        data = json.loads(record.read_text())
        mark_used(record)
        return BaseCommands(
            search_path, data["found"], data.get("unread", ""), data["stdlib_without_bytecode"]
        )
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    try:
        tree = read_tree(base, client, cache_dir, keep_layers=keep_layers)
    except _Unreadable as e:
        commands = BaseCommands(search_path, {}, str(e))
    else:
        found = tree.commands(search_path, _COMMANDS)
        bare = {
            name: folder
            for name, path in found.items()
            if _PYTHON_MINOR.fullmatch(name)
            and (folder := _stdlib_without_bytecode(tree, path, name[len("python") :]))
        }
        commands = BaseCommands(search_path, found, stdlib_without_bytecode=bare)
    data = {
        "found": dict(commands.found),
        "unread": commands.unread,
        "stdlib_without_bytecode": dict(commands.stdlib_without_bytecode),
    }
    write_atomic(record, json.dumps(data, sort_keys=True))
    return commands


def _stdlib_without_bytecode(tree: FileTree, interpreter: str, minor: str) -> str | None:
    """The standard library's folder (`/usr/lib/python3.11`) of the interpreter at `interpreter`
    if it has `os.py` but not its bytecode; None if it has it or the layout is not CPython's
    `PREFIX/bin/pythonX.Y` + `PREFIX/lib/pythonX.Y`."""
    real = tree.resolve(interpreter)
    if real is None:
        return None
    folder = PurePosixPath("/", real).parent.parent / "lib" / f"python{minor}"
    tag = f"cpython-{minor.replace('.', '')}"
    if tree.resolve(f"{folder}/os.py") is None:
        return None
    if tree.resolve(f"{folder}/__pycache__/os.{tag}.pyc") is not None:
        return None
    return str(folder)


def base_search_path(image_env: Sequence[str]) -> str:
    """The PATH of an image's `NAME=value` items, less the environment's own `bin/`: where
    the base's commands are found."""
    path = next((item[5:] for item in image_env if item.startswith("PATH=")), "")
    ours = f"/{ENV_ROOT}/bin"
    return ":".join(folder for folder in path.split(":") if folder.rstrip("/") != ours)


def check_base(base: BaseImage, commands: BaseCommands, python_minor: str | None) -> None:
    """Refuse a base that lacks `bash` or (when `python_minor` is given) `python<minor>`."""
    missing = []
    if python_minor is not None and commands.python(python_minor) is None:
        others = commands.pythons()
        has = f", it has only {', '.join(others)}" if others else ""
        missing.append(f"Python {python_minor} (no `python{python_minor}`{has})")
    if "bash" not in commands.found:
        missing.append("bash (Metaflow's task command runs in it)")
    if not missing or commands.unread:
        return
    needs = f"Python {python_minor} and bash" if python_minor else "bash"
    why = (
        "; a PyPI environment runs on the base's own Python"
        if python_minor
        else " (a conda environment brings its own Python)"
    )
    example = f"python:{python_minor}-slim" if python_minor else "debian:bookworm-slim"
    raise BaseImageError(
        f"base image {base.pinned} lacks {' and '.join(missing)} on its PATH "
        f"({commands.search_path}): tasks in the baked image need {needs}{why}. Choose a base "
        f"that has them (e.g. {example}) with --base or (METAFLOW_)BAKERY_BASE_IMAGE, or "
        "install them into this base and push it again"
    )


@dataclass(frozen=True)
class PythonLinks:
    """`python` and `python3` in the environment's `bin/`, linking to the base's interpreter:
    Metaflow's commands call `python`, and a base may have only `python3` (or another one)."""

    interpreter: str  # where the base's PATH finds pythonX.Y, e.g. /usr/local/bin/python3.11
    bytecode: None = None  # nothing to compile: a bake waits on no one to build this layer

    @property
    def label(self) -> str:
        return f"the links to the base's {self.interpreter}"

    def entries(self, stack: ExitStack) -> Iterator[Entry]:
        for name in ("python", "python3"):
            path = f"{ENV_ROOT}/bin/{name}"
            yield Entry(path, 0o777, tarfile.SYMTYPE, linkname=self.interpreter)


def python_links_job(interpreter: str, compression: Compression) -> LayerJob:
    """The layer of `PythonLinks` to `interpreter`: a few hundred bytes, shared by every
    environment baked on bases that keep their Python there."""
    text = f"python-links|{interpreter}|{compression.codec}"
    key = hashlib.sha256(text.encode()).hexdigest()[:40]
    label = f"python python3 -> {interpreter}"
    return LayerJob(key=key, sources=(PythonLinks(interpreter),), packages=(label,))


def read_tree(
    base: BaseImage, client: RegistryClient, cache_dir: Path, *, keep_layers: bool = False
) -> FileTree:
    """The base's root filesystem as paths: every layer's listing applied in order."""
    tree = FileTree()
    for layer in base.manifest.layers:
        if layer.urls:
            raise _Unreadable(f"layer {layer.digest} is foreign (outside the registry)")
        with _open_layer(base, layer, client, cache_dir, keep_layers) as raw:
            try:
                tree.apply_layer(tar_members(raw, layer))
            except LAYER_ERRORS as e:
                raise ImageError(
                    f"layer {layer.digest} of base image {base.pinned} is not a readable tar "
                    f"({e}): the base is broken; push it again or choose another base"
                ) from None
    return tree


_Unreadable = UnreadableLayer  # the base cannot be checked


@contextmanager
def _open_layer(
    base: BaseImage, layer: Descriptor, client: RegistryClient, cache_dir: Path, keep: bool
) -> Iterator[BinaryIO]:
    path = cache_dir / "blobs" / "sha256" / layer.digest.split(":", 1)[1]
    if keep and not path.is_file():
        client.pull_blob(base.reference.repository, layer.digest, path)
    if path.is_file():
        mark_used(path)
        with open(path, "rb") as file:
            yield file
        return
    with registry_layer(client, base.reference.repository, layer.digest) as stream:
        yield stream
