"""What a layer may hold: member paths normalized and kept inside the environment's prefix.

A layer is unpacked by container runtimes, registries' scanners and any tool a user points at
it; some follow `..`, absolute names or symlinks out of where they unpack. So every member name
of every layer we write (and the link target of every link) passes through these rules, and a
package whose paths would leave the prefix is refused before anything is pushed:

- a member name is normalized (no `.` or empty segments) and must not be absolute, hold `..`
  or a NUL byte, or lie outside the prefix;
- a hard link's target follows the same rules (it names another member);
- a relative symlink target must resolve, from the link's folder, inside the prefix;
- an absolute symlink target is kept: it names a path of the image's own root filesystem, which
  the runtime resolves inside the container (bakery's own `bin/python -> /usr/bin/python3.11`;
  conda-build keeps links to system paths such as `/usr/...` absolute and makes links into the
  prefix relative). A link writes nothing itself: what must never happen is a member written
  *through* a link, which `refuse_members_below_symlinks` refuses;
- only files, folders and links: no devices or fifos.

`checked_member` is the gate every layer member passes (`layers.write_layer`). Pure: strings in,
strings out or `UnsafePathError`.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
from collections.abc import Mapping

from ..errors import UnsafePathError

ENV_ROOT = "opt/bakery/env"  # the environment's prefix in the image, relative to `/`

# entry point names uv and pip refuse: the environment's own interpreters
_RESERVED_SCRIPT = re.compile(r"python|pythonw|python3|python3\.\d+")


def relative_parts(path: str) -> list[str] | str:
    """The segments of a relative path without `.` or empty ones, or why it is refused."""
    if "\x00" in path:
        return "holds a NUL byte"
    if path.startswith("/"):
        return "is absolute, so it would land outside the environment"
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        return "climbs out with '..', so it could land outside the environment"
    if not parts:
        return "is empty"
    return parts


def checked_relative(path: str, owner: str, action: str) -> str:
    """`path` (inside a package: a zip member, a RECORD row, a paths.json entry) normalized;
    raises `UnsafePathError` if it is absolute or climbs out."""
    parts = relative_parts(path)
    if isinstance(parts, str):
        raise UnsafePathError(_message(owner, repr(path), parts, action))
    return "/".join(parts)


def member_name(name: str, *, inside: str, owner: str, action: str) -> str:
    """A layer member name, normalized, and inside `inside` ("" allows the whole filesystem)."""
    normalized = checked_relative(name, owner, action)
    if inside and normalized != inside and not normalized.startswith(inside + "/"):
        why = f"lies outside /{inside}, the environment"
        raise UnsafePathError(_message(owner, repr(name), why, action))
    return normalized


def symlink_target(name: str, target: str, *, inside: str, owner: str, action: str) -> str:
    """The target of symlink `name` (normalized member name), checked; returned unchanged."""
    what = f"the symlink {name!r} -> {target!r}"
    if "\x00" in target or not target:
        raise UnsafePathError(_message(owner, what, "has an empty or NUL target", action))
    if target.startswith("/") or not inside:
        return target  # absolute: resolved inside the container's root (see module doc)
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved != inside and not resolved.startswith(inside + "/"):
        why = f"points outside /{inside}, the environment"
        raise UnsafePathError(_message(owner, what, why, action))
    return target


_KINDS = (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE)


def checked_member(
    name: str, kind: bytes, linkname: str, *, inside: str, owner: str
) -> tuple[str, str]:
    """A layer member's (name, link target), checked and normalized: see the module doc.
    `owner` names what holds it (`wheel demo-1.0-py3-none-any.whl`) in the error."""
    action = (
        f"{owner[:1].upper()}{owner[1:]} is broken or malicious: lock another version of it, "
        "or remove it from the step's requirements."
    )
    name = member_name(name, inside=inside, owner=owner, action=action)
    if kind not in _KINDS:
        raise UnsafePathError(_message(owner, repr(name), "is a device or fifo", action))
    if kind == tarfile.SYMTYPE:
        linkname = symlink_target(name, linkname, inside=inside, owner=owner, action=action)
    elif kind == tarfile.LNKTYPE:
        linkname = member_name(linkname, inside=inside, owner=owner, action=action)
    return name, linkname


def refuse_members_below_symlinks(members: Mapping[str, tuple[bytes, str, str]]) -> None:
    """No member of a layer (name -> (kind, link target, owner)) may lie below one of its
    symlinks: an unpacker would write it wherever the link points."""
    links = {name for name, (kind, _, _) in members.items() if kind == tarfile.SYMTYPE}
    for name, (_, _, owner) in members.items() if links else ():
        parts = name.split("/")
        for parent in ("/".join(parts[:i]) for i in range(1, len(parts))):
            if parent in links:
                _, target, link_owner = members[parent]
                raise UnsafePathError(
                    f"{owner} holds {name!r} below the symlink {parent!r} -> {target!r} "
                    f"({link_owner}): unpacking it would write wherever the link points, so the "
                    "bake stopped before pushing anything. Lock other versions of these "
                    "packages, or remove one of them."
                )


def script_name(name: str, *, owner: str, action: str) -> str:
    """An entry point's script name: one file name in `bin/`, as uv and rattler require."""
    if not name or "/" in name or "\x00" in name or name in (".", ".."):
        why = "is not a single file name in bin/, so its script could land anywhere"
        raise UnsafePathError(_message(owner, f"the entry point {name!r}", why, action))
    if _RESERVED_SCRIPT.fullmatch(name):
        why = "would replace the environment's Python"
        raise UnsafePathError(_message(owner, f"the entry point {name!r}", why, action))
    return name


def _message(owner: str, what: str, why: str, action: str) -> str:
    return f"{owner} holds {what}, which {why}; the bake stopped before pushing anything. {action}"
