"""Files a container wrote into a bind-mounted folder, handed back to the folder's owner.

A rootful runtime (docker, podman run as root) writes as root into the folders it bind-mounts:
the host user who owns them could then neither add to the folders a task made nor remove its
files. So after the task, the container's own Python gives what the container's user made
under each tree back to the owner of a reference folder. Under a rootless runtime the
container's root *is* the host user, the reference is owned by the container's user, and
nothing is walked; a container user other than root cannot chown and leaves things as they are.

Standard library only, and nothing newer than Python 3.7: it runs inside the task's image as
`python -c SOURCE REFERENCE ROOT RELATIVE [ROOT RELATIVE ...]` (`command_arguments`), where
each `ROOT/RELATIVE` tree is handed back with the folders between it and `ROOT`.
"""

from __future__ import annotations  # the hints below stay unevaluated on older Pythons

import os
import sys
from collections.abc import Iterable, Iterator


def hand_back(reference: str, trees: Iterable[tuple[str, str]]) -> int:
    """Give what this process's user owns under each `(root, relative)` tree (and the folders
    from `root` down to it) to the owner of `reference`; returns how many entries changed."""
    owner = os.stat(reference)
    me = os.geteuid()
    if owner.st_uid == me or me != 0:
        return 0
    changed = 0
    for root, relative in trees:
        top = os.path.join(root, relative)
        parts = [p for p in relative.split("/") if p]
        ancestors = [os.path.join(root, *parts[:i]) for i in range(1, len(parts))]
        for path in ancestors + list(_walk(top)):
            changed += _give(path, me, owner.st_uid, owner.st_gid)
    return changed


def _walk(top: str) -> Iterator[str]:
    if not os.path.lexists(top):
        return
    yield top
    for folder, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            yield os.path.join(folder, name)


def _give(path: str, me: int, uid: int, gid: int) -> int:
    try:
        stat = os.lstat(path)
        if stat.st_uid != me:  # someone else's (the host's, another task's): leave it
            return 0
        os.lchown(path, uid, gid)
        return 1
    except OSError:  # gone meanwhile, or not ours to change
        return 0


def main(argv: list[str]) -> int:
    reference, pairs = argv[0], argv[1:]
    trees = [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs) - 1, 2)]
    hand_back(reference, trees)
    return 0


def command_arguments(reference: str, trees: Iterable[tuple[str, str]]) -> list[str]:
    """`[SOURCE, REFERENCE, ROOT, RELATIVE, ...]`: what `python -c` takes to run this module
    (as `-c`, it runs as `__main__`)."""
    with open(__file__) as source:
        arguments = [source.read(), str(reference)]
    for root, relative in trees:
        arguments += [str(root), relative]
    return arguments


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
