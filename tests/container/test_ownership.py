"""Handing back what a rootful container wrote in a bind-mounted folder: run as the container
runs it (`python -c SOURCE ...`), on real files with real owners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakery.container.ownership import command_arguments

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="changing owners needs root, as a rootful container runs"
)

HOST_USER = 4242
SOMEONE_ELSE = 4343


def hand_back(reference: Path, *trees: tuple[Path, str]) -> None:
    arguments = command_arguments(str(reference), [(str(root), rel) for root, rel in trees])
    subprocess.run([sys.executable, "-c", *arguments], check=True)


def owner(path: Path) -> int:
    return path.lstat().st_uid


def test_what_root_wrote_under_the_trees_goes_to_the_folders_owner(tmp_path):
    root = tmp_path / ".metaflow"
    (root / "Flow" / "7" / "start" / "1").mkdir(parents=True)
    (root / "Flow" / "7" / "start" / "1" / "0.data.json").write_text("{}")
    (root / "Flow" / "7" / "start" / "1" / "link").symlink_to("/nowhere")
    other_run = root / "Flow" / "6"
    other_run.mkdir()
    os.chown(root, HOST_USER, HOST_USER)
    theirs = root / "Flow" / "7" / "theirs"
    theirs.write_text("")
    os.chown(theirs, SOMEONE_ELSE, SOMEONE_ELSE)

    hand_back(root, (root, "Flow/7"))

    task = root / "Flow" / "7" / "start" / "1"
    for path in (root / "Flow", root / "Flow" / "7", task, task / "0.data.json", task / "link"):
        assert (owner(path), path.lstat().st_gid) == (HOST_USER, HOST_USER), path
    assert owner(theirs) == SOMEONE_ELSE  # not the container's: left alone
    assert owner(other_run) == 0  # outside the trees
    assert owner(tmp_path) == 0  # above the root


def test_a_folder_the_container_user_owns_is_left_as_it_is(tmp_path):
    """A rootless runtime: the container's root is the host user, who owns the folder."""
    root = tmp_path / ".metaflow"
    (root / "Flow" / "7").mkdir(parents=True)
    os.chown(root / "Flow" / "7", SOMEONE_ELSE, SOMEONE_ELSE)
    hand_back(root, (root, "Flow/7"), (root, "Flow/absent"))
    assert owner(root / "Flow" / "7") == SOMEONE_ELSE
