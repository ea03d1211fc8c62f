"""A container's environment goes through a private env file or the runtime's environment.

The unit tests check which route each value takes and the file's life; the podman tests run real
containers through a `podman` wrapper that records its argv and the env file's modes, and check
that every value arrives byte for byte while no argument holds one.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest

from bakery.container import (
    ENV_FILE_LINE_LIMIT,
    ContainerRuntime,
    RunSpec,
    env_handoff,
    fits_env_file,
    run_container,
)
from tests.fixtures.argv_watch import holds, recorded_calls, recording_wrapper

# every shape a value may have: what an env file carries, and what only an environment can
AWKWARD = {
    "EQUALS": "a=b=c",
    "SPACES": "  two  spaces  ",
    "QUOTES": "it's \"quoted\" 'twice'",
    "QUOTED_WHOLE": '"whole"',  # newer docker CLIs strip quotes that open and close a value
    "JSON": json.dumps({"x-api-key": "k3y=v", "nested": {"list": [1, "two"]}}),
    "NEWLINE": "line one\nline two=2\n",
    "CARRIAGE": "dos\r\nline",
    "HASH": "#not a comment",
    "DOLLAR": "$HOME ${PATH} `id`",
    "UNICODE": "naïve ☃",
    "EMPTY": "",
    "HUGE": "x" * (ENV_FILE_LINE_LIMIT + 10),
}
THROUGH_ENVIRONMENT = {"QUOTED_WHOLE", "NEWLINE", "CARRIAGE", "HUGE"}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_each_value_takes_the_route_that_carries_it(name):
    assert fits_env_file(name, AWKWARD[name]) == (name not in THROUGH_ENVIRONMENT)


def test_the_env_file_is_private_literal_and_gone_afterwards():
    with env_handoff(AWKWARD) as handoff:
        path = handoff.env_file
        assert handoff.args[0] == f"--env-file={path}"
        assert sorted(handoff.args[1:]) == sorted(f"--env={n}" for n in THROUGH_ENVIRONMENT)
        assert set(handoff.runtime_env) == THROUGH_ENVIRONMENT
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines == [f"{n}={v}" for n, v in AWKWARD.items() if n not in THROUGH_ENVIRONMENT]
    assert not path.exists() and not path.parent.exists()


def test_the_env_file_is_removed_when_the_run_fails():
    with pytest.raises(RuntimeError), env_handoff({"A": "1"}) as handoff:
        raise RuntimeError("the runtime failed")
    assert not handoff.env_file.parent.exists()


def test_no_env_file_when_nothing_fits_one():
    with env_handoff({"MULTI": "a\nb"}) as handoff:
        assert handoff.env_file is None
        assert handoff.args == ("--env=MULTI",)
    with env_handoff({}) as handoff:
        assert handoff == type(handoff)()


@pytest.mark.slow
@pytest.mark.container
def test_every_value_reaches_the_container_exactly_and_none_is_on_argv(
    podman, base_image, tmp_path
):
    wrapper, log = recording_wrapper(tmp_path / "bin", "podman", podman.executable)
    runtime = ContainerRuntime(kind="podman", executable=str(wrapper))
    dump = "import json, os; print(json.dumps({n: os.environ.get(n) for n in %r}))" % sorted(
        AWKWARD
    )
    spec = RunSpec(image=base_image, command=["python3", "-c", dump], env=AWKWARD)
    result = run_container(spec, stream=False, runtime=runtime)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == AWKWARD
    runs = [call for call in recorded_calls(log) if call["argv"][0] == "run"]
    assert len(runs) == 1
    assert not holds(runs[0]["argv"], [value for value in AWKWARD.values() if value])
    (path, modes), *_ = runs[0]["env_files"].items()
    assert modes == [0o600, 0o700]
    assert not Path(path).exists() and not Path(path).parent.exists()


def test_a_runtime_that_cannot_start_leaves_no_env_file(tmp_path, monkeypatch):
    failing = tmp_path / "podman"
    failing.write_text("#!/bin/sh\nexit 125\n")
    failing.chmod(0o755)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    runtime = ContainerRuntime(kind="podman", executable=str(failing))
    spec = RunSpec(image="example.invalid/x:1", command=["true"], env={"API_TOKEN": "t0k"})
    result = run_container(spec, stream=False, pull_first=False, runtime=runtime)
    assert result.exit_code == 125
    assert os.listdir(tmp_path / "tmp") == []
