"""The licenses a package declares in its own metadata, read while staging (the wheel is open).

A wheel says it in `METADATA` (core metadata): `License-Expression` (PEP 639, an SPDX
expression), else the free-text `License` field (kept when it is short: a name such as
`Apache-2.0`, not the license's whole text) and the `License :: ...` classifiers, kept whole.
A conda package says it in `index.json` (`license`, also in its repodata record) and
`info/about.json`. The SBOM writer chooses among them (`sbom.py`): an SPDX id or expression
first, then the classifiers, then names.
"""

from __future__ import annotations

import json
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

_NAME_LIMIT = 100  # a longer `License` field is the license's text, not its name


def wheel_licenses(archive: zipfile.ZipFile, dist_info: str) -> tuple[str, ...]:
    """The licenses in the open wheel's `<dist_info>/METADATA`; () when it declares none."""
    try:
        text = archive.read(f"{dist_info}/METADATA").decode("utf-8", "replace")
    except KeyError:
        return ()
    return metadata_licenses(text)


def metadata_licenses(text: str) -> tuple[str, ...]:
    """The licenses declared in core metadata `text` (see the module doc)."""
    headers = HeaderParser().parsestr(text, headersonly=True)
    expression = (headers.get("License-Expression") or "").strip()
    if expression:
        return (expression,)
    found = []
    field = (headers.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= _NAME_LIMIT and field.upper() != "UNKNOWN":
        found.append(field)
    for classifier in headers.get_all("Classifier") or ():
        parts = [part.strip() for part in classifier.split("::")]
        if parts[0] == "License" and len(parts) > 1 and parts[-1] != "OSI Approved":
            found.append(" :: ".join(parts))
    return tuple(dict.fromkeys(found))


def conda_licenses(record: dict[str, Any], extracted: str | None) -> tuple[str, ...]:
    """The licenses of a conda package: its record's `license` (from `index.json`), and
    `info/about.json`'s in the extracted package at `extracted` (if it is there)."""
    found = [record.get("license")]
    if extracted:
        try:
            about = json.loads((Path(extracted) / "info" / "about.json").read_text())
        except (OSError, ValueError):
            about = {}
        found.append(about.get("license") if isinstance(about, dict) else None)
    names = (str(name).strip() for name in found if name)
    return tuple(dict.fromkeys(name for name in names if name))
