"""`bakery bake` and `bakery image show`, end to end against the loopback registry."""

from __future__ import annotations

import json

import pytest

from bakery.cli.main import main
from bakery.lock import Lockfile, write_lock

from .locks import lock

pytestmark = [pytest.mark.slow, pytest.mark.container]


@pytest.fixture
def lockfile(tmp_path):
    lockfile = Lockfile(flow="flow.py")
    lockfile.set_step("start", lock(("idna==3.10",)))
    lockfile.set_step("train", lock(("requests==2.32.3", "markupsafe==3.0.2")))
    path = tmp_path / "flow.bakery.lock"
    write_lock(lockfile, path)
    return path


def bake_json(capsys, *args: str) -> dict:
    assert main(["bake", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_bake_then_show(capsys, lockfile, base_images, shared_cache):
    repository = f"{base_images.host}/cli/envs"
    common = ["--lock", str(lockfile), "--registry", repository, "--base", base_images.oci]
    results = bake_json(capsys, *common, "--cache-dir", str(shared_cache), "--step", "train")
    (result,) = results.values()
    assert result["steps"] == ["train"] and not result["up_to_date"]

    assert main(["image", "show", result["reference"], "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "requests==2.32.3" in info["packages"] and info["python"] == "3.11"
    assert info["env_id"] == next(iter(results)) and info["base"].startswith(base_images.oci)
    assert info["layers"][0]["packages"] == []  # the base layer
    assert any("markupsafe==3.0.2" in layer["packages"] for layer in info["layers"])
    assert "PATH=/opt/bakery/env/bin:/usr/local/sbin" in "\n".join(info["env"])

    assert main(["image", "show", result["reference"]]) == 0
    assert "markupsafe==3.0.2" in capsys.readouterr().out

    again = bake_json(capsys, *common, "--cache-dir", str(shared_cache))
    assert again[next(iter(results))]["up_to_date"] and len(again) == 2


def test_unknown_step_is_an_error(capsys, lockfile, base_images):
    code = main(
        [
            "bake",
            "--lock",
            str(lockfile),
            "--registry",
            f"{base_images.host}/x",
            "--base",
            "b",
            "--step",
            "nope",
        ]
    )
    assert code == 1 and "nope" in capsys.readouterr().err


def test_missing_base_is_an_error(capsys, lockfile, monkeypatch):
    monkeypatch.delenv("BAKERY_BASE_IMAGE", raising=False)
    assert main(["bake", "--lock", str(lockfile), "--registry", "127.0.0.1:9/x"]) == 1
    assert "--base" in capsys.readouterr().err


def test_malformed_reference_in_show(capsys):
    assert main(["image", "show", "http://nope"]) == 1
    assert "scheme" in capsys.readouterr().err
