"""A wheel, installed straight into layer entries: no unpacking on disk, no installer process.

This is the wheel spec's install step (PEP 427 / the binary distribution format) for one
fixed scheme, the image's environment under `/opt/bakery/env`:

- the archive root and `<name>.data/purelib|platlib` go to site-packages;
- `.data/scripts` to `bin/` (a `#!python` shebang becomes `#!/usr/bin/env pythonX.Y`),
  `.data/data` to the environment root, `.data/headers` to `include/site/pythonX.Y/<name>`;
- console and GUI entry points become the same launcher scripts pip and uv write;
- `INSTALLER` says `bakery`, and `RECORD` lists every installed file, with the wheel's own hashes
  for the files copied as they are (the wheel itself is checked against the lock's sha256).

A wheel whose member names, RECORD rows or script names are absolute, climb out with `..` or
are not plain file names is refused (`UnsafePathError`, see `safe_paths`), as uv refuses to
install it. A zip member marked as a symlink is installed as a file holding the link's text,
as pip and uv do: the wheel spec has no links.

Nothing is extracted: each entry reads its bytes from the wheel when the layer is written.
pypa/installer implements the same spec, but writes through a destination that is handed a
stream without its size, so a tar writer would have to inflate every file twice; the
scheme rules above are all this needs.
"""

from __future__ import annotations

import base64
import configparser
import csv
import hashlib
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import ImageError
from .layers import Entry, zip_member_entry
from .safe_paths import ENV_ROOT, checked_relative, script_name

_SCHEMES = ("purelib", "platlib", "scripts", "data", "headers")
_SCRIPT = """\
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {name}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({call}())
"""


def site_packages_dir(python_minor: str) -> str:
    """Where packages live in the image, relative to `/`."""
    return f"{ENV_ROOT}/lib/python{python_minor}/site-packages"


@dataclass(frozen=True)
class WheelLayout:
    """Where one wheel's files go in the image (`files`: image path -> zip member)."""

    files: dict[str, zipfile.ZipInfo]
    generated: dict[str, tuple[bytes, int]]  # image path -> (content, mode)
    site: str  # site-packages, relative to `/`
    dist_info: str = ""  # `name-1.0.dist-info`, in the wheel and in site-packages

    def sources_to_compile(self) -> list[tuple[str, str]]:
        """(zip member, image path) of the modules to compile: those in site-packages, but
        not packages' own `tests/` folders (shipped as sources, never imported by tasks)."""
        prefix = self.site + "/"
        return [
            (info.filename, path)
            for path, info in self.files.items()
            if path.endswith(".py")
            and path.startswith(prefix)
            and "tests" not in path[len(prefix) :].split("/")[:-1]
        ]

    @property
    def size(self) -> int:
        """Bytes installed (before bytecode)."""
        return sum(i.file_size for i in self.files.values()) + sum(
            len(data) for data, _ in self.generated.values()
        )

    def entries(self, wheel: zipfile.ZipFile) -> Iterator[Entry]:
        for path, info in self.files.items():
            mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
            yield zip_member_entry(wheel, info, path, mode)
        for path, (data, mode) in self.generated.items():
            yield Entry.from_bytes(path, data, mode)


def read_layout(wheel: zipfile.ZipFile, filename: str, python_minor: str) -> WheelLayout:
    """How the wheel `filename` (open as `wheel`) installs for CPython `python_minor`."""
    owner, action = f"wheel {filename}", _action(filename)
    names = {i.filename: checked_relative(i.filename, owner, action) for i in wheel.infolist()}
    dist_info, data_dir, dist = _dist_dirs(wheel, filename)
    site = site_packages_dir(python_minor)
    homes = {
        "purelib": site,
        "platlib": site,
        "scripts": f"{ENV_ROOT}/bin",
        "data": ENV_ROOT,
        "headers": f"{ENV_ROOT}/include/site/python{python_minor}/{dist}",
    }
    record = read_record(wheel, f"{dist_info}/RECORD", filename)
    files: dict[str, zipfile.ZipInfo] = {}
    generated: dict[str, tuple[bytes, int]] = {}
    rows: list[list[str]] = []
    for info in wheel.infolist():
        name = names[info.filename]
        if info.is_dir() or name == f"{dist_info}/RECORD" or "__pycache__" in name.split("/"):
            continue
        scheme, rel = _scheme_of(name, data_dir, filename)
        path = f"{homes[scheme]}/{rel}"  # `rel` is normalized and relative: inside its home
        if scheme == "scripts":
            data = wheel.read(info)
            if data.startswith(b"#!python"):
                data = f"#!/usr/bin/env python{python_minor}\n".encode() + data.split(b"\n", 1)[-1]
            generated[path] = (data, 0o755)
            rows.append(_row(path, site, data))
            continue
        files[path] = info
        row = record.get(info.filename, ("", str(info.file_size)))
        rows.append([posixpath.relpath(path, site), *row])
    for script, text in _entry_point_scripts(wheel, dist_info, python_minor):
        path = f"{ENV_ROOT}/bin/{script_name(script, owner=owner, action=action)}"
        generated[path] = (text, 0o755)
        rows.append(_row(path, site, text))
    installer = f"{site}/{dist_info}/INSTALLER"
    generated[installer] = (b"bakery\n", 0o644)
    rows.append(_row(installer, site, b"bakery\n"))
    rows.append([f"{dist_info}/RECORD", "", ""])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    generated[f"{site}/{dist_info}/RECORD"] = (out.getvalue().encode(), 0o644)
    return WheelLayout(files, generated, site, dist_info)


def _dist_dirs(wheel: zipfile.ZipFile, filename: str) -> tuple[str, str, str]:
    """(`name-1.0.dist-info`, `name-1.0.data`, `name`) of a wheel, checked against its name."""
    dist_infos = {
        n.split("/", 1)[0] for n in wheel.namelist() if n.split("/", 1)[0].endswith(".dist-info")
    }
    if len(dist_infos) != 1:
        raise ImageError(f"{filename} is not a valid wheel: it has {len(dist_infos)} .dist-info")
    dist_info = dist_infos.pop()
    try:
        wheel_meta = wheel.read(f"{dist_info}/WHEEL").decode()
    except KeyError:
        raise ImageError(f"{filename} is not a valid wheel: it has no WHEEL file") from None
    version = re.search(r"^Wheel-Version:\s*(\S+)", wheel_meta, re.M)
    if not version or not version.group(1).startswith("1."):
        raise ImageError(f"{filename}: only wheels of format 1.x can be installed")
    stem = dist_info[: -len(".dist-info")]
    return dist_info, f"{stem}.data", stem.rsplit("-", 1)[0]


def _action(filename: str) -> str:
    name = filename.split("-", 1)[0]
    return (
        f"Lock another version of {name} (this wheel is broken or malicious), or remove it from "
        "the step's requirements."
    )


def read_record(wheel: zipfile.ZipFile, name: str, filename: str) -> dict[str, tuple[str, str]]:
    """The wheel's `RECORD` (at `name`): member -> (`sha256=<urlsafe b64>` or "", size). Its
    rows must name paths inside the wheel: tools that uninstall by RECORD would delete what a
    climbing row names."""
    try:
        text = wheel.read(name).decode()
    except KeyError:
        raise ImageError(f"{filename} is not a valid wheel: it has no RECORD") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    owner = f"the RECORD of wheel {filename}"
    for row in rows:
        checked_relative(row[0], owner, _action(filename))
    return {row[0]: (row[1], row[2]) for row in rows if len(row) >= 3}


def _scheme_of(name: str, data_dir: str, filename: str) -> tuple[str, str]:
    if not name.startswith(data_dir + "/"):
        return "purelib", name  # the root: purelib and platlib both land in site-packages
    scheme, _, rel = name[len(data_dir) + 1 :].partition("/")
    if scheme not in _SCHEMES or not rel:
        raise ImageError(f"{filename} holds {name}, outside any install scheme of the wheel spec")
    return scheme, rel


def _row(path: str, site: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [posixpath.relpath(path, site), f"sha256={digest}", str(len(data))]


def _entry_point_scripts(
    wheel: zipfile.ZipFile, dist_info: str, python_minor: str
) -> Iterator[tuple[str, bytes]]:
    try:
        text = wheel.read(f"{dist_info}/entry_points.txt").decode()
    except KeyError:
        return
    parser = configparser.ConfigParser(delimiters="=", interpolation=None)
    parser.optionxform = str  # script names are case-sensitive
    parser.read_string(text)
    for section in ("console_scripts", "gui_scripts"):
        if not parser.has_section(section):
            continue
        for script, target in sorted(parser.items(section)):
            module, _, attr = target.partition(":")
            attr = attr.split("[", 1)[0].strip() or None
            module = module.strip()
            if attr is None:
                continue  # a module-only entry point names nothing to call
            body = _SCRIPT.format(module=module, name=attr.split(".")[0], call=attr)
            yield script, f"#!/usr/bin/env python{python_minor}\n{body}".encode()
