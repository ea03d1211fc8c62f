"""No secret is ever on a command line during a run: index credentials, the metadata service's
API key (`METAFLOW_SERVICE_HEADERS`) and `@environment` values.

Each run is watched two ways (tests/fixtures/argv_watch.py): a thread polls every process's
/proc/PID/cmdline on the machine, and uv and podman run through wrappers that record their argv
(and the modes of the env file podman is handed). The secrets are random, so only this run's
processes could hold them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
from pathlib import Path

import pytest

from bakery.uvbin import uv_binary
from tests.fixtures.argv_watch import ArgvWatch, holds, recorded_calls, recording_wrapper
from tests.fixtures.private_index import serve_private_index

pytestmark = [pytest.mark.slow]

FLOW = """
from metaflow import FlowSpec, environment, pypi_base, step

@pypi_base(packages={{"bakery-private-pkg": "1.0"}})
class SecretFlow(FlowSpec):
    @environment(vars={{"API_TOKEN": {token!r}, "AWKWARD": {awkward!r}}})
    @step
    def start(self):
        import hashlib, os
        import bakery_private_pkg
        for name in ("API_TOKEN", "AWKWARD", "METAFLOW_SERVICE_HEADERS"):
            value = os.environ.get(name, "<unset>").encode()
            print("sha256", name, hashlib.sha256(value).hexdigest())
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SecretFlow()
"""


class Secrets:
    """This run's secrets, random, and the settings that carry them."""

    def __init__(self) -> None:
        self.username = f"user-{secrets.token_hex(6)}"
        self.password = f"pw@{secrets.token_hex(8)}:x"  # '@' and ':' percent-encoded in a URL
        self.token = f"tok-{secrets.token_hex(12)}"
        self.api_key = f"key-{secrets.token_hex(12)}"
        # a value an env file cannot carry (a line break) with '=', quotes, spaces and JSON
        self.awkward = 'a=b "q" \'s\' {"json": [1, 2]}\nline two ' + f"awk-{secrets.token_hex(8)}"
        self.headers = json.dumps({"x-api-key": self.api_key})

    def values(self) -> list[str]:
        return [
            self.username,
            self.password,
            self.token,
            self.api_key,
            self.awkward,
            self.awkward.split("\n")[1],
            self.headers,
        ]

    def flow(self) -> str:
        return FLOW.format(token=self.token, awkward=self.awkward)

    def expected_hashes(self) -> dict[str, str]:
        values = {"API_TOKEN": self.token, "AWKWARD": self.awkward}
        values["METAFLOW_SERVICE_HEADERS"] = self.headers
        return {name: hashlib.sha256(v.encode()).hexdigest() for name, v in values.items()}


def printed_hashes(output: str) -> dict[str, str]:
    return dict(re.findall(r"sha256 (\w+) ([0-9a-f]{64})", output))


@pytest.fixture
def secret(tmp_path) -> Secrets:
    return Secrets()


@pytest.fixture
def index(secret, tmp_path):
    with serve_private_index(tmp_path / "index", secret.username, secret.password) as served:
        yield served


def test_a_local_run_puts_no_secret_on_any_command_line(flows, secret, index, tmp_path):
    uv, uv_log = recording_wrapper(tmp_path / "bin", "uv", uv_binary())
    flow = flows.write("secret.py", secret.flow())
    with ArgvWatch() as watch:
        result = flows.run(
            flow,
            PIP_EXTRA_INDEX_URL=index.url,
            METAFLOW_SERVICE_HEADERS=secret.headers,
            BAKERY_UV=str(uv),
            UV_CACHE_DIR=str(tmp_path / "uv-cache"),  # uv fetches from the index: no cached copy
        )
    result.check()
    assert printed_hashes(result.output) == secret.expected_hashes()
    uv_calls = [call["argv"] for call in recorded_calls(uv_log)]
    assert {tuple(argv[:2]) for argv in uv_calls} >= {("pip", "compile"), ("pip", "install")}
    assert not [argv for argv in uv_calls if holds(argv, secret.values())]
    assert watch.holding(*secret.values()) == []
    assert any("secret.py" in " ".join(argv) for argv in watch.command_lines())


@pytest.mark.network
@pytest.mark.container
def test_a_container_run_puts_no_secret_on_any_command_line(
    flows, secret, index, base_images, tmp_path
):
    uv, uv_log = recording_wrapper(tmp_path / "bin", "uv", uv_binary())
    runtime, podman_log = recording_wrapper(tmp_path / "bin", "podman", shutil.which("podman"))
    flow = flows.write("secret.py", secret.flow())
    with ArgvWatch() as watch:
        result = flows.run(
            flow,
            "run",
            "--with",
            "container",
            environment="fast-bakery",
            PIP_EXTRA_INDEX_URL=index.url,
            METAFLOW_SERVICE_HEADERS=secret.headers,
            BAKERY_UV=str(uv),
            BAKERY_CONTAINER_RUNTIME=str(runtime),
            METAFLOW_DEFAULT_DATASTORE="local",
            METAFLOW_BAKERY_REGISTRY=f"{base_images.host}/secret/envs",
            METAFLOW_BAKERY_BASE_IMAGE=base_images.oci,
            BAKERY_CONTAINER_ARGS="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024",
            UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        )
    result.check()
    assert printed_hashes(result.output) == secret.expected_hashes()

    uv_calls = [call["argv"] for call in recorded_calls(uv_log)]
    assert ["pip", "compile"] in [argv[:2] for argv in uv_calls]
    runs = [call for call in recorded_calls(podman_log) if call["argv"][:1] == ["run"]]
    assert len(runs) == 2  # start and end, each in its container
    for call in [*uv_calls, *(run["argv"] for run in runs)]:
        assert not holds(call, secret.values()), call
    for run in runs:
        (env_file, modes), *others = run["env_files"].items()
        assert not others and modes == [0o600, 0o700]
        assert not Path(env_file).exists() and not Path(env_file).parent.exists()
    # start's one value an env file cannot carry went by name, its value in podman's environment
    assert sum("--env=AWKWARD" in run["argv"] for run in runs) == 1

    assert watch.holding(*secret.values()) == []
    seen_runs = [argv for argv in watch.command_lines() if argv[1:2] == ["run"]]
    assert any(argv[0].endswith("podman") for argv in seen_runs), "the watch missed podman"
