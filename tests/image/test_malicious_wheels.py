"""Wheels whose paths would leave the environment are refused, and nothing is pushed.

Each wheel here is a valid zip with a valid WHEEL and RECORD, crafted with one path an
installer must never follow: zip-slip names, absolute names, traversal inside `.data/`,
RECORD rows that climb out, entry-point names that are not file names.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from bakery.errors import UnsafePathError
from bakery.image.bake import BakeOptions, bake
from bakery.image.stage import stage_env
from bakery.image.wheel import read_layout

from .crafted import FILENAME, craft_wheel, lock_wheel, registry_state

SITE = "opt/bakery/env/lib/python3.11/site-packages"

# (what the wheel holds, the path the refusal names)
MALICIOUS = {
    "zip-slip": ({"files": {"../../etc/x": b"x"}}, "../../etc/x"),
    "absolute member": ({"files": {"/etc/x": b"x"}}, "/etc/x"),
    "traversal in .data/scripts": (
        {"files": {"demo-1.0.data/scripts/../../x": b"#!/bin/sh\n"}},
        "demo-1.0.data/scripts/../../x",
    ),
    "traversal out of .data": ({"files": {"demo-1.0.data/../x": b"x"}}, "demo-1.0.data/../x"),
    "RECORD row climbing out": (
        {"extra_record": "../../../etc/passwd,,\n"},
        "../../../etc/passwd",
    ),
    "absolute RECORD row": ({"extra_record": "/etc/passwd,,\n"}, "/etc/passwd"),
    "entry point climbing out": (
        {"entry_points": {"../../../tmp/evil": "demo:main"}},
        "../../../tmp/evil",
    ),
    "entry point in a subfolder": ({"entry_points": {"a/b": "demo:main"}}, "a/b"),
    "entry point '..'": ({"entry_points": {"..": "demo:main"}}, ".."),
    "entry point replacing python": ({"entry_points": {"python3": "demo:main"}}, "python3"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_a_malicious_wheel_is_refused_naming_the_wheel_and_the_path(tmp_path, case):
    crafted, path = MALICIOUS[case]
    wheel = craft_wheel(tmp_path, **crafted)
    with zipfile.ZipFile(wheel) as archive, pytest.raises(UnsafePathError) as refused:
        read_layout(archive, wheel.name, "3.11")
    message = str(refused.value)
    assert FILENAME in message and repr(path) in message
    assert "Lock another version of demo" in message


def test_a_zip_symlink_is_installed_as_a_plain_file_as_pip_does(tmp_path):
    wheel = craft_wheel(tmp_path, symlinks={"demo/escape": "../../../../etc/passwd"})
    with zipfile.ZipFile(wheel) as archive:
        layout = read_layout(archive, wheel.name, "3.11")
        (entry,) = [e for e in layout.entries(archive) if e.name == f"{SITE}/demo/escape"]
        with entry.open() as stream:
            assert stream.read() == b"../../../../etc/passwd"
    assert entry.kind == tarfile.REGTYPE and entry.linkname == ""


def test_odd_but_harmless_member_names_are_normalized(tmp_path):
    wheel = craft_wheel(tmp_path, {"./demo//util.py": b"x = 1\n"})
    with zipfile.ZipFile(wheel) as archive:
        layout = read_layout(archive, wheel.name, "3.11")
    assert f"{SITE}/demo/util.py" in layout.files


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["zip-slip", "traversal in .data/scripts", "RECORD row climbing out"]
)
def test_staging_refuses_before_compiling_or_writing_a_layer(tmp_path, cache_dir, case):
    wheel = craft_wheel(tmp_path / "wheels", **MALICIOUS[case][0])
    with pytest.raises(UnsafePathError):
        stage_env(lock_wheel(wheel), cache_dir)
    assert not list(cache_dir.glob("bytecode/*.zip")) and not list(cache_dir.glob("layers/*"))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_a_bake_of_a_malicious_wheel_pushes_nothing(
    tmp_path, cache_dir, base_images, registry, case
):
    wheel = craft_wheel(tmp_path / "wheels", **MALICIOUS[case][0])
    before = registry_state(registry)
    repository = f"{base_images.host}/evil/{re.sub('[^a-z0-9]+', '-', case.lower()).strip('-')}"
    options = BakeOptions(cache_dir=cache_dir, progress=False)
    with pytest.raises(UnsafePathError, match="stopped before pushing anything"):
        bake(lock_wheel(wheel), base=base_images.oci, repository=repository, options=options)
    after = registry_state(registry)
    assert repository.split("/", 1)[1] not in after.repositories
    assert after == before, "no blob uploaded, no repository made"
    assert not list(cache_dir.glob("pushed/*"))


@pytest.mark.slow
def test_a_wheel_whose_paths_are_fine_bakes_its_files_under_the_prefix(
    tmp_path, cache_dir, base_images
):
    wheel = craft_wheel(tmp_path / "wheels", entry_points={"demo-tool": "demo:main"})
    options = BakeOptions(cache_dir=cache_dir, progress=False)
    result = bake(
        lock_wheel(wheel),
        base=base_images.oci,
        repository=f"{base_images.host}/evil/control",
        options=options,
    )
    names = set()
    for record in cache_dir.glob("layers/*.json"):
        blob = Path(json.loads(record.read_text())["path"])
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.read_bytes()))) as tar:
            names |= {m.name for m in tar.getmembers()}
    assert result.digest and f"{SITE}/demo/__init__.py" in names
    assert "opt/bakery/env/bin/demo-tool" in names
    assert all(n in ("opt", "opt/bakery") or n.startswith("opt/bakery/env") for n in names)
