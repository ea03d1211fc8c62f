"""`bakery lock` and `bakery bake` obey the perimeter policy: on-the-fly environments are not
locked under `on_the_fly = false`, images are baked only on allowed bases and pushed only to the
allowed registry, and each refusal names the files in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.cli.main import main
from bakery.lock import Lockfile, write_lock
from tests.fixtures.conda_channel import free_port
from tests.fixtures.flows import two_step_flow
from tests.image.locks import lock


def policy_file(folder: Path, text: str) -> Path:
    path = folder / "policy.toml"
    path.write_text("version = 1\n" + text)
    return path


def refusal(capsys) -> str:
    err = capsys.readouterr().err
    assert "error:" in err
    return " ".join(err.split())  # the console wraps long lines


@pytest.mark.slow
def test_lock_refuses_on_the_fly_packages(capsys, tmp_path, monkeypatch):
    policy = policy_file(tmp_path, "[dependencies]\non_the_fly = false\n")
    monkeypatch.setenv("BAKERY_POLICY_FILE", str(policy))
    flow = tmp_path / "locked.py"
    flow.write_text(two_step_flow("LockedFlow", start='@pypi(packages={"tabulate": "0.9.0"})'))
    monkeypatch.setenv("USER", "dev")
    assert main(["lock", str(flow)]) == 1
    message = refusal(capsys)
    assert "@pypi(packages={'tabulate': '0.9.0'})" in message and "on_the_fly = false" in message
    assert f"Policy file in force: {policy}" in message
    assert not (tmp_path / "locked.bakery.lock").exists()


def test_bake_refuses_a_registry_outside_the_policy_before_anything_else(
    capsys, tmp_path, monkeypatch
):
    policy = policy_file(tmp_path, '[bake]\nregistry = "registry.example.com/team"\n')
    monkeypatch.setenv("BAKERY_POLICY_FILE", str(policy))
    missing = tmp_path / "never-read.bakery.lock"
    assert main(["bake", "--lock", str(missing), "--registry", "127.0.0.1:5000/elsewhere"]) == 1
    message = refusal(capsys)
    assert "127.0.0.1:5000/elsewhere" in message and "registry.example.com/team" in message
    assert f"{policy} (BAKERY_POLICY_FILE in the environment" in message
    assert "no lockfile" not in message


@pytest.mark.network
def test_bake_refuses_a_base_image_the_policy_does_not_allow(capsys, tmp_path, monkeypatch):
    registry = f"127.0.0.1:{free_port()}"  # nothing listens: a bake that started would fail
    policy = policy_file(
        tmp_path,
        f'[images]\nallowed = ["{registry}/allowed/*"]\n[bake]\nregistry = "{registry}/allowed"\n',
    )
    monkeypatch.setenv("BAKERY_POLICY_FILE", str(policy))
    lockfile = Lockfile(flow="flow.py")
    lockfile.set_step("start", lock(("idna==3.10",)))
    path = tmp_path / "flow.bakery.lock"
    write_lock(lockfile, path)
    args = ["bake", "--lock", str(path), "--registry", f"{registry}/allowed/envs"]
    assert main([*args, "--base", "docker.io/library/ubuntu:22.04"]) == 1
    message = refusal(capsys)
    assert "step 'start': image 'docker.io/library/ubuntu:22.04'" in message
    assert "the base image of `bakery bake` (--base)" in message

    assert main(args) == 1  # the default base, python:3.11-slim, is not allowed either
    message = refusal(capsys)
    assert "python:3.11-slim" in message and "the default for the environment's Python" in message
