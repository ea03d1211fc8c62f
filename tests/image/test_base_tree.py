"""A base's root filesystem from its layers' tar listings: symlinks, merged /usr, whiteouts."""

from __future__ import annotations

import gzip
import io
import re
import tarfile

import pytest

from bakery.errors import BaseImageError
from bakery.image.base import BaseImage
from bakery.image.base_check import BaseCommands, base_search_path, check_base
from bakery.image.base_tree import FileTree
from bakery.image.layer_stream import tar_members
from bakery.image.oci import OCI_LAYER_GZIP, Descriptor, ImageManifest
from bakery.registry.reference import ImageReference

COMMANDS = re.compile(r"bash|python(\d+(\.\d+)?)?")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def folder(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def file(name: str, mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def tree_of(*layers: list[tarfile.TarInfo]) -> FileTree:
    tree = FileTree()
    for members in layers:
        tree.apply_layer(members)
    return tree


def test_merged_usr_and_interpreter_symlinks_resolve():
    tree = tree_of(
        [
            folder("./"),
            folder("./usr/"),
            folder("./usr/bin/"),
            link("./bin", "usr/bin"),
            file("./usr/bin/bash"),
            file("./usr/bin/python3.11"),
            link("./usr/bin/python3", "python3.11"),
            folder("./usr/local/bin/"),
            link("./usr/local/bin/python", "../../bin/python3"),
        ]
    )
    assert tree.resolve("/bin/python3") == "usr/bin/python3.11"
    # `..` after a symlinked folder is the parent of its target, as in the kernel
    assert tree.resolve("/bin/../bin/bash") == "usr/bin/bash"
    assert tree.resolve("/bin/../usr/bin/bash") is None
    assert tree.commands("/bin", COMMANDS) == {
        "bash": "/bin/bash",
        "python3": "/bin/python3",
        "python3.11": "/bin/python3.11",
    }
    assert tree.commands(PATH, COMMANDS)["python"] == "/usr/local/bin/python"


def test_a_tar_without_folder_entries_still_has_its_folders():
    tree = tree_of([file("usr/local/bin/python3.12"), file("bin/bash")])
    assert tree.commands(PATH, COMMANDS) == {
        "bash": "/bin/bash",
        "python3.12": "/usr/local/bin/python3.12",
    }


def test_whiteouts_in_a_later_layer_remove_commands():
    lower = [file("usr/bin/bash"), file("usr/bin/python3.11"), file("usr/local/bin/python3.12")]
    tree = tree_of(lower, [file("usr/bin/.wh.bash"), file("usr/local/.wh..wh..opq")])
    assert tree.commands(PATH, COMMANDS) == {"python3.11": "/usr/bin/python3.11"}


def test_an_opaque_folder_keeps_what_its_own_layer_adds():
    tree = tree_of(
        [file("usr/bin/bash"), file("usr/bin/python3.11")],
        [folder("usr/bin"), file("usr/bin/.wh..wh..opq"), file("usr/bin/python3.12")],
    )
    assert tree.commands(PATH, COMMANDS) == {"python3.12": "/usr/bin/python3.12"}


def test_a_whited_out_folder_takes_its_contents_along():
    tree = tree_of(
        [file("opt/py/bin/python3.11"), link("usr/bin/python3.11", "/opt/py/bin/python3.11")]
    )
    assert tree.commands(PATH, COMMANDS) == {"python3.11": "/usr/bin/python3.11"}
    tree.apply_layer([file("opt/.wh.py")])
    assert tree.commands(PATH, COMMANDS) == {}


def test_a_symlink_over_a_folder_replaces_the_folder():
    tree = tree_of(
        [file("bin/bash"), file("usr/bin/python3.11")],
        [link("bin", "usr/bin")],
    )
    assert tree.commands("/bin", COMMANDS) == {"python3.11": "/bin/python3.11"}


def test_dangling_looping_and_non_executable_entries_are_not_commands():
    tree = tree_of(
        [
            link("usr/bin/python3", "python3.11"),  # dangling
            link("usr/bin/python", "python"),  # a loop
            file("usr/bin/bash", mode=0o644),  # not executable
            link("usr/bin/python3.9", "/usr/bin/python3.9/x"),
        ]
    )
    assert tree.commands(PATH, COMMANDS) == {}


def test_a_hard_link_is_the_file_it_links_to():
    tree = tree_of(
        [file("usr/bin/python3.11"), link("usr/bin/python3", "usr/bin/python3.11", tarfile.LNKTYPE)]
    )
    assert tree.commands(PATH, COMMANDS)["python3"] == "/usr/bin/python3"


def test_the_first_folder_on_path_wins():
    tree = tree_of([file("usr/bin/python3.11"), file("usr/local/bin/python3.11")])
    assert tree.commands(PATH, COMMANDS)["python3.11"] == "/usr/local/bin/python3.11"


def test_layers_are_read_from_gzip_or_plain_tar():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.addfile(file("bin/bash"), io.BytesIO(b""))
    layer = Descriptor(OCI_LAYER_GZIP, "sha256:" + "0" * 64, 0)
    for data in (raw.getvalue(), gzip.compress(raw.getvalue())):
        assert [m.name for m in tar_members(io.BytesIO(data), layer)] == ["bin/bash"]


def test_the_environments_own_bin_is_not_searched():
    image_env = ["PATH=/opt/bakery/env/bin:/usr/bin:/bin", "LANG=C"]
    assert base_search_path(image_env) == "/usr/bin:/bin"


BASE = BaseImage(
    ImageReference.parse("127.0.0.1:5000/base/x:1"),
    "sha256:" + "b" * 64,
    ImageManifest(Descriptor("", "sha256:" + "c" * 64, 1), ()),
    {},
)


def test_a_pypi_env_needs_its_python_and_bash():
    commands = BaseCommands(
        PATH, {"python3.12": "/usr/bin/python3.12", "python3": "/usr/bin/python3"}
    )
    with pytest.raises(BaseImageError) as raised:
        check_base(BASE, commands, "3.11")
    message = str(raised.value)
    assert message.startswith(f"base image {BASE.pinned} lacks Python 3.11 (no `python3.11`, it ")
    assert (
        "it has only python3.12) and bash (Metaflow's task command runs in it) on its PATH"
        in message
    )
    assert "python:3.11-slim" in message


def test_a_conda_env_needs_only_bash():
    check_base(BASE, BaseCommands(PATH, {"bash": "/bin/bash"}), None)
    with pytest.raises(BaseImageError, match=r"lacks bash \(.*conda environment brings its own"):
        check_base(BASE, BaseCommands(PATH, {"python3.11": "/usr/bin/python3.11"}), None)


def test_a_base_that_could_not_be_read_is_not_refused():
    check_base(BASE, BaseCommands(PATH, {}, unread="layer x is zstd-compressed"), "3.11")


@pytest.mark.parametrize(
    ("layers", "interpreter", "expected"),
    [
        # python:3.11-slim's layout, with its bytecode
        (
            [
                file("usr/local/bin/python3.11"),
                file("usr/local/lib/python3.11/os.py", 0o644),
                file("usr/local/lib/python3.11/__pycache__/os.cpython-311.pyc", 0o644),
            ],
            "/usr/local/bin/python3.11",
            None,
        ),
        # Debian unpacked without its install scripts; merged /usr reached through /bin
        (
            [
                link("bin", "usr/bin"),
                file("usr/bin/python3.11"),
                file("usr/lib/python3.11/os.py", 0o644),
            ],
            "/bin/python3.11",
            "/usr/lib/python3.11",
        ),
        # bytecode deleted by a later layer (`RUN rm -rf .../__pycache__`)
        (
            [
                file("usr/bin/python3.11"),
                file("usr/lib/python3.11/os.py", 0o644),
                file("usr/lib/python3.11/__pycache__/os.cpython-311.pyc", 0o644),
                file("usr/lib/python3.11/.wh.__pycache__", 0o644),
            ],
            "/usr/bin/python3.11",
            "/usr/lib/python3.11",
        ),
        # not CPython's PREFIX/lib/pythonX.Y layout: nothing to say
        ([file("opt/py/python3.11")], "/opt/py/python3.11", None),
    ],
)
def test_a_standard_library_without_bytecode_is_found(layers, interpreter, expected):
    from bakery.image.base_check import _stdlib_without_bytecode

    tree = FileTree()
    for member in layers:  # one layer each, so a whiteout deletes what is beneath it
        tree.apply_layer([member])
    assert _stdlib_without_bytecode(tree, interpreter, "3.11") == expected


def test_the_stdlib_note_says_what_to_do():
    commands = BaseCommands(
        PATH,
        {"python3.11": "/usr/bin/python3.11"},
        stdlib_without_bytecode={"python3.11": "/usr/lib/python3.11"},
    )
    note = commands.stdlib_note("3.11")
    assert note is not None
    assert note.startswith(
        "the base's Python 3.11 has no bytecode for its standard library (nothing in "
        "/usr/lib/python3.11/__pycache__): every task compiles"
    )
    assert "`python3.11 -m compileall -q /usr/lib/python3.11`" in note
    assert commands.stdlib_note("3.12") is None
