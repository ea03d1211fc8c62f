"""Conda environments baked into images: linked for /opt/bakery/env, run with podman."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakery.image.bake import BakeOptions, bake
from bakery.image.stage import stage_env
from bakery.resolve import resolve
from bakery.spec import EnvSpec, TargetPlatform, conda_requirements, pypi_requirements
from tests.fixtures.condabuild import build_channel, main_channel_packages, python_package

from .conftest import podman_run

pytestmark = [pytest.mark.slow, pytest.mark.container]

# the test base image's Python (Debian bookworm), wrapped as a conda `python` package
BASE_PYTHON = Path("/usr/bin/python3.11")
BASE_PYTHON_VERSION = "3.11.2"


@pytest.fixture(scope="module")
def image_channel(tmp_path_factory) -> str:
    """A channel whose `python` runs inside the test base image, plus tinylib and tinytool."""
    wanted = [
        p
        for p in main_channel_packages()
        if (p.name, p.version) in {("tinylib", "1.0"), ("tinytool", "1.0")}
    ]
    python = python_package("linux-64", BASE_PYTHON, BASE_PYTHON_VERSION)
    channel = build_channel(tmp_path_factory.mktemp("image-channel"), [python, *wanted])
    return channel.as_uri()


def lock_conda(channel: str, pypi: dict[str, str] | None = None):
    spec = EnvSpec(
        python="3.11",
        conda=conda_requirements({"tinylib": "1.0", "tinytool": ""}),
        pypi=pypi_requirements(pypi or {}),
        channels=(channel,),
        platform=TargetPlatform("linux-64", "2.36"),
    )
    return resolve(spec)


def test_conda_env_runs_in_the_image_with_its_prefix_patched(base_images, image_channel, cache_dir):
    env = lock_conda(image_channel, {"six": "1.17.0"})
    assert {p.kind for p in env.packages} == {"conda", "pypi"}
    options = BakeOptions(cache_dir=cache_dir, progress=False)
    result = bake(
        env, base=base_images.oci, repository=f"{base_images.host}/t/conda", options=options
    )
    out = podman_run(
        result.reference,
        "sh",
        "-c",
        "tinytool; tinylib; python3 -c 'import sys, six, tinylib; "
        "print(sys.prefix, six.__version__, tinylib.VERSION, tinylib.__cached__)'",
    )
    lines = out.strip().splitlines()
    assert lines[0] == "tinytool 1.0 in /opt/bakery/env"  # placeholder -> the image's prefix
    assert lines[1] == "tinylib 1.0 on /opt/bakery/env"  # entry point script, env's python
    prefix, six_version, tinylib_version, cached = lines[2].split()
    assert (prefix, six_version, tinylib_version) == ("/opt/bakery/env", "1.17.0", "1.0")
    assert cached.startswith("/opt/bakery/env/lib/python3.11/site-packages/tinylib/__pycache__/")

    again = bake(
        env, base=base_images.oci, repository=f"{base_images.host}/t/conda", options=options
    )
    assert again.up_to_date and again.bytes_uploaded == 0


def test_conda_layers_name_no_path_of_this_machine(image_channel, cache_dir):
    env = lock_conda(image_channel)
    staged = stage_env(env, cache_dir)
    conda = {s.package.name: s for s in staged.packages}
    record = json.loads(conda["tinytool"].record)
    assert "extracted_package_dir" not in record and "link" not in record
    tool = (conda["tinytool"].prefix / "bin" / "tinytool").read_text()
    assert "/opt/bakery/env" in tool and str(cache_dir) not in tool
    assert {s.pin for s in staged.packages} >= {"python==3.11.2", "tinylib==1.0", "tinytool==1.0"}


def test_bytecode_replaces_what_conda_packages_ship(image_channel, cache_dir):
    env = lock_conda(image_channel)
    staged = stage_env(env, cache_dir)
    tinylib = next(s for s in staged.packages if s.package.name == "tinylib")
    assert tinylib.bytecode is not None and tinylib.bytecode.is_file()
    modules = tinylib.modules(env.python)
    assert modules == [
        (
            "lib/python3.11/site-packages/tinylib/__init__.py",
            "opt/bakery/env/lib/python3.11/site-packages/tinylib/__init__.py",
        )
    ]


def test_an_unreachable_conda_package_is_one_error_and_leaves_no_prefix(
    image_channel, cache_dir, tmp_path
):
    import dataclasses

    from bakery.errors import BakeryError

    env = lock_conda(image_channel)
    tool = next(p for p in env.packages if p.name == "tinytool")
    gone = tmp_path / "gone" / tool.filename
    record = {**(tool.record or {}), "url": gone.as_uri()}
    moved = dataclasses.replace(tool, url=gone.as_uri(), record=record)
    broken = dataclasses.replace(
        env, packages=tuple(moved if p is tool else p for p in env.packages)
    )
    with pytest.raises(BakeryError, match="(missing|download).*tinytool"):
        stage_env(broken, cache_dir)
    assert not list((cache_dir / "conda").iterdir())
