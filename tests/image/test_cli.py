"""`bakery bake` and `bakery image show`, end to end against the loopback registry."""

from __future__ import annotations

import json

import pytest

from bakery.cli.main import main
from bakery.image.base import default_base_image
from bakery.lock import Lockfile, write_lock
from bakery.registry import RegistryClient

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


def test_default_base_is_the_official_slim_python_image():
    assert default_base_image("3.11") == "docker.io/library/python:3.11-slim"


def test_base_image_from_the_environment_is_used(capsys, lockfile, monkeypatch):
    monkeypatch.setenv("BAKERY_BASE_IMAGE", "127.0.0.1:9/python:3.11-slim")
    assert main(["bake", "--lock", str(lockfile), "--registry", "127.0.0.1:9/x"]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err and "Traceback" not in err


def test_malformed_reference_in_show(capsys):
    assert main(["image", "show", "http://nope"]) == 1
    assert "scheme" in capsys.readouterr().err


SIX_FLOW = """\
from metaflow import FlowSpec, pypi, step


class SixFlow(FlowSpec):
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SixFlow()
"""


@pytest.fixture
def flow_dir(tmp_path, monkeypatch):
    """A folder for flow files; Metaflow needs a user other than root."""
    monkeypatch.setenv("USER", "dev")
    monkeypatch.setenv("BAKERY_CACHE_DIR", str(tmp_path / "bakery-cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bake_a_flow_locks_it_then_pushes_one_image_per_environment(
    capsys, flow_dir, base_images, shared_cache
):
    (flow_dir / "flow.py").write_text(SIX_FLOW)
    common = ["flow.py", "--registry", f"{base_images.host}/cli/flow-envs"]
    common += ["--base", base_images.oci, "--cache-dir", str(shared_cache)]
    results = bake_json(capsys, *common)
    assert (flow_dir / "flow.bakery.lock").is_file()
    by_step = {step: env_id for env_id, r in results.items() for step in r["steps"]}
    assert set(by_step) == {"start", "end"} and len(results) == 2
    start = results[by_step["start"]]
    with RegistryClient(base_images.host) as client:
        name, tag = start["image"].split("/", 1)[1].rsplit(":", 1)
        assert client.head_manifest(name, tag) == start["digest"]
    assert main(["image", "show", start["reference"], "--json"]) == 0
    assert "six==1.17.0" in json.loads(capsys.readouterr().out)["packages"]

    again = bake_json(capsys, *common)
    assert again.keys() == results.keys()
    assert all(r["up_to_date"] and r["bytes_uploaded"] == 0 for r in again.values())
    assert again[by_step["start"]]["reference"] == start["reference"]


def test_bake_a_flow_prints_each_step_and_its_image(capsys, flow_dir, base_images, shared_cache):
    (flow_dir / "flow.py").write_text(SIX_FLOW)
    args = ["bake", "flow.py", "--registry", f"{base_images.host}/cli/flow-text"]
    args += ["--base", base_images.oci, "--cache-dir", str(shared_cache), "--step", "start"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"start: {base_images.host}/cli/flow-text:" in out and "end:" not in out


def test_a_flow_that_fails_to_load_is_one_clean_error(capsys, flow_dir, base_images):
    (flow_dir / "broken.py").write_text("from metaflow import FlowSpec\nimport no_such_module_x\n")
    args = ["bake", "broken.py", "--registry", f"{base_images.host}/x", "--base", base_images.oci]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert 'broken.py", line 2' in err and "No module named 'no_such_module_x'" in err
    assert "Traceback" not in err and "bakery lock` failed" not in err  # not our command line


def test_bake_needs_a_flow_or_a_lockfile(capsys, lockfile):
    assert main(["bake", "--registry", "127.0.0.1:9/x", "--base", "b"]) == 1
    assert "flow file" in capsys.readouterr().err
    both = ["bake", "flow.py", "--lock", str(lockfile), "--registry", "127.0.0.1:9/x"]
    assert main([*both, "--base", "b"]) == 1
    assert "--lock" in capsys.readouterr().err
