"""The workstation image as the default for remote steps that name none (one log line), the
user's image still winning; the policy names it as the workstation image."""

from __future__ import annotations

import json

import pytest

from tests.flows.test_fast_bakery import FLOW, argo_create, own_prefix

pytestmark = [pytest.mark.slow, pytest.mark.network]

WORKSTATION = "registry.example.com/platform/workstation:2026.11"


def test_remote_steps_default_to_the_workstation_image(flows, s3_datastore):
    flow = flows.write("ws.py", FLOW.replace('@pypi(packages={"tabulate": "0.9.0"})', ""))
    result = argo_create(
        flows,
        flow,
        own_prefix(s3_datastore),
        "local",
        METAFLOW_BAKERY_WORKSTATION_IMAGE=WORKSTATION,
    ).check()
    manifest = json.loads(result.stdout[result.stdout.index("{") :])
    images = {
        t["name"]: t["container"]["image"]
        for t in manifest["spec"]["templates"]
        if "container" in t
    }
    assert images["start"] == images["end"] == WORKSTATION
    assert images["middle"] == "docker.io/library/python:3.11"  # the user's image wins
    assert result.output.count("run in the workstation image %s" % WORKSTATION) == 1


def test_the_policy_names_the_workstation_image(flows, s3_datastore, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('version = 1\n[images]\nallowed = ["docker.io/library/python:*"]\n')
    flow = flows.write("wsp.py", FLOW.replace('@pypi(packages={"tabulate": "0.9.0"})', ""))
    result = argo_create(
        flows,
        flow,
        own_prefix(s3_datastore),
        "local",
        METAFLOW_BAKERY_WORKSTATION_IMAGE=WORKSTATION,
        BAKERY_POLICY_FILE=str(policy),
    )
    assert result.returncode != 0
    assert WORKSTATION in result.output and "Refused by the perimeter policy" in result.output
