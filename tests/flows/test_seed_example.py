"""The documentation's seed example, runnable here: examples/torchtest.py imports with only
Bakery installed, and examples/squarings.py (the same flow with NumPy) runs in every
environment Bakery offers, its live `status` card readable while the task runs and final after
it, beside its `gpu_profile` card (which says there is no GPU here)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.cards import (
    card_text,
    get_card,
    live_card_data,
    local_card_root,
    running_flow,
    s3_card_data,
    view_card,
    wait_for_live_text,
)
from tests.fixtures.conda_channel import free_port
from tests.flows.test_container import container_env  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow]

EXAMPLES = Path(__file__).parents[2] / "examples"
NO_GPU = "**No GPU profile:** NVML could not start (libnvidia-ml.so not found"


def _example(flows, name: str) -> Path:
    return Path(shutil.copy(EXAMPLES / name, flows.folder / name))


@pytest.mark.compat
def test_torchtest_imports_and_fails_only_at_import_torch(flows):
    """Without PyTorch installed, the documentation's flow validates, starts its step, and
    fails there, at `import torch`: `metaflow.profilers` is found."""
    flow = _example(flows, "torchtest.py")
    flows.run(flow, "show", environment="local").check()
    result = flows.run(flow, environment="local")
    assert result.returncode != 0
    assert "[%s/start/1 " % re.search(r"run-id (\d+)", result.output).group(1) in result.output
    assert "in create_tensor" in result.output and "import torch" in result.output
    assert "ModuleNotFoundError: No module named 'torch'" in result.output
    assert "metaflow.profilers" not in result.output


def test_torchtest_with_the_gpu_lines_uncommented_validates(flows):
    flow = _example(flows, "torchtest.py")
    source = flow.read_text()
    for line in ("# @gpu_profile()", "# @resources(gpu=1, memory=8000)"):
        assert line in source
        source = source.replace(line, line.replace("# ", "", 1))
    flow.write_text(source)
    flows.run(flow, "show", environment="local").check()


def _run_squarings(flows, flow, environment, read_live, *args, **env):
    """Run the squarings flow; while its task runs, its status card's data update must already
    count squarings; returns the run's output."""
    with running_flow(
        flows, flow, "run", "--seconds", "8", *args, environment=environment, **env
    ) as run:
        pathspec = run.task_pathspec("SquaringsFlow", "start")
        wait_for_live_text(run, lambda: read_live(pathspec), "squarings completed")
    return run.output


def _check_final_cards(flows, flow, environment, **env):
    status = get_card(flows, flow, "start", "status", environment, **env)
    assert re.search(r"# \d+ squarings completed", status), status
    assert re.search(r"⚡ [\d.]+ squarings per second ⚡", status), status
    profile = get_card(flows, flow, "start", "gpu_profile", environment, **env)
    assert "# GPU profile for `SquaringsFlow/" in profile and NO_GPU in profile


@pytest.mark.network
def test_squarings_with_pypi(flows):
    flow = _example(flows, "squarings.py")
    local_card_root(flows)
    output = _run_squarings(flows, flow, "pypi", lambda p: live_card_data(flows, p, "status"))
    assert "squarings per second" in output
    _check_final_cards(flows, flow, "pypi")
    viewed = view_card(flows, flow, "start", "status", "pypi")
    assert re.search(r"# \d+ squarings completed", viewed), viewed
    served = _served_cards(flows, flow, "pypi")
    assert set(served) == {"status", "gpu_profile"}
    assert "squarings per second" in served["status"] and NO_GPU in served["gpu_profile"]


def _served_cards(flows, flow, environment) -> dict[str, str]:
    """`python flow.py card server`: the latest run's cards, by id, as the viewer fetches them."""
    port = free_port()
    cmd = [flows.python, flow.name, f"--environment={environment}", "card", "server"]
    server = subprocess.Popen(
        [*cmd, "--port", str(port)],
        cwd=flows.folder,
        env=flows.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/runinfo", timeout=5) as answer:
                    runinfo = json.loads(answer.read())
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no card server"
                time.sleep(0.5)
        cards = {}
        for card in runinfo["cards"]:
            with urllib.request.urlopen(base + "/card/" + card["card"], timeout=30) as answer:
                cards[card["card_object"]["id"]] = card_text(answer.read().decode())
        return cards
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.network
def test_squarings_with_conda_from_a_local_channel(flows, conda_channels):
    """Our test channel has no NumPy: Python (and tinylib) come from the local conda channel,
    NumPy from PyPI on top, as @conda_base + @pypi_base mix them."""
    flow = _example(flows, "squarings.py")
    source = flow.read_text().replace(
        '@pypi_base(packages={"numpy"',
        '@conda_base(libraries={"tinylib": "1.0"})\n@pypi_base(packages={"numpy"',
    )
    flow.write_text(source.replace("from metaflow import ", "from metaflow import conda_base, "))
    local_card_root(flows)
    channels = {"CONDA_CHANNELS": conda_channels.main}
    output = _run_squarings(
        flows, flow, "conda", lambda p: live_card_data(flows, p, "status"), **channels
    )
    assert "squarings per second" in output
    lock = (flows.folder / "squarings.bakery.lock").read_text()
    assert '"kind": "conda"' in lock and '"name": "numpy"' in lock
    _check_final_cards(flows, flow, "conda", **channels)


@pytest.mark.network
@pytest.mark.container
def test_squarings_in_a_fast_bakery_image(flows, container_env):  # noqa: F811
    flow = _example(flows, "squarings.py")
    output = _run_squarings(
        flows,
        flow,
        "fast-bakery",
        lambda p: s3_card_data(container_env, p, "status"),
        "--with",
        "container",
        **container_env,
    )
    assert "baked in" in output or "up to date" in output
    assert "Bootstrapping Bakery environment" not in output  # the image has the environment
    _check_final_cards(flows, flow, "fast-bakery", **container_env)


@pytest.mark.network
@pytest.mark.container
def test_squarings_in_a_third_party_image(flows, container_env, base_images, tmp_path):  # noqa: F811
    """A vendor's image (Python with boto3 and requests, as Metaflow needs; no NumPy): the step's
    environment is rebuilt in it from the package snapshot, and both cards render there."""
    from bakery.image.bake import BakeOptions, bake
    from tests.image.locks import lock

    vendor = bake(
        lock(("boto3==1.35.0", "requests==2.32.3")),
        base=base_images.oci,
        repository=f"{base_images.host}/vendor/python-aws",
        options=BakeOptions(
            cache_dir=tmp_path / "vendor",
            progress=False,
            env={"METAFLOW_SKIP_INSTALL_DEPENDENCIES": "1"},
        ),
    ).reference
    env = {k: v for k, v in container_env.items() if not k.startswith("METAFLOW_BAKERY_")}
    flow = _example(flows, "squarings.py")
    output = _run_squarings(
        flows,
        flow,
        "pypi",
        lambda p: s3_card_data(env, p, "status"),
        "--with",
        f"container:image={vendor}",
        **env,
    )
    assert "Bootstrapping Bakery environment" in output
    _check_final_cards(flows, flow, "pypi", **env)
