"""`--with container` on the local datastore: no S3, the datastore mounted into each task's
container at its own path, artifacts flowing between steps, `bakery verify` green, and what the
container wrote handed back to the datastore's owner."""

from __future__ import annotations

import json
import os
import re

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.container]

FLOW = """
from metaflow import FlowSpec, card, pypi, step

class FanFlow(FlowSpec):
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        import os
        self.value = self.input * self.input
        self.image = os.environ.get("METAFLOW_CONTAINER_IMAGE")
        self.next(self.join)

    @card
    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.images = sorted({i.image for i in inputs})
        print("join added", self.total, "from", self.images)
        self.next(self.end)

    @step
    def end(self):
        print("end read", self.total)

if __name__ == "__main__":
    FanFlow()
"""

HOST_USER = 4242  # owns the datastore; the flow itself runs as root, as podman needs here


@pytest.fixture
def local_env(base_images):
    return {
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_BAKERY_REGISTRY": f"{base_images.host}/fan/envs",
        "METAFLOW_BAKERY_BASE_IMAGE": base_images.oci,
        "BAKERY_CONTAINER_ARGS": "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024",
    }


def test_a_foreach_runs_in_baked_images_on_the_local_datastore(flows, local_env, base_images):
    root = flows.folder / "datastore" / ".metaflow"
    root.mkdir(parents=True)
    for folder in (root.parent, root):
        os.chown(folder, HOST_USER, HOST_USER)
    flow = flows.write("fan.py", FLOW)

    result = flows.run(flow, "run", "--with", "container", environment="fast-bakery", **local_env)

    result.check()
    registry = f"{base_images.host}/fan/envs"
    images = re.search(r"join added 14 from \[(.*)\]", result.output).group(1).split(", ")
    assert len(images) == 1 and images[0].strip("'").startswith(registry + ":")
    assert "end read 14" in result.output
    run_id = re.search(r"run-id (\d+)", result.output).group(1)
    verified = flows.bakery("verify", f"FanFlow/{run_id}", "--json", **local_env)
    assert verified.returncode == 0, verified.output
    checks = json.loads(verified.stdout)
    assert len(checks) == 6 and {c["verdict"] for c in checks} == {"match"}
    assert all(c["image"].startswith(registry + ":") for c in checks)
    # the card the join task made in its container is where `card get` looks on this machine
    card = flows.run(flow, "card", "get", f"{run_id}/join", environment="fast-bakery")
    assert card.returncode == 0 and "<html" in card.stdout.lower(), card.output[-3000:]

    # everything a task wrote (its artifacts, logs, metadata, card) is the datastore owner's
    written = [p for p in (root / "FanFlow").rglob("*") if p.name.endswith(".data.json")]
    written += list((root / "FanFlow" / "data").rglob("*"))
    assert len(written) > 6
    not_handed_back = [str(p) for p in written if p.lstat().st_uid != HOST_USER]
    assert not not_handed_back, not_handed_back
