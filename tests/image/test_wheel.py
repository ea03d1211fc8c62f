"""Wheel install rules (schemes, scripts, RECORD), on small wheels built here."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from bakery.errors import ImageError
from bakery.image.wheel import read_layout

SITE = "opt/bakery/env/lib/python3.11/site-packages"


def record_row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def make_wheel(tmp_path: Path, files: dict[str, bytes], *, version: str = "1.0") -> Path:
    files = {
        "demo-1.0.dist-info/WHEEL": f"Wheel-Version: {version}\nRoot-Is-Purelib: true\n".encode(),
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        **files,
    }
    record = "".join(record_row(n, d) for n, d in files.items()) + "demo-1.0.dist-info/RECORD,,\n"
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            archive.writestr(info, data)
        archive.writestr("demo-1.0.dist-info/RECORD", record)
    return path


def layout_of(path: Path):
    archive = zipfile.ZipFile(path)
    return read_layout(archive, path.name, "3.11"), archive


def test_schemes_land_where_the_wheel_spec_puts_them(tmp_path):
    wheel = make_wheel(
        tmp_path,
        {
            "demo/__init__.py": b"x = 1\n",
            "demo/run.sh": b"#!/bin/sh\n",
            "demo-1.0.data/purelib/demo_extra.py": b"y = 2\n",
            "demo-1.0.data/scripts/demo-tool": b"#!python\nprint('hi')\n",
            "demo-1.0.data/data/share/demo.txt": b"data\n",
            "demo-1.0.data/headers/demo.h": b"/* h */\n",
        },
    )
    layout, archive = layout_of(wheel)
    paths = set(layout.files) | set(layout.generated)
    assert {
        f"{SITE}/demo/__init__.py",
        f"{SITE}/demo_extra.py",
        "opt/bakery/env/bin/demo-tool",
        "opt/bakery/env/share/demo.txt",
        "opt/bakery/env/include/site/python3.11/demo/demo.h",
        f"{SITE}/demo-1.0.dist-info/INSTALLER",
        f"{SITE}/demo-1.0.dist-info/RECORD",
    } <= paths
    tool, mode = layout.generated["opt/bakery/env/bin/demo-tool"]
    assert tool == b"#!/usr/bin/env python3.11\nprint('hi')\n" and mode == 0o755
    modes = {e.name: e.mode for e in layout.entries(archive)}
    assert modes[f"{SITE}/demo/run.sh"] == 0o755 and modes[f"{SITE}/demo/__init__.py"] == 0o644


def test_entry_points_become_launchers(tmp_path):
    entry_points = (
        b"[console_scripts]\nDemo-Cli = demo.cli:main.run [extra]\n[gui_scripts]\ndg = demo:gui\n"
    )
    wheel = make_wheel(tmp_path, {"demo-1.0.dist-info/entry_points.txt": entry_points})
    layout, _ = layout_of(wheel)
    cli, mode = layout.generated["opt/bakery/env/bin/Demo-Cli"]
    assert mode == 0o755
    assert cli.startswith(b"#!/usr/bin/env python3.11\n")
    assert b"from demo.cli import main\n" in cli and b"sys.exit(main.run())" in cli
    assert "opt/bakery/env/bin/dg" in layout.generated


def test_record_lists_every_installed_file_with_hashes(tmp_path):
    wheel = make_wheel(
        tmp_path,
        {
            "demo/__init__.py": b"x = 1\n",
            "demo-1.0.data/scripts/demo-tool": b"#!python\nprint('hi')\n",
        },
    )
    layout, _ = layout_of(wheel)
    record, _ = layout.generated[f"{SITE}/demo-1.0.dist-info/RECORD"]
    rows = {row[0]: row for row in csv.reader(io.StringIO(record.decode()))}
    assert rows["demo/__init__.py"][1:] == record_row("x", b"x = 1\n").strip().split(",")[1:]
    assert rows["../../../bin/demo-tool"][1].startswith("sha256=")
    assert rows["demo-1.0.dist-info/INSTALLER"][2] == "7"
    assert rows["demo-1.0.dist-info/RECORD"][1:] == ["", ""]


def test_only_site_packages_sources_outside_tests_are_compiled(tmp_path):
    wheel = make_wheel(
        tmp_path,
        {
            "demo/__init__.py": b"",
            "demo/tests/test_a.py": b"",
            "demo/sub/tests/deep/test_b.py": b"",
            "demo/testsuite.py": b"",
            "demo-1.0.data/data/share/script.py": b"",
        },
    )
    layout, _ = layout_of(wheel)
    compiled = sorted(path for _, path in layout.sources_to_compile())
    assert compiled == [f"{SITE}/demo/__init__.py", f"{SITE}/demo/testsuite.py"]


@pytest.mark.parametrize(
    ("files", "version", "message"),
    [
        ({"../evil.py": b""}, "1.0", "climbs out with '..'"),
        ({"demo-1.0.data/nowhere/x": b""}, "1.0", "outside any install scheme"),
        ({}, "2.0", "only wheels of format 1.x"),
    ],
)
def test_malformed_wheels_are_refused(tmp_path, files, version, message):
    wheel = make_wheel(tmp_path, files, version=version)
    with pytest.raises(ImageError, match=message):
        layout_of(wheel)
