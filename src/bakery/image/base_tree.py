"""A base image's root filesystem as paths only: its layers' tar listings applied in order.

Pure: tar headers in, answers out. No file content is kept, only each path's kind (folder,
file and its mode, symlink and its target), so even a large base costs a few MB. Layers apply
as an overlay filesystem applies them: `.wh.NAME` deletes NAME of the layers below,
`.wh..wh..opq` empties its folder of them, and a file over a folder replaces the whole folder.
Lookups follow symlinks in every component, relative and absolute, as the kernel does inside
the container (`/bin -> usr/bin`, `python3 -> python3.11`).
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterable, Mapping

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_MAX_SYMLINK_HOPS = 40  # Linux's own limit: deeper is a loop

# (kind, detail): ("d", 0), ("f", mode) or ("l", link target)
Node = tuple[str, int | str]
_FOLDER: Node = ("d", 0)


def normalize(name: str) -> str:
    """A tar member name as a path key: no leading `./` or `/`, no trailing `/`; "" is the root."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return "/".join(parts)


def _ancestors(key: str) -> Iterable[str]:
    """`a/b/c` -> `a/b`, `a`, "" (the root)."""
    while key:
        key = key.rpartition("/")[0]
        yield key


class FileTree:
    """Paths of a root filesystem, built up one layer at a time with `apply_layer`."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {"": _FOLDER}

    def apply_layer(self, members: Iterable[tarfile.TarInfo]) -> None:
        """Apply one layer's members (in tar order, streamed) over the layers applied before."""
        added: dict[str, Node] = {}
        removed: set[str] = set()  # whiteouts: the path and everything under it
        emptied: set[str] = set()  # opaque folders, and folders a file replaces: what is under
        for info in members:
            key = normalize(info.name)
            parent, _, name = key.rpartition("/")
            if name == OPAQUE:
                emptied.add(parent)
            elif name.startswith(WHITEOUT):
                removed.add(f"{parent}/{name[len(WHITEOUT) :]}".lstrip("/"))
            elif key:
                added[key] = self._node(info, added)
        for key, node in added.items():
            if node[0] != "d" and self.nodes.get(key, node)[0] == "d":
                emptied.add(key)
        if removed or emptied:
            self.nodes = {
                key: node for key, node in self.nodes.items() if not _hidden(key, removed, emptied)
            }
        for key, node in added.items():
            for parent in _ancestors(key):  # a tar may leave out its folders' own entries
                if self.nodes.get(parent, ("",))[0] not in ("d", "l"):
                    self.nodes[parent] = _FOLDER
            self.nodes[key] = node

    def _node(self, info: tarfile.TarInfo, added: Mapping[str, Node]) -> Node:
        if info.issym():
            return ("l", info.linkname)
        if info.isdir():
            return _FOLDER
        if info.islnk():  # a hard link is the file it links to (in this layer or below)
            target = normalize(info.linkname)
            node = added.get(target) or self.nodes.get(target)
            return node if node is not None and node[0] == "f" else ("f", info.mode)
        return ("f", info.mode)

    def resolve(self, path: str) -> str | None:
        """The key `path` names once every symlink in it is followed, or None if it leads
        nowhere (a missing component, a dangling link, a loop)."""
        pending = [part for part in reversed(path.split("/")) if part]
        current: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                if current:
                    current.pop()
                continue
            key = "/".join([*current, part])
            node = self.nodes.get(key)
            if node is None:
                return None
            if node[0] == "l":
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    return None
                target = str(node[1])
                if target.startswith("/"):
                    current = []
                pending.extend(p for p in reversed(target.split("/")) if p)
                continue
            if pending and node[0] != "d":
                return None  # a file used as a folder
            current.append(part)
        return "/".join(current)

    def is_executable(self, path: str) -> bool:
        """Whether `path` (symlinks followed) is a file with an execute bit, as `execvp` needs."""
        key = self.resolve(path)
        node = self.nodes.get(key) if key is not None else None
        return node is not None and node[0] == "f" and int(node[1]) & 0o111 != 0

    def commands(self, search_path: str, pattern: re.Pattern[str]) -> dict[str, str]:
        """Executables whose names match `pattern`, each where `search_path` (a PATH value)
        finds it first: name -> `/dir/name` as PATH spells it."""
        folders = [d.rstrip("/") or "/" for d in search_path.split(":") if d.startswith("/")]
        real = {folder: self.resolve(folder) for folder in folders}
        wanted = {key for key in real.values() if key is not None and self.nodes[key][0] == "d"}
        listed: dict[str, list[str]] = {key: [] for key in wanted}
        for key in self.nodes:
            parent, _, name = key.rpartition("/")
            if parent in wanted and pattern.fullmatch(name):
                listed[parent].append(name)
        found: dict[str, str] = {}
        for folder in folders:
            key = real[folder]
            for name in sorted(listed[key] if key in listed else ()):
                path = f"{folder.rstrip('/')}/{name}"
                if name not in found and self.is_executable(path):
                    found[name] = path
        return found


def _hidden(key: str, removed: set[str], emptied: set[str]) -> bool:
    """Whether this layer's whiteouts hide `key` of the layers below."""
    if key in removed:
        return True
    return any(a in removed or a in emptied for a in _ancestors(key))
