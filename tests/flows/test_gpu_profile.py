"""@gpu_profile in real flows: the card (live and final), the artifacts, and a step that runs
as without the decorator when there is no GPU, no NVML, or NVML fails mid-run.

This machine has no GPU: the GPU path uses tests/profilers/fake_pynvml.py, copied beside the
flow as `pynvml.py` (the flow's folder comes first on a local task's sys.path)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.fixtures.cards import (
    card_components,
    card_text,
    components_of_type,
    data_text,
    get_card,
    live_card_data,
    local_card_root,
    running_flow,
)

pytestmark = [pytest.mark.slow]

FAKE_PYNVML = Path(__file__).parents[1] / "profilers" / "fake_pynvml.py"

FLOW = """
import json, time
from metaflow import FlowSpec, card, current, resources, retry, step
from metaflow.cards import Markdown
from metaflow.profilers import gpu_profile
from metaflow import gpu_profile as same_as_outerbounds_alias
assert gpu_profile is same_as_outerbounds_alias

class ProfiledFlow(FlowSpec):
    @gpu_profile(interval=0.2, card_interval=1)
    @resources(gpu=1)
    @card(type="blank", refresh_interval=1, id="status")
    @step
    def start(self):
        current.card["status"].append(Markdown("working"))
        time.sleep(float(__import__("os").environ.get("STEP_SECONDS", "1")))
        self.result = 42
        self.next(self.end)

    @step
    def end(self):
        print("ARTIFACTS", json.dumps({
            "result": self.result,
            "num_gpus": self.gpu_profile_num_gpus,
            "data": self.gpu_profile_data,
        }))

if __name__ == "__main__":
    ProfiledFlow()
"""


def _artifacts(output: str) -> dict:
    line = next(line for line in output.splitlines() if "ARTIFACTS " in line)
    return json.loads(line.split("ARTIFACTS ", 1)[1])


def _with_fake_gpus(flows, name: str, source: str = FLOW) -> Path:
    flow = flows.write(name, source)
    shutil.copy(FAKE_PYNVML, flow.parent / "pynvml.py")
    return flow


def test_without_a_gpu_the_step_runs_and_the_card_says_what_was_missing(flows):
    flow = flows.write("profiled.py", FLOW)
    result = flows.run(flow, environment="local").check()
    artifacts = _artifacts(result.output)
    assert artifacts["result"] == 42 and artifacts["num_gpus"] == 0
    reason = (
        "NVML could not start (libnvidia-ml.so not found: no NVIDIA driver here); "
        "nvidia-smi not found on PATH"
    )
    assert artifacts["data"]["error"] == reason and artifacts["data"]["profile"] == {}
    text = get_card(flows, flow, "start", "gpu_profile", "local")
    assert "# GPU profile for `ProfiledFlow/" in text
    assert "**No GPU profile:** %s. The step ran without GPU sampling." % reason in text
    assert "working" in get_card(flows, flow, "start", "status", "local")  # the user's card too


@pytest.mark.compat
def test_gpus_are_sampled_onto_a_live_card_and_into_artifacts(flows):
    flow = _with_fake_gpus(flows, "profiled.py")
    cards = local_card_root(flows)
    with running_flow(
        flows, flow, environment="local", FAKE_NVML_GPUS="2", STEP_SECONDS="8", **cards
    ) as run:
        pathspec = run.task_pathspec("ProfiledFlow", "start")
        live, deadline = "", time.monotonic() + 60
        while "| `00000000:19:00.0` |" not in live and time.monotonic() < deadline:
            live = data_text(live_card_data(flows, pathspec, "gpu_profile"))
            time.sleep(0.5)
        assert run.running(), "the card's data was only readable after the task"
        assert "Sampling 2 GPUs every 0.2 s through NVML." in live
    assert "live card updates go through `card create` processes" not in run.output
    html = flows.run(
        flow, "card", "get", "start", "--id", "gpu_profile", environment="local", **cards
    )
    text = "\n".join(c.get("source", "") for c in components_of_type(html.stdout, "markdown"))
    assert "| `00000000:18:00.0` |" in text and "| 45 °C | 250.0 W |" in text
    assert "_Sampling used 0." in text  # what profiling cost, on the final card
    tables = [c for c in components_of_type(html.stdout, "table") if c.get("columns")]
    assert ["550.54.15", "12.4"] in tables[0]["data"]
    charts = components_of_type(html.stdout, "vegaChart")
    assert len(charts) == 2 and len(charts[0]["spec"]["data"]["values"]) > 10
    artifacts = _artifacts(run.output)
    assert artifacts["num_gpus"] == 2
    data = artifacts["data"]
    assert (data["backend"], data["driver_version"], data["cuda_version"]) == (
        "NVML",
        "550.54.15",
        "12.4",
    )
    assert data["error"] is None and 0 < data["sampler_cpu_seconds"] < 1
    assert [d["name"] for d in data["devices"]] == ["NVIDIA H100 80GB HBM3"] * 2
    series = data["profile"]["00000000:18:00.0"]
    assert len(series["timestamp"]) >= 20  # 8 s every 0.2 s
    assert {len(v) for v in series.values()} == {len(series["timestamp"])}
    assert card_components(html.stdout)  # the final card is a whole card, not an error card


def test_nvml_failing_mid_run_leaves_the_step_alone(flows):
    flow = _with_fake_gpus(flows, "profiled.py")
    result = flows.run(
        flow, environment="local", FAKE_NVML_FAIL_AFTER="3", STEP_SECONDS="3"
    ).check()
    artifacts = _artifacts(result.output)
    assert artifacts["result"] == 42
    assert "after 3 readings: NVML: GPU is lost" in artifacts["data"]["error"]
    assert len(artifacts["data"]["profile"]["00000000:18:00.0"]["timestamp"]) == 3
    text = get_card(flows, flow, "start", "gpu_profile", "local")
    assert "**Sampling stopped:** NVML stopped answering at" in text
    assert "| `00000000:18:00.0` | 3 |" in text


RETRIED = FLOW.replace(
    "    @resources(gpu=1)\n",
    "    @retry(times=1, minutes_between_retries=0)\n",
).replace(
    "        self.result = 42\n",
    "        if current.retry_count == 0:\n"
    "            raise RuntimeError('first attempt fails')\n"
    "        self.result = 42\n",
)


def test_with_retry_each_attempt_keeps_its_own_profile_card(flows):
    """As for any live card, the failed attempt's card stays beside the one of the attempt
    that succeeded (Metaflow keeps cards per task): `card get --hash` reads each."""
    flow = _with_fake_gpus(flows, "retried.py", RETRIED)
    result = flows.run(flow, environment="local").check()
    assert "first attempt fails" in result.output
    assert _artifacts(result.output)["num_gpus"] == 1
    listed = flows.run(flow, "card", "list", "start", "--id", "gpu_profile", environment="local")
    hashes = re.findall(r"Card Hash: (\w+)", listed.check().output)
    attempts = set()
    for card_hash in hashes:
        html = flows.run(flow, "card", "get", "start", "--hash", card_hash, environment="local")
        attempts |= set(re.findall(r"attempt (\d)_", card_text(html.check().stdout)))
    assert len(hashes) == 2 and attempts == {"0", "1"}


@pytest.mark.compat
@pytest.mark.network
def test_pynvml_travels_in_the_code_package_to_environments_without_it(flows):
    """The step's @pypi environment has no nvidia-ml-py: NVML is still reached (and finds no
    driver here), rather than the card blaming a missing package."""
    source = FLOW.replace(
        "class ProfiledFlow", '@pypi_base(packages={"six": "1.17.0"})\nclass ProfiledFlow'
    ).replace("from metaflow import FlowSpec,", "from metaflow import pypi_base, FlowSpec,")
    flow = flows.write("profiled.py", source)
    listed = flows.run(flow, "package", "list").check()
    assert "pynvml.py" in listed.output
    result = flows.run(flow).check()
    assert "NVML could not start (libnvidia-ml.so" in _artifacts(result.output)["data"]["error"]
    assert "is not installed" not in result.output


def test_a_bad_argument_is_one_clear_error(flows):
    flow = flows.write("bad.py", FLOW.replace("interval=0.2,", "interval=0,"))
    result = flows.run(flow, environment="local")
    assert result.returncode != 0
    assert "@gpu_profile(interval=0): give a positive number of seconds" in result.output
    assert "Traceback" not in result.output


KUBERNETES = """
from metaflow import FlowSpec, card, kubernetes, resources, retry, step
from metaflow.profilers import gpu_profile

class GpuPodFlow(FlowSpec):
    @gpu_profile(interval=1)
    @retry(times=2)
    @card(type="blank", id="status")
    @resources(gpu=1, memory=8000)
    @kubernetes(image="docker.io/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    GpuPodFlow()
"""


@pytest.mark.network
def test_with_kubernetes_the_pod_asks_for_the_gpu_and_the_card_goes_along(flows, s3_datastore):
    """Deployed to Argo (no cluster here: the manifest is the evidence): the GPU request, the
    retries are there, and the code package carries pynvml for the pod."""
    from tests.flows.test_fast_bakery import argo_create

    flow = flows.write("gpupod.py", KUBERNETES)
    result = argo_create(flows, flow, s3_datastore, environment="local").check()
    manifest = json.loads(result.stdout[result.stdout.index("{") :])
    (start,) = [t for t in manifest["spec"]["templates"] if t["name"] == "start"]
    assert start["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert start["retryStrategy"]["limit"] == 2
    listed = flows.run(flow, "package", "list", environment="local", **s3_datastore).check()
    assert "pynvml.py" in listed.output
